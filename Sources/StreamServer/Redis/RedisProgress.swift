import Foundation

/// Progress on Redis: the latest event in a hash (`vstream:progress:ID`, hot data that
/// never touches PostgreSQL) and a PUBLISH on `vstream:events:ID`. At most 4 updates a
/// second per video; final events always go out.
public actor RedisProgressPublisher: ProgressPublisher {
    private let client: RedisClient
    private var throttle = ProgressThrottle(interval: RedisProgressPublisher.interval)
    static let interval: Duration = .milliseconds(250)

    public init(url: String) { client = RedisClient(url: url) }

    static func hashKey(_ video: UUID) -> String { "vstream:progress:\(video.uuidString.lowercased())" }
    static func channel(_ video: UUID) -> String { "vstream:events:\(video.uuidString.lowercased())" }

    public func publish(_ video: UUID, _ make: @escaping @Sendable (Int) -> VideoEvent) async {
        guard throttle.admits(make(0), for: video) else { return }
        let key = Self.hashKey(video), channel = Self.channel(video)
        // Best effort: progress is hot data; the state of record is the database.
        _ = try? await client.perform { connection in
            let sequence = try connection.command("HINCRBY", key, "seq", "1").string.flatMap(Int.init) ?? 0
            let event = make(sequence)
            let json = String(decoding: (try? JSONEncoder().encode(event)) ?? Data(), as: UTF8.self)
            try connection.command(["HSET", key, "event", json, "percent", String(event.percent), "stage", event.stage ?? event.status.rawValue,
                                    "framesDone", String(event.framesDone ?? 0), "framesTotal", String(event.framesTotal ?? 0),
                                    "fps", String(event.fps ?? 0)])
            try connection.command("EXPIRE", key, "86400")
            try connection.command("PUBLISH", channel, json)
        }
    }

    /// The latest event, for a client that connects mid-job to any node.
    public func latest(_ video: UUID) async -> VideoEvent? {
        let key = Self.hashKey(video)
        let stored: String?? = try? await client.perform { try $0.command("HGET", key, "event").string }
        guard let json = stored ?? nil else { return nil }
        return try? JSONDecoder().decode(VideoEvent.self, from: Data(json.utf8))
    }
}

/// Feeds this node's `ProgressHub` from Redis pub/sub: one PSUBSCRIBE connection per
/// node, on a thread of its own, reconnecting with backoff if Redis goes away.
final class RedisProgressSubscriber: @unchecked Sendable {
    private let url: String
    private let hub: ProgressHub
    private let lock = NSLock()
    private var stopped = false

    init(url: String, hub: ProgressHub) {
        self.url = url
        self.hub = hub
    }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "vstream.redis.subscriber"
        thread.start()
    }

    /// Ends the loop after the current connection fails or its next message.
    func stop() { lock.withLock { stopped = true } }

    private var isStopped: Bool { lock.withLock { stopped } }

    // A loop with a way out: `while true` with no exit here sent the release build's
    // optimizer (loop-invariant code motion) into a loop of its own for over ten minutes.
    private func run() {
        var retry = 0
        while !isStopped {
            retry = listen() ? 0 : retry + 1
            Thread.sleep(forTimeInterval: Backoff.reconnect.outageDelay(retry: retry) / .seconds(1))
        }
    }

    /// Subscribes and delivers messages until the connection fails. True if it had subscribed.
    private func listen() -> Bool {
        guard let connection = try? RedisConnection(url: url) else { return false }
        connection.waitForever()
        guard (try? connection.command("PSUBSCRIBE", "vstream:events:*")) != nil else { return false }
        while !isStopped, let message = try? connection.nextMessage() { deliver(message) }
        return true
    }

    private func deliver(_ message: RedisReply) {
        let parts = message.array
        guard parts.count == 4, parts[0].string == "pmessage",
              let channel = parts[2].string, let payload = parts[3].string,
              let video = UUID(uuidString: String(channel.dropFirst("vstream:events:".count))),
              let event = try? JSONDecoder().decode(VideoEvent.self, from: Data(payload.utf8)) else { return }
        let hub = self.hub
        Task { await hub.deliver(video, event) }
    }
}

