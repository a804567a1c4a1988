#ifndef VSTREAM_CAV_SHIM_H
#define VSTREAM_CAV_SHIM_H

// The one place where FFmpeg's C headers meet Swift. Macros and array fields
// that Swift cannot import are re-exported here as static inline functions.

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavformat/avio.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/avutil.h>
#include <libavutil/channel_layout.h>
#include <libavutil/display.h>
#include <libavutil/error.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>

static inline int cav_averror(int posix_errno) { return AVERROR(posix_errno); }
static inline int cav_error_eof(void) { return AVERROR_EOF; }
static inline int cav_error_eagain(void) { return AVERROR(EAGAIN); }
static inline int cav_error_invalid_data(void) { return AVERROR_INVALIDDATA; }
static inline int cav_error_decoder_not_found(void) { return AVERROR_DECODER_NOT_FOUND; }
static inline int cav_error_exit(void) { return AVERROR_EXIT; }
static inline int cav_error_io(void) { return AVERROR(EIO); }
static inline int cav_error_nomem(void) { return AVERROR(ENOMEM); }
static inline int cav_error_input_changed(void) { return AVERROR_INPUT_CHANGED; }
static inline int cav_avseek_size(void) { return AVSEEK_SIZE; }
static inline int cav_avseek_force(void) { return AVSEEK_FORCE; }
static inline int64_t cav_nopts_value(void) { return AV_NOPTS_VALUE; }
static inline int cav_time_base(void) { return AV_TIME_BASE; }
static inline AVRational cav_time_base_q(void) { return (AVRational){1, AV_TIME_BASE}; }

// AVFrame.data[] and .linesize[] are fixed C arrays; Swift sees tuples.
static inline uint8_t *cav_frame_plane(const AVFrame *f, int i) { return f->data[i]; }
static inline int cav_frame_linesize(const AVFrame *f, int i) { return f->linesize[i]; }

static inline AVChannelLayout cav_channel_layout_stereo(void) {
    AVChannelLayout l = AV_CHANNEL_LAYOUT_STEREO;
    return l;
}

// The display matrix of a stream (rotation metadata), or NULL.
static inline const int32_t *cav_stream_display_matrix(const AVStream *st) {
    size_t size = 0;
    const uint8_t *data = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &size);
    return (data && size >= 9 * sizeof(int32_t)) ? (const int32_t *)data : NULL;
}

#endif
