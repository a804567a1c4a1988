import Foundation
import Synchronization

/// Counts events per key in a sliding window: at most `limit` in any `window` seconds.
/// With Redis the counts are shared by every API node; without it they live in this
/// process.
public protocol RateCounter: Sendable {
    /// Counts one event for `key` at `now` if fewer than `limit` were counted in the
    /// `window` seconds before it. Otherwise counts nothing and returns the seconds
    /// until the oldest counted event leaves the window.
    func admit(_ key: String, limit: Int, window: Double, now: Double) async throws -> RateDecision
}

public enum RateDecision: Sendable, Equatable {
    case admitted
    case refused(retryAfter: Double)
}

/// `VSTREAM_UPLOADS_PER_HOUR`: uploads a caller may create in any 60 minutes. A sliding
/// window, not the clock hour: a fixed window let a caller make 2 × N uploads across
/// hh:00 (the stranger probe of issue 20 made 24 at a limit of 12 in 29 minutes).
struct UploadRateLimiter: Sendable {
    static let windowSeconds: Double = 3600
    let perHour: Int
    let counter: any RateCounter

    /// Counts one upload for `caller`; throws 429 with Retry-After past the limit.
    func admit(_ caller: String, now: Date = Date()) async throws {
        let decision = try await counter.admit("uploads:\(caller)", limit: perHour, window: Self.windowSeconds,
                                               now: now.timeIntervalSince1970)
        guard case .refused(let wait) = decision else { return }
        let retryAfter = max(1, Int(wait.rounded(.up)))
        throw APIError(429, "too many uploads: at most \(perHour) in any 60 minutes; try again in \(retryAfter / 60 + 1) minutes",
                       retryAfter: retryAfter)
    }
}

/// The counts of a single API node: each key's event times, oldest first.
final class InProcessRateCounter: RateCounter {
    private let events = Mutex<[String: [Double]]>([:])

    func admit(_ key: String, limit: Int, window: Double, now: Double) async throws -> RateDecision {
        events.withLock { events in
            // Keys whose events have all left the window go, so the table stays small.
            if events.count > 100_000 { events = events.filter { ($0.value.last ?? 0) > now - window } }
            var times = events[key, default: []].filter { $0 > now - window }
            defer { events[key] = times.isEmpty ? nil : times }
            guard times.count < limit else {
                return .refused(retryAfter: (times.first ?? now) + window - now)
            }
            times.append(now)
            return .admitted
        }
    }
}

/// The counts on Redis, shared by every API node: a sorted set of event times per key,
/// trimmed to the window and checked in one script, so two nodes cannot both take the
/// last place.
struct RedisRateCounter: RateCounter {
    let client: RedisClient

    static let script = """
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1] - ARGV[2])
        if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
            local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
            return {0, tostring(oldest[2] or ARGV[1])}
        end
        redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
        redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])) + 60)
        return {1, ARGV[1]}
        """

    func admit(_ key: String, limit: Int, window: Double, now: Double) async throws -> RateDecision {
        let redisKey = "vstream:ratelimit:\(key)"
        let member = "\(now)-\(UUID().uuidString.prefix(8))"
        let reply = try await client.perform { connection in
            try connection.command("EVAL", Self.script, "1", redisKey, String(now), String(window), String(limit), member)
        }
        let fields = reply.array
        guard fields.count == 2, fields[0].count == 0 else { return .admitted }
        let oldest = fields[1].string.flatMap(Double.init) ?? now
        return .refused(retryAfter: oldest + window - now)
    }
}
