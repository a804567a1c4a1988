/// One line of a supervised transcoder's report, as JSON on its standard output.
///
/// A service runs each transcode in a child process (`vstream transcode --supervised`)
/// so that nothing a media file does to the engine (a crash in a C library, a runaway
/// allocation, a hang) can take the service down. The child writes these, one per line;
/// the parent forwards the progress and turns the last line into the job's outcome.
public enum TranscoderMessage: Codable, Sendable, Equatable {
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

        public init(detail: String, userMessage: String, isBadMedia: Bool, isCancelled: Bool) {
            self.detail = detail
            self.userMessage = userMessage
            self.isBadMedia = isBadMedia
            self.isCancelled = isCancelled
        }

        public init(_ error: TranscodeError) {
            self.init(detail: error.description, userMessage: error.reason.userMessage,
                      isBadMedia: error.isBadMedia, isCancelled: error.reason == .cancelled)
        }
    }
}
