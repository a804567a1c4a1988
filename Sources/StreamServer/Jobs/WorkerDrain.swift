/// A worker's graceful shutdown, as a value type: SIGTERM goes in, decisions come out.
/// Tested without signals or Redis.
///
///     running --terminate--> draining(deadline) --all jobs done--> (exit)
///                                 |
///                                 +--deadline passed--> interrupt running jobs: each is
///                                                       released for another worker
public struct WorkerDrain: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case running
        case draining(deadline: ContinuousClock.Instant)
    }

    public private(set) var state: State = .running
    public let grace: Duration

    public init(grace: Duration) { self.grace = grace }

    /// SIGTERM (or SIGINT). A second one does not extend the deadline.
    public mutating func terminate(now: ContinuousClock.Instant) {
        if case .running = state { state = .draining(deadline: now + grace) }
    }

    /// New jobs are taken only while running.
    public var takesJobs: Bool { state == .running }

    /// True once a running job should be stopped and handed back.
    public func interrupts(now: ContinuousClock.Instant) -> Bool {
        if case .draining(let deadline) = state { return now >= deadline }
        return false
    }
}
