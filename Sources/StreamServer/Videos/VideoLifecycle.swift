/// A video's lifecycle as a value type: events go in, actions come out, and the owner
/// performs them (database writes, queueing, deleting the original, publishing).
/// Tested with no database, queue or storage.
///
///     UPLOADING --complete--> PROCESSING --succeeded--> READY
///         |                       |    ^
///         +--aborted--> (row removed)  |    +--requeued (an operator: `vstream jobs requeue`)
///                                 +--failed (bad media, or retries used up)--> FAILED
///
/// Every status change goes through here, and every owner handles every action with an
/// exhaustive switch (no `default:`), so a new action cannot be silently dropped.
/// PostgreSQL is written only on these transitions, never per progress tick.
public struct VideoLifecycle: Sendable, Equatable {
    public enum Status: String, Sendable, Codable, CaseIterable {
        case uploading = "UPLOADING", processing = "PROCESSING", ready = "READY", failed = "FAILED"
    }

    public enum Action: Sendable, Equatable {
        /// Write the new status (and error, for FAILED) to the metadata store.
        case persist(Status, error: String?)
        /// Complete the multipart upload in storage.
        case completeMultipartUpload
        /// Put a transcode job on the queue.
        case enqueueTranscode
        /// Delete the original upload: only ever after READY is persisted.
        case deleteOriginal
        /// Abort the multipart upload in storage.
        case abortUpload
        /// Remove the video's row (an aborted upload leaves nothing behind).
        case removeRow
        /// Start the attempt count again (an operator's requeue is a fresh start).
        case resetAttempts
        /// Tell SSE subscribers the final state.
        case publishFinal(Status)
    }

    public enum Rejection: Error, Sendable, Equatable {
        case invalid(from: Status, event: String)
    }

    public private(set) var status: Status

    public init(status: Status = .uploading) { self.status = status }

    /// The browser finished sending parts. Idempotent: completing again while
    /// processing or done does nothing, so a retried request is answered the same way.
    public mutating func uploadCompleted() throws(Rejection) -> [Action] {
        switch status {
        case .uploading:
            status = .processing
            return [.completeMultipartUpload, .persist(.processing, error: nil), .enqueueTranscode]
        case .processing, .ready:
            return []
        case .failed:
            throw .invalid(from: status, event: "complete")
        }
    }

    /// The browser (or the user) gave up on the upload.
    public mutating func uploadAborted() throws(Rejection) -> [Action] {
        guard status == .uploading else { throw .invalid(from: status, event: "abort") }
        return [.abortUpload, .removeRow]
    }

    /// An operator put a dead job back on the queue. A FAILED video goes back to
    /// PROCESSING; one still PROCESSING (its row was never marked) is queued as it is.
    public mutating func requeued() throws(Rejection) -> [Action] {
        switch status {
        case .failed:
            status = .processing
            return [.persist(.processing, error: nil), .resetAttempts, .enqueueTranscode]
        case .processing:
            return [.resetAttempts, .enqueueTranscode]
        case .uploading, .ready:
            throw .invalid(from: status, event: "requeue")
        }
    }

    /// Every output object is stored, the master last. READY is persisted before the
    /// original is deleted, so a crash between the two leaves a playable video and an
    /// original to clean up, never a READY row without its source or outputs.
    public mutating func transcodeSucceeded() throws(Rejection) -> [Action] {
        switch status {
        case .processing:
            status = .ready
            return [.persist(.ready, error: nil), .deleteOriginal, .publishFinal(.ready)]
        case .ready:
            return []  // a redelivered job for a finished video: acknowledge and skip
        case .uploading, .failed:
            throw .invalid(from: status, event: "succeeded")
        }
    }

    /// The transcode failed. Bad media (or the last retry) ends FAILED and keeps the
    /// original for inspection; anything else is left PROCESSING for a retry.
    public mutating func transcodeFailed(_ reason: String, final: Bool) throws(Rejection) -> [Action] {
        guard status == .processing else {
            if status == .failed { return [] }
            throw .invalid(from: status, event: "failed")
        }
        guard final else { return [.enqueueTranscode] }
        status = .failed
        return [.persist(.failed, error: reason), .publishFinal(.failed)]
    }
}
