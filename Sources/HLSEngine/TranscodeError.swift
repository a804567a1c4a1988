/// Why a probe or a transcode failed, always naming the input.
///
/// `description` is the one line the CLI prints on stderr.
public struct TranscodeError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Error, Sendable, Equatable, CustomStringConvertible {
        /// The file is empty.
        case empty
        /// libavformat does not recognise the file as media.
        case notMedia(String)
        /// The file ends before the media it declares (an upload cut short).
        case truncated(decodedFrames: Int, declaredFrames: Int)
        /// The file has no video stream (an audio-only file, say).
        case noVideoStream
        /// No decoder for the video codec.
        case unsupportedCodec(String)
        /// A side above the limit; refused before anything that large is allocated.
        case dimensionsTooLarge(width: Int, height: Int, limit: Int)
        /// The input file cannot be read, or the output cannot be written.
        case io(String)
        /// The transcode was cancelled.
        case cancelled
        /// Any other libav* failure.
        case ffmpeg(AVError)

        public var description: String {
            switch self {
            case .empty: "the file is empty"
            case .notMedia(let detail): "not a media file (\(detail))"
            case .truncated(let decoded, let declared):
                "the file is truncated: \(decoded) of \(declared) video frames could be read"
            case .noVideoStream: "no video stream (audio-only or data file)"
            case .unsupportedCodec(let name): "unsupported video codec '\(name)'"
            case .dimensionsTooLarge(let width, let height, let limit):
                "video dimensions \(width)x\(height) exceed the \(limit) pixel limit per side"
            case .io(let detail): detail
            case .cancelled: "cancelled"
            case .ffmpeg(let error): error.description
            }
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
    public var isBadMedia: Bool {
        switch reason {
        case .empty, .notMedia, .truncated, .noVideoStream, .unsupportedCodec, .dimensionsTooLarge: true
        case .io, .cancelled, .ffmpeg: false
        }
    }
}
