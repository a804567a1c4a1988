import Foundation

/// Why a probe or a transcode failed, always naming the input.
///
/// `description` is the one line the CLI prints on stderr. `userMessage` is the same
/// reason without anything internal (paths, libav* function names), for a service to
/// show to the person who uploaded the file.
public struct TranscodeError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Error, Sendable, Equatable, CustomStringConvertible {
        /// The file is empty.
        case empty
        /// libavformat does not recognise the file as media.
        case notMedia(String)
        /// The file is media, but not a video container we open (a playlist, an
        /// ffconcat script, an image): such formats can name other files or URLs.
        case notVideoContainer(format: String)
        /// The file ends before the media it declares (an upload cut short).
        case truncated(decodedFrames: Int, declaredFrames: Int)
        /// The file has no video stream (an audio-only file, say).
        case noVideoStream
        /// No decoder for the video codec.
        case unsupportedCodec(String)
        /// A side above the limit; refused before anything that large is allocated.
        case dimensionsTooLarge(width: Int, height: Int, limit: Int)
        /// A value read from the file is outside what any real video has, e.g.
        /// "pixel aspect 2147483647:1". Refused before it reaches any arithmetic.
        case outOfRange(String)
        /// The video lasts longer than the configured limit (declared, or found while decoding).
        case tooLong(seconds: Double, limit: Double)
        /// An allocation failed (the transcoder's memory limit, or the machine's).
        case outOfMemory
        /// The input file cannot be read, or the output cannot be written.
        case io(String)
        /// Somebody cancelled the transcode (Task cancellation, Ctrl-C, `cancel()`).
        case cancelled
        /// Any other libav* failure.
        case ffmpeg(AVError)
        /// Split and stitch: a chunk that cannot be encoded or stitched as planned (a chunk
        /// past the end, a seek that does not land, init segments that differ).
        case chunking(String)

        public var description: String {
            switch self {
            case .empty: "the file is empty"
            case .notMedia(let detail): "not a media file (\(detail))"
            case .notVideoContainer(let format): "not a video container (\(format))"
            case .truncated(let decoded, let declared):
                "the file is truncated: \(decoded) of \(declared) video frames could be read"
            case .noVideoStream: "no video stream (audio-only or data file)"
            case .unsupportedCodec(let name): "unsupported video codec '\(name)'"
            case .dimensionsTooLarge(let width, let height, let limit):
                "video dimensions \(width)x\(height) exceed the \(limit) pixel limit per side"
            case .outOfRange(let what): "\(what) is out of range"
            case .tooLong(let seconds, let limit):
                "the video lasts \(Self.format(seconds)) s, over the \(Self.format(limit)) s limit"
            case .outOfMemory: "ran out of memory"
            case .io(let detail): detail
            case .cancelled: "cancelled"
            case .ffmpeg(let error): error.description
            case .chunking(let detail): detail
            }
        }

        /// The reason for the uploader: the same words, minus internals. I/O details
        /// and libav* operation names (which may carry paths) are left out.
        public var userMessage: String {
            switch self {
            case .notMedia: "not a media file"
            case .io: "the file could not be read or the output could not be written"
            case .ffmpeg(let error): "the video could not be processed (\(error.message))"
            default: description
            }
        }

        /// A split-and-stitch refusal (`.chunking`).
        public var isChunking: Bool {
            if case .chunking = self { true } else { false }
        }

        private static func format(_ seconds: Double) -> String {
            seconds.isFinite && seconds.rounded() == seconds ? String(Int64(seconds)) : String(format: "%.1f", seconds)
        }
    }

    /// The input path, as given.
    public let input: String
    public let reason: Reason

    public init(input: String, reason: Reason) {
        self.input = input
        self.reason = reason
    }

    public var description: String { "\(input): \(reason)" }

    /// True when retrying the same file cannot succeed (bad media rather than a fault).
    public var isBadMedia: Bool { reason.isBadMedia }
}

extension TranscodeError.Reason {
    /// True when retrying the same file cannot succeed (bad media rather than a fault).
    public var isBadMedia: Bool {
        switch self {
        case .empty, .notMedia, .notVideoContainer, .truncated, .noVideoStream, .unsupportedCodec,
             .dimensionsTooLarge, .outOfRange, .tooLong: true
        case .io, .cancelled, .ffmpeg, .outOfMemory, .chunking: false
        }
    }
}
