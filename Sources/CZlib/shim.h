// zlib (Debian: zlib1g-dev): gzip for playlists served by `vstream serve`.
// deflateInit2 is a macro; this wraps the whole one-shot gzip in a function.
#include <stddef.h>
#include <string.h>
#include <zlib.h>

/// Gzips `input` into `output` (capacity `*output_size`). Returns 0 and sets
/// `*output_size` on success, or a negative zlib code.
static inline int czlib_gzip(const unsigned char *input, size_t input_size, unsigned char *output, size_t *output_size) {
    z_stream stream;
    memset(&stream, 0, sizeof stream);
    // windowBits 15 + 16: a gzip wrapper rather than zlib's.
    int status = deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    if (status != Z_OK) return status;
    stream.next_in = (unsigned char *)input;
    stream.avail_in = (uInt)input_size;
    stream.next_out = output;
    stream.avail_out = (uInt)*output_size;
    status = deflate(&stream, Z_FINISH);
    *output_size = stream.total_out;
    deflateEnd(&stream);
    return status == Z_STREAM_END ? 0 : (status < 0 ? status : Z_BUF_ERROR);
}

/// An output capacity always large enough for `input_size` bytes.
static inline size_t czlib_gzip_bound(size_t input_size) {
    return input_size + input_size / 1000 + 64;
}
