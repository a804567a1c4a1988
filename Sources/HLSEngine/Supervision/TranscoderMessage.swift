/// One line of a supervised transcoder's report, as JSON on its standard output.
///
/// A service runs each transcode in a child process (`vstream transcode --supervised`)
/// so that nothing a media file does to the engine (a crash in a C library, a runaway
/// allocation, a hang) can take the service down. The child writes these, one per line;
/// the parent forwards the progress and turns the last line into the job's outcome.
public enum TranscoderMessage: Codable, Sendable, Equatable {
    /// The child's first line: the protocol it speaks (`TranscoderRequest.protocolVersion`).
    case hello(protocol: Int)
    case progress(TranscodeEvent)
    /// A progressive transcode's segment or early master (`Transcoder.publications`).
    case publication(Publication)
    case result(TranscodeResult)
    case failure(Failure)

    /// A `TranscodeError` in the words a parent needs.
    public struct Failure: Codable, Sendable, Equatable, Error {
        /// For the log: the full reason (may name the input's path).
        public var detail: String
        /// For the uploader: `TranscodeError.Reason.userMessage`.
        public var userMessage: String
        /// Retrying the same file cannot help.
        public var isBadMedia: Bool
        public var isCancelled: Bool
        /// The source cannot be cut into chunks (`TranscodeError.Reason.isChunking`): a
        /// service transcodes it whole instead. Absent from older transcoders' failures.
        public var cannotChunk: Bool?

        public init(detail: String, userMessage: String, isBadMedia: Bool, isCancelled: Bool, cannotChunk: Bool? = nil) {
            self.detail = detail
            self.userMessage = userMessage
            self.isBadMedia = isBadMedia
            self.isCancelled = isCancelled
            self.cannotChunk = cannotChunk
        }

        public init(_ error: TranscodeError) {
            self.init(detail: error.description, userMessage: error.reason.userMessage,
                      isBadMedia: error.isBadMedia, isCancelled: error.reason == .cancelled,
                      cannotChunk: error.reason.isChunking ? true : nil)
        }
    }
}

/// What the service sends a supervised transcoder, as one JSON line on its standard
/// input: the options of the whole transcode in one document, and the protocol version.
/// A child of another version refuses it (and a parent refuses a child whose `hello`
/// names another version), so a service and a transcoder of different releases fail
/// with a message that says so, never as "stopped unexpectedly".
public struct TranscoderRequest: Codable, Sendable, Equatable {
    /// Bumped whenever this request or `TranscoderMessage` changes shape.
    public static let protocolVersion = 3
    /// The largest request line a child reads.
    public static let maxBytes = 1 << 20

    public var `protocol`: Int
    public var options: TranscodeOptions

    public init(options: TranscodeOptions, protocol version: Int = TranscoderRequest.protocolVersion) {
        self.protocol = version
        self.options = options
    }

    /// The words both sides use for a mismatch.
    public static func mismatch(service: Int?, transcoder: Int?) -> String {
        let serviceSide = service.map { "version \($0)" } ?? "an unversioned request"
        let transcoderSide = transcoder.map { "version \($0)" } ?? "no version (an older vstream)"
        return "transcoder protocol mismatch: the service speaks \(serviceSide) and the transcoder \(transcoderSide); "
            + "run the same vstream release for both"
    }
}
