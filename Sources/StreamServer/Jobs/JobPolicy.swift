import Foundation

/// How one attempt at a transcode job ended, as the job itself sees it.
public enum JobOutcome: Sendable, Equatable {
    /// READY is committed (or already was): nothing more to do.
    case succeeded
    /// The video is gone, or in a state no job should touch (deleted, READY already).
    case skipped
    /// The media itself is bad: retrying cannot help.
    case rejected(reason: String)
    /// Anything else (storage, database, a crash of the engine's host): worth a retry.
    case failed(reason: String)
    /// Stopped on purpose: the video was deleted, or the claim was lost to another worker.
    case cancelled
    /// Stopped because this worker is shutting down: another worker should take it.
    case interrupted
}

/// What the worker does with a job's stream entry after an attempt. Tested without Redis.
public enum JobDisposition: Sendable, Equatable {
    /// XACK: the job is over (READY, skipped, cancelled).
    case acknowledge
    /// Mark the video FAILED with `reason`, move the entry to the dead-letter stream.
    case deadLetter(reason: String)
    /// Mark nothing; run attempt `attempt` after `delay`.
    case retry(attempt: Int, delay: Duration)
    /// Hand the entry back at once, same attempt (graceful shutdown).
    case release
}

/// Retries: at most `maxAttempts` attempts with exponential backoff and jitter; bad
/// media goes straight to FAILED. A job whose worker died counts that delivery as an
/// attempt too, so a file that crashes every worker ends dead-lettered, not looping.
public struct RetryPolicy: Sendable, Equatable {
    public var maxAttempts: Int
    public var backoff: Backoff

    public init(maxAttempts: Int = 3, backoff: Backoff = Backoff(base: .seconds(2), cap: .seconds(60))) {
        self.maxAttempts = max(1, maxAttempts)
        self.backoff = backoff
    }

    /// `attempt` is 1 for the first try.
    public func disposition(after outcome: JobOutcome, attempt: Int, jitter: Double = Double.random(in: 0...1)) -> JobDisposition {
        switch outcome {
        case .succeeded, .skipped, .cancelled:
            return .acknowledge
        case .interrupted:
            return .release
        case .rejected(let reason):
            return .deadLetter(reason: reason)
        case .failed(let reason):
            guard attempt < maxAttempts else { return .deadLetter(reason: "\(reason) (after \(attempt) attempts)") }
            return .retry(attempt: attempt + 1, delay: backoff.delay(retry: attempt - 1, jitter: jitter))
        }
    }

    /// A delivery taken over from a dead worker: is there an attempt left for it?
    /// `deliveries` is Redis's delivery counter for the entry (1 on the first read).
    public func attemptForRedelivery(entryAttempt: Int, deliveries: Int) -> Int? {
        let attempt = entryAttempt + max(deliveries, 1) - 1
        return attempt <= maxAttempts ? attempt : nil
    }
}
