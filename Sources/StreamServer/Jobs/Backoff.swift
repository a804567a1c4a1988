/// Exponential backoff with full jitter (AWS's "Exponential Backoff and Jitter"): the
/// n-th wait is uniform in [0, min(cap, base·2ⁿ)], so retries from many workers spread
/// out instead of arriving together. A value type; `jitter` is injectable for tests.
public struct Backoff: Sendable, Equatable {
    public var base: Duration
    public var cap: Duration

    public init(base: Duration, cap: Duration) {
        self.base = base
        self.cap = cap
    }

    /// The ceiling of the wait before retry `retry` (0 for the first retry).
    public func ceiling(retry: Int) -> Duration {
        let factor = 1 << min(max(retry, 0), 30)
        let grown = base * factor
        return grown > cap ? cap : grown
    }

    /// The wait before retry `retry`: `ceiling × jitter`, jitter in [0, 1].
    public func delay(retry: Int, jitter: Double = Double.random(in: 0...1)) -> Duration {
        ceiling(retry: retry) * min(max(jitter, 0), 1)
    }

    /// "Equal jitter": at least half the ceiling. For waiting out an outage, where a
    /// near-zero wait would only spend a retry.
    public func outageDelay(retry: Int) -> Duration { delay(retry: retry, jitter: Double.random(in: 0.5...1)) }

    /// Reconnecting to Redis: 200 ms, doubling to 5 s.
    public static let reconnect = Backoff(base: .milliseconds(200), cap: .seconds(5))
}
