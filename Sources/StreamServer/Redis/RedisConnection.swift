import CHiredis
import Foundation
import Synchronization

/// A Redis reply, copied out of hiredis's reply object.
public indirect enum RedisReply: Sendable, Equatable {
    case string(String)
    case integer(Int)
    case array([RedisReply])
    case null
    case status(String)
    case error(String)

    var string: String? {
        switch self {
        case .string(let value), .status(let value): value
        case .integer(let value): String(value)
        default: nil
        }
    }

    var array: [RedisReply] { if case .array(let items) = self { items } else { [] } }

    /// An integer reply (or a number sent as a string), 0 for anything else.
    var count: Int { string.flatMap(Int.init) ?? 0 }
}

public struct RedisError: Error, CustomStringConvertible {
    public var message: String
    /// The connection is unusable (I/O error, EOF, timeout): reconnect before reusing.
    public var connectionLost = false
    public var description: String { "redis: \(message)" }
}

/// Owns one hiredis connection (`redisFree` in deinit). hiredis is blocking and not
/// thread-safe, so async callers go through `perform`, which runs their commands one
/// at a time on the connection's own serial queue, off the cooperative pool.
final class RedisConnection: @unchecked Sendable {
    private let context: UnsafeMutablePointer<redisContext>
    private let queue = DispatchQueue(label: "vstream.redis.connection")

    /// `redis://host:port[/db]`
    init(url: String, timeoutSeconds: Int = 5) throws {
        guard let parsed = URL(string: url), let host = parsed.host else { throw RedisError(message: "bad REDIS_URL \(url)") }
        let port = Int32(parsed.port ?? 6379)
        guard let context = redisConnectWithTimeout(host, port, timeval(tv_sec: timeoutSeconds, tv_usec: 0)) else {
            throw RedisError(message: "cannot allocate a connection")
        }
        if context.pointee.err != 0 {
            let message = Self.errorString(context)
            redisFree(context)
            throw RedisError(message: "connect \(host):\(port): \(message)", connectionLost: true)
        }
        self.context = context
        // A command on a stalled server fails after this long (the connection is then
        // dropped and made again), rather than blocking its thread for ever.
        redisSetTimeout(context, timeval(tv_sec: timeoutSeconds + 1, tv_usec: 0))
        let database = parsed.path.split(separator: "/").first.map(String.init) ?? ""
        if !database.isEmpty { _ = try command("SELECT", database) }
    }

    deinit { redisFree(context) }

    /// Runs `work` with this connection, serialised with every other `perform`.
    func perform<T: Sendable>(_ work: @escaping @Sendable (RedisConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try work(self) }) }
        }
    }

    /// Clears a blocking read's timeout (subscribers wait as long as it takes).
    func waitForever() { redisSetTimeout(context, timeval(tv_sec: 0, tv_usec: 0)) }

    @discardableResult
    func command(_ arguments: String...) throws -> RedisReply { try command(arguments) }

    @discardableResult
    func command(_ arguments: [String]) throws -> RedisReply {
        let copies = arguments.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        var pointers: [UnsafePointer<CChar>?] = copies.map { pointer in pointer.map { UnsafePointer($0) } }
        let lengths = arguments.map { $0.utf8.count }
        guard let raw = redisCommandArgv(context, Int32(arguments.count), &pointers, lengths) else {
            throw RedisError(message: Self.errorString(context), connectionLost: true)
        }
        defer { freeReplyObject(raw) }
        let reply = Self.convert(raw.assumingMemoryBound(to: redisReply.self))
        if case .error(let message) = reply { throw RedisError(message: message) }
        return reply
    }

    /// The next message pushed on a subscribed connection.
    func nextMessage() throws -> RedisReply {
        var raw: UnsafeMutableRawPointer?
        guard redisGetReply(context, &raw) == REDIS_OK, let raw else {
            throw RedisError(message: Self.errorString(context), connectionLost: true)
        }
        defer { freeReplyObject(raw) }
        return Self.convert(raw.assumingMemoryBound(to: redisReply.self))
    }

    private static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RedisReply {
        let value = reply.pointee
        let text = { value.str.map { String(cString: $0) } ?? "" }
        switch value.type {
        case REDIS_REPLY_STRING: return .string(text())
        case REDIS_REPLY_STATUS: return .status(text())
        case REDIS_REPLY_ERROR: return .error(text())
        case REDIS_REPLY_INTEGER: return .integer(Int(value.integer))
        case REDIS_REPLY_ARRAY:
            return .array((0..<Int(value.elements)).compactMap { index in value.element[index].map(convert) })
        default: return .null
        }
    }

    private static func errorString(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { bytes in
            String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}

/// A Redis connection that survives Redis going away: a lost connection is dropped,
/// and the next `perform` connects again. Callers decide whether to retry (the job
/// loop does, with backoff; progress publishing drops the update).
///
/// hiredis blocks, so connecting and every command run on the client's own
/// `BlockingLane`, never on the cooperative pool, with its deadline
/// (`VSTREAM_DEPENDENCY_TIMEOUT_SECONDS`): a stalled Redis gives `DependencyUnavailable`.
final class RedisClient: Sendable {
    let url: String
    private let lane: BlockingLane
    /// Touched only on the lane (the mutex makes that checkable, not contended).
    private let connection = Mutex<RedisConnection?>(nil)

    init(url: String, timeoutSeconds: Double = DependencyTimeout.seconds) {
        self.url = url
        lane = BlockingLane("Redis", timeoutSeconds: timeoutSeconds)
    }

    /// Runs `work` on the (possibly new) connection, serialised with other callers.
    /// `timeout` overrides the lane's deadline for a command that blocks on purpose.
    @discardableResult
    func perform<T: Sendable>(timeout: Double? = nil, _ work: @escaping @Sendable (RedisConnection) throws -> T) async throws -> T {
        try await lane.run(timeout: timeout) { [self] in
            let current = try current()
            do {
                return try work(current)
            } catch let error as RedisError where error.connectionLost {
                connection.withLock { if $0 === current { $0 = nil } }
                throw error
            }
        }
    }

    /// The open connection, or a new one (connecting blocks: only ever on the lane).
    private func current() throws -> RedisConnection {
        try connection.withLock { held -> RedisConnection in
            if let held { return held }
            let fresh = try RedisConnection(url: url, timeoutSeconds: max(1, Int(lane.timeoutSeconds.rounded(.up))))
            held = fresh
            return fresh
        }
    }
}
