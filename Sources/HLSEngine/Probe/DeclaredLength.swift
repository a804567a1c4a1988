import CAV
import Foundation

/// How long one stream of a file says it is. libavformat gives a stream that declares no
/// duration the file's (so in Matroska every stream reads as long as the longest), so the
/// per-track `DURATION` tag that ffmpeg and mkvmerge write in Matroska comes first; and a
/// duration it guessed from the bit rate is no declaration at all.
enum DeclaredLength {
    /// Seconds, or nil when the stream declares nothing usable.
    static func of(_ stream: UnsafeMutablePointer<AVStream>, in file: UnsafeMutablePointer<AVFormatContext>) -> Double? {
        if let entry = av_dict_get(stream.pointee.metadata, "DURATION", nil, 0), let value = entry.pointee.value,
           let seconds = parse(String(decoding: Data(bytes: value, count: strnlen(value, 64)), as: UTF8.self)) {
            return seconds
        }
        guard file.pointee.duration_estimation_method != AVFMT_DURATION_FROM_BITRATE else { return nil }
        let duration = stream.pointee.duration
        guard duration > 0, duration != noPTS else { return nil }
        let seconds = Double(duration) * stream.pointee.time_base.doubleValue
        return seconds.isFinite ? seconds : nil
    }

    /// "H:MM:SS.fraction", as Matroska's tag is written; nil for anything else.
    static func parse(_ text: String) -> Double? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3, let hours = Int(parts[0]), let minutes = Int(parts[1]), let seconds = Double(parts[2]),
              (0...1_000_000).contains(hours), (0..<60).contains(minutes), seconds >= 0, seconds < 60 else { return nil }
        return Double(hours) * 3600 + Double(minutes) * 60 + seconds
    }
}
