/// A worker's hold on one running job, as a value type: the watcher feeds it ticks and
/// Redis's answers, and it says what to do next. Tested without Redis or clocks.
///
/// Every tick (250 ms at most) the watcher asks whether the video was deleted; every third
/// of the visibility timeout it also refreshes the claim, on time: a tick falls due when
/// the heartbeat does, so a short timeout is not refreshed only every half of it (a 1 s
/// timeout beat every 500 ms on the 250 ms grid). The race this guards against:
///
///  1. Worker A runs video V. A stalls (a long pause, a partition) for longer than the
///     visibility timeout, so its entry looks abandoned.
///  2. Worker B's XAUTOCLAIM takes the entry and starts V again. Both now write the same
///     keys; that is harmless, because the keys are fixed per video and the master
///     playlist goes last.
///  3. A wakes up. Its next heartbeat finds the entry no longer in *its* pending list,
///     so `heartbeatAnswered(mine: false)` says `.stop(.claimLost)`. A stops its engine
///     and touches neither the entry nor the objects: B owns both.
///  4. Whichever attempt commits READY first wins: READY is an update conditional on
///     PROCESSING, so the other one finds nothing to do and is acknowledged as skipped.
///
/// A heartbeat that fails (Redis unreachable) is not a lost claim: nobody can take the
/// entry while Redis is down either. The job goes on, and the next tick tries again.
public struct JobClaim: Sendable, Equatable {
    public enum Stop: Sendable, Equatable {
        /// DELETE /api/videos/ID: the job ends, and its entry with it.
        case videoDeleted
        /// Another worker took the entry over: leave it and its objects alone.
        case claimLost
        /// SIGTERM and the grace period is over: hand the entry back.
        case shutdown
    }

    public enum Action: Sendable, Equatable {
        case checkCancel
        case heartbeat
        case stop(Stop)
    }

    /// How often a running job checks whether its video was deleted.
    public static let checkInterval: Duration = .milliseconds(250)

    public let heartbeatInterval: Duration
    public private(set) var stopped: Stop?
    private var lastHeartbeat: ContinuousClock.Instant

    public init(visibilityTimeout: Duration, now: ContinuousClock.Instant) {
        heartbeatInterval = visibilityTimeout / 3
        lastHeartbeat = now
    }

    /// A watcher tick: the questions to put to Redis, in order, or the stop.
    public mutating func tick(now: ContinuousClock.Instant, graceExpired: Bool) -> [Action] {
        guard stopped == nil else { return [] }
        if graceExpired { return [stop(.shutdown)] }
        return now - lastHeartbeat >= heartbeatInterval ? [.checkCancel, .heartbeat] : [.checkCancel]
    }

    /// How long the watcher sleeps before its next tick: a check interval, or less where
    /// the heartbeat falls due sooner. An overdue heartbeat (the last one got no answer)
    /// waits a whole interval, so an unreachable Redis is not asked in a busy loop.
    public func untilNextTick(now: ContinuousClock.Instant) -> Duration {
        let heartbeatDue = lastHeartbeat + heartbeatInterval - now
        return heartbeatDue > .zero ? min(Self.checkInterval, heartbeatDue) : Self.checkInterval
    }

    /// Redis answered whether the video's cancel key exists (nil: no answer).
    public mutating func cancelChecked(deleted: Bool?) -> Action? {
        guard stopped == nil, deleted == true else { return nil }
        return stop(.videoDeleted)
    }

    /// Redis answered the heartbeat: still ours, taken by another worker, or no answer.
    public mutating func heartbeatAnswered(mine: Bool?, now: ContinuousClock.Instant) -> Action? {
        guard stopped == nil, let mine else { return nil }
        lastHeartbeat = now
        return mine ? nil : stop(.claimLost)
    }

    /// How the attempt's outcome reads once the job has returned. A job stopped for a
    /// shutdown ends `.cancelled` from its own point of view, but for the queue it was
    /// interrupted (hand it back). Nil: the claim was lost, so there is nothing to settle.
    public func settledOutcome(_ outcome: JobOutcome) -> JobOutcome? {
        switch stopped {
        case .claimLost: nil
        case .shutdown where outcome == .cancelled: .interrupted
        default: outcome
        }
    }

    private mutating func stop(_ reason: Stop) -> Action {
        stopped = reason
        return .stop(reason)
    }
}
