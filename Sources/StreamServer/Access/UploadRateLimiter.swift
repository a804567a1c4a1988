import Foundation
import Synchronization

/// Counts uploads created per identity in fixed one-hour windows
/// (`VSTREAM_UPLOADS_PER_HOUR`). With Redis the counters are shared by every API node;
/// without it they live in this process.
public protocol RateCounter: Sendable {
    /// Adds one to `key`'s count in the window that starts at `window`; returns the new count.
    func increment(_ key: String, window: Int64, lifetime: Int) async throws -> Int
}

struct UploadRateLimiter: Sendable {
    static let windowSeconds: Int64 = 3600
    let perHour: Int
    let counter: any RateCounter

    /// Counts one upload for `caller`; throws 429 with Retry-After past the limit.
    func admit(_ caller: String, now: Date = Date()) async throws {
        let seconds = Int64(now.timeIntervalSince1970)
        let window = seconds - seconds % Self.windowSeconds
        let count = try await counter.increment("uploads:\(caller)", window: window, lifetime: Int(Self.windowSeconds))
        guard count <= perHour else {
            let retryAfter = Int(window + Self.windowSeconds - seconds)
            throw APIError(429, "too many uploads: at most \(perHour) an hour; try again in \(retryAfter / 60 + 1) minutes",
                           retryAfter: max(1, retryAfter))
        }
    }
}

/// The counters of a single API node.
final class InProcessRateCounter: RateCounter {
    private let counts = Mutex<[String: (window: Int64, count: Int)]>([:])

    func increment(_ key: String, window: Int64, lifetime: Int) async throws -> Int {
        counts.withLock { counts in
            // Old windows go as new ones start, so the table holds one entry per caller.
            if counts.count > 100_000 { counts = counts.filter { $0.value.window == window } }
            let current = counts[key].flatMap { $0.window == window ? $0.count : nil } ?? 0
            counts[key] = (window, current + 1)
            return current + 1
        }
    }
}

/// The counters on Redis, shared by every API node: `INCR` on a key per window, which
/// expires with its window.
struct RedisRateCounter: RateCounter {
    let client: RedisClient

    func increment(_ key: String, window: Int64, lifetime: Int) async throws -> Int {
        let redisKey = "vstream:ratelimit:\(key):\(window)"
        return try await client.perform { connection in
            let count = try connection.command("INCR", redisKey).count
            if count == 1 { try connection.command("EXPIRE", redisKey, String(lifetime + 60)) }
            return count
        }
    }
}
