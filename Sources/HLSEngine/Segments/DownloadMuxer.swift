import CAV
import Foundation

/// `download.mp4`: one rung as a plain progressive MP4, for downloads and for browsers
/// without HLS. Remuxed, never re-encoded: its rendition worker hands it a reference to
/// every packet it gives the segment muxer (the rung's H.264 and the shared AAC), so it
/// costs a mux. `+faststart` moves the moov before the mdat when it finishes, so a
/// player starts before the whole file arrives.
///
/// Written as `download.mp4.part` and renamed when complete: a `download.mp4` that exists
/// is whole. A muxer that never finishes removes its part file.
final class DownloadMuxer {

    private let context: UnsafeMutablePointer<AVFormatContext>
    private let path: String
    private let partPath: String
    private let videoTimeBase: AVRational
    private let audioTimeBase: AVRational?
    /// One frame at the nominal rate: the duration a packet without one gets (the last).
    private let nominalFrameDuration: Int64
    private var finished = false
    private var opened = false
    let videoStreamIndex: Int32 = 0
    let audioStreamIndex: Int32 = 1

    init(directory: String, video: Encoder, audio: Encoder?) throws {
        path = directory + "/" + TranscodeResult.Download.fileName
        partPath = path + ".part"
        videoTimeBase = video.timeBase
        audioTimeBase = audio?.timeBase
        let rate = video.context.pointee.framerate
        nominalFrameDuration = rate.isValid ? max(1, av_rescale_q(1, av_inv_q(rate), video.timeBase)) : 1
        var context: UnsafeMutablePointer<AVFormatContext>? = nil
        // The name matters: +faststart reopens the file by it to move the moov.
        try check(avformat_alloc_output_context2(&context, nil, "mp4", partPath), "avformat_alloc_output_context2(mp4)")
        guard let context else { throw AVError(code: AVError.invalidData, operation: "avformat_alloc_output_context2") }
        self.context = context
        for encoder in [video, audio].compactMap({ $0 }) {
            guard let stream = avformat_new_stream(context, nil) else { throw AVError(code: AVError.outOfMemory, operation: "avformat_new_stream") }
            try check(avcodec_parameters_from_context(stream.pointee.codecpar, encoder.context), "avcodec_parameters_from_context")
            stream.pointee.time_base = encoder.timeBase
            if encoder === video { stream.pointee.avg_frame_rate = encoder.context.pointee.framerate }
        }
        try check(avio_open(&context.pointee.pb, partPath, AVIO_FLAG_WRITE), "avio_open(\(TranscodeResult.Download.fileName).part)")
        opened = true
        var options: OpaquePointer? = nil
        defer { av_dict_free(&options) }
        av_dict_set(&options, "movflags", "+faststart", 0)
        try check(avformat_write_header(context, &options), "avformat_write_header(mp4)")
    }

    deinit {
        if opened { avio_closep(&context.pointee.pb) }
        avformat_free_context(context)
        if !finished { unlink(partPath) }
    }

    /// Muxes a packet of the rung's video or of the audio. It takes `packet` (and
    /// rescales it), so pass a reference of your own.
    func write(_ packet: Packet, stream: Int32) throws {
        guard !finished, stream >= 0, stream < Int32(clamping: context.pointee.nb_streams),
              let target = context.pointee.streams[Int(stream)] else { return }
        let from = stream == videoStreamIndex ? videoTimeBase : (audioTimeBase ?? videoTimeBase)
        packet.pointer.pointee.stream_index = stream
        if stream == videoStreamIndex, packet.pointer.pointee.duration <= 0 { packet.pointer.pointee.duration = nominalFrameDuration }
        av_packet_rescale_ts(packet.pointer, from, target.pointee.time_base)
        try check(av_interleaved_write_frame(context, packet.pointer), "av_interleaved_write_frame(mp4)")
    }

    /// Writes the moov (moved to the front), closes the file and names it; returns its size.
    func finish() throws -> Int64 {
        guard !finished else { return 0 }
        try check(av_write_trailer(context), "av_write_trailer(mp4)")
        avio_closep(&context.pointee.pb)
        opened = false
        guard rename(partPath, path) == 0 else {
            throw TranscodeError.Reason.io("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        finished = true
        var info = stat()
        return stat(path, &info) == 0 ? Int64(info.st_size) : 0
    }
}
