import Foundation

/// Transcode jobs on Redis: the whole queue's state lives in Redis, so any number of
/// workers on any number of hosts share it, and a restarted worker loses nothing.
///
///     vstream:jobs           stream; entries {video, attempt[, task]}; consumer group
///                            vstream-workers; `task` names a chunk or a stitch (`JobTask`)
///     vstream:jobs:delayed   sorted set of retries, scored by due time (ms); moved back to
///                            the stream when due, by whichever worker looks first
///     vstream:jobs:dead      stream of jobs out of attempts {video, attempts, error, failedAt}
///     vstream:cancel:ID      set (1 h) when a video is deleted: its worker stops
///     vstream:jobs:videos    set of the videos that have a job (queued, running or
///                            waiting to retry); a PROCESSING row missing from it lost its
///                            job (an API node died between the row and the XADD) and is
///                            queued again by `enqueueIfUntracked`
///     vstream:chunks:ID…     a chunked video's plan, finished chunks and publishing lock
///                            (`RedisJobQueue+Chunks.swift`); a new job clears them
///
/// A claim is an entry in the group's pending list. Its worker refreshes it (XCLAIM
/// JUSTID, which resets the idle time) while it works; an entry idle for longer than
/// the visibility timeout belongs to a dead worker, and XAUTOCLAIM hands it to another.
/// Every multi-step change (retry, dead-letter, release) is one Lua script, so a crash
/// between its steps cannot lose or duplicate a job.
public final class RedisJobQueue: Sendable {
    public static let stream = "vstream:jobs"
    public static let group = "vstream-workers"
    public static let delayed = "vstream:jobs:delayed"
    public static let dead = "vstream:jobs:dead"
    public static let tracked = "vstream:jobs:videos"
    /// The video of an entry that names none: the worker acknowledges it and moves on.
    static let malformed = UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
    static func cancelKey(_ video: UUID) -> String { "vstream:cancel:\(video.uuidString.lowercased())" }

    /// One delivery of a job to this worker.
    public struct Delivery: Sendable, Equatable {
        public var entryID: String
        public var video: UUID
        /// The entry's attempt number (1 for a new job).
        public var attempt: Int
        /// Redis's delivery counter: above 1 when taken over from a dead worker.
        public var deliveries: Int
        /// What the entry asks for: the video's job, or a chunk or the stitch of it.
        public var task: JobTask = .video
    }

    /// Lua: XADD to KEYS[1] of a job entry whose optional task is `task` ('' for none).
    static let addEntryFunction = """
        local function add_entry(stream, video, attempt, task)
          if task ~= nil and task ~= '' then
            return redis.call('XADD', stream, '*', 'video', video, 'attempt', attempt, 'task', task)
          end
          return redis.call('XADD', stream, '*', 'video', video, 'attempt', attempt)
        end\n
        """

    /// A dead-lettered job, as `vstream jobs` lists it.
    public struct DeadJob: Sendable, Equatable {
        public var entryID: String
        public var video: UUID
        public var attempts: Int
        public var error: String
        public var failedAt: String
    }

    public struct Stats: Sendable, Equatable {
        /// Entries not yet delivered to any worker.
        public var waiting: Int
        /// Delivered and not acknowledged: running, or held by a dead worker.
        public var pending: Int
        public var delayed: Int
        public var dead: Int
    }

    let client: RedisClient

    public init(url: String) { client = RedisClient(url: url) }

    /// Creates the stream and the group if needed (idempotent, any node may do it).
    public func prepare() async throws {
        try await client.perform { connection in
            do {
                try connection.command("XGROUP", "CREATE", Self.stream, Self.group, "0", "MKSTREAM")
            } catch let error as RedisError where error.message.hasPrefix("BUSYGROUP") {
                // Another node made it.
            }
        }
    }

    /// A new job for `video` (an upload, a requeue): any chunk state of an earlier job goes.
    public func enqueue(_ video: UUID, attempt: Int = 1) async throws {
        let script = """
            redis.call('SADD', KEYS[2], ARGV[1])
            for i = 3, #KEYS do redis.call('DEL', KEYS[i]) end
            redis.call('XADD', KEYS[1], '*', 'video', ARGV[1], 'attempt', ARGV[2])
            return 1
            """
        let id = video.uuidString.lowercased()
        try await client.perform {
            try $0.command(["EVAL", script, String(2 + Self.chunkKeys(video).count), Self.stream, Self.tracked] + Self.chunkKeys(video) + [id, String(attempt)])
        }
    }

    /// Queues `video` unless it already has a job; true if it was queued. Atomic, so
    /// two workers reconciling at once queue it once.
    func enqueueIfUntracked(_ video: UUID) async throws -> Bool {
        let script = """
            if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
            for i = 3, #KEYS do redis.call('DEL', KEYS[i]) end
            redis.call('XADD', KEYS[1], '*', 'video', ARGV[1], 'attempt', '1')
            return 1
            """
        let id = video.uuidString.lowercased()
        return try await client.perform {
            try $0.command(["EVAL", script, String(2 + Self.chunkKeys(video).count), Self.stream, Self.tracked] + Self.chunkKeys(video) + [id])
        } == .integer(1)
    }

    // MARK: Taking jobs

    /// A new job, waiting up to `block` for one.
    func readNew(consumer: String, block: Duration) async throws -> Delivery? {
        let milliseconds = String(Int(block / .milliseconds(1)))
        // The read blocks on purpose: its deadline is the block plus the usual one.
        let reply = try await client.perform(timeout: DependencyTimeout.seconds + block / .seconds(1)) { connection in
            try connection.command("XREADGROUP", "GROUP", Self.group, consumer, "COUNT", "1", "BLOCK", milliseconds,
                                   "STREAMS", Self.stream, ">")
        }
        guard let entry = reply.array.first?.array.dropFirst().first?.array.first else { return nil }
        return Self.delivery(entry, deliveries: 1)
    }

    /// A job whose worker has been silent for `idle`: taken over, delivery count raised.
    func claimAbandoned(consumer: String, idle: Duration) async throws -> Delivery? {
        let milliseconds = String(Int(idle / .milliseconds(1)))
        return try await client.perform { connection in
            let reply = try connection.command("XAUTOCLAIM", Self.stream, Self.group, consumer, milliseconds, "0-0", "COUNT", "1")
            guard let entry = reply.array.dropFirst().first?.array.first, let id = entry.array.first?.string else { return nil }
            let pending = try connection.command("XPENDING", Self.stream, Self.group, id, id, "1")
            let deliveries = pending.array.first?.array.dropFirst(3).first.flatMap { Int($0.string ?? "") } ?? 1
            return Self.delivery(entry, deliveries: deliveries)
        }
    }

    /// Moves retries that are due from the delayed set back to the stream.
    func promoteDueRetries(now: Date = Date()) async throws {
        let script = Self.addEntryFunction + """
            local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 50)
            for _, member in ipairs(due) do
              if redis.call('ZREM', KEYS[1], member) == 1 then
                local video, attempt, task = string.match(member, '^([^|]*)|(%d+)|?(.*)$')
                if video ~= nil then add_entry(KEYS[2], video, attempt, task) end
              end
            end
            return #due
            """
        let score = String(Int(now.timeIntervalSince1970 * 1000))
        try await client.perform { try $0.command("EVAL", script, "2", Self.delayed, Self.stream, score) }
    }

    // MARK: Holding and ending a claim

    /// Refreshes this worker's claim. False when the entry is no longer ours (taken over
    /// after we stalled past the visibility timeout, or acknowledged): stop working on it.
    func heartbeat(_ delivery: Delivery, consumer: String) async throws -> Bool {
        let script = """
            local mine = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1, ARGV[3])
            if #mine == 0 then return 0 end
            redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[2], 'JUSTID')
            redis.call('HSET', KEYS[2], 'heartbeat', ARGV[4], 'worker', ARGV[3])
            return 1
            """
        let id = delivery.entryID, progress = RedisProgressPublisher.hashKey(delivery.video)
        let now = String(Int(Date().timeIntervalSince1970 * 1000))
        return try await client.perform {
            try $0.command("EVAL", script, "2", Self.stream, progress, Self.group, id, consumer, now)
        } == .integer(1)
    }

    /// True when the video was deleted while its job runs.
    func isCancelled(_ video: UUID) async throws -> Bool {
        try await client.perform { try $0.command("EXISTS", Self.cancelKey(video)) } == .integer(1)
    }

    /// Asks whichever worker runs `video` to stop (DELETE /api/videos/ID).
    public func cancel(_ video: UUID) async throws {
        try await client.perform { try $0.command("SET", Self.cancelKey(video), "1", "EX", "3600") }
    }

    /// The entry is over and acknowledged. So is the video's job, unless the entry is a
    /// chunk's and `endsJob` is false: the video's other tasks go on.
    func acknowledge(_ delivery: Delivery, endsJob: Bool = false) async throws {
        let script = """
            redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
            if ARGV[4] == '1' then redis.call('SREM', KEYS[2], ARGV[3]) end
            return 1
            """
        let id = delivery.entryID, video = delivery.video.uuidString.lowercased()
        let ends = if case .chunk = delivery.task { endsJob } else { true }
        try await client.perform { try $0.command("EVAL", script, "2", Self.stream, Self.tracked, Self.group, id, video, ends ? "1" : "0") }
    }

    /// Schedules attempt `attempt` after `delay` and ends this delivery, atomically.
    func retry(_ delivery: Delivery, attempt: Int, delay: Duration, now: Date = Date()) async throws {
        let script = """
            redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
            redis.call('XACK', KEYS[1], ARGV[1], ARGV[4])
            return 1
            """
        let due = String(Int(now.timeIntervalSince1970 * 1000 + Double(delay / .milliseconds(1))))
        let member = "\(delivery.video.uuidString.lowercased())|\(attempt)" + (delivery.task.field.map { "|\($0)" } ?? "")
        let id = delivery.entryID
        try await client.perform { try $0.command("EVAL", script, "2", Self.stream, Self.delayed, Self.group, member, due, id) }
    }

    /// Out of attempts (or bad media): onto the dead-letter stream, atomically.
    func deadLetter(_ delivery: Delivery, attempts: Int, error: String, now: Date = Date()) async throws {
        let script = """
            redis.call('XADD', KEYS[2], '*', 'video', ARGV[2], 'attempts', ARGV[3], 'error', ARGV[4], 'failedAt', ARGV[5],
                       'task', ARGV[7])
            redis.call('XACK', KEYS[1], ARGV[1], ARGV[6])
            redis.call('SREM', KEYS[3], ARGV[2])
            return 1
            """
        let failedAt = ISO8601DateFormatter().string(from: now)
        let video = delivery.video.uuidString.lowercased(), id = delivery.entryID
        try await client.perform {
            try $0.command("EVAL", script, "3", Self.stream, Self.dead, Self.tracked, Self.group, video, String(attempts), error,
                           failedAt, id, delivery.task.description)
        }
    }

    /// Hands the job back at once for another worker (same attempt), atomically.
    func release(_ delivery: Delivery) async throws {
        let script = Self.addEntryFunction + """
            add_entry(KEYS[1], ARGV[2], ARGV[3], ARGV[5])
            redis.call('XACK', KEYS[1], ARGV[1], ARGV[4])
            return 1
            """
        let video = delivery.video.uuidString.lowercased(), id = delivery.entryID, attempt = String(delivery.attempt)
        try await client.perform {
            try $0.command("EVAL", script, "1", Self.stream, Self.group, video, attempt, id, delivery.task.field ?? "")
        }
    }

    // MARK: Operators (`vstream jobs`)

    public func stats() async throws -> Stats {
        try await client.perform { connection in
            let pending = (try connection.command("XPENDING", Self.stream, Self.group).array.first?.count ?? 0)
            var lag = 0
            for group in try connection.command("XINFO", "GROUPS", Self.stream).array {
                let fields = group.array
                if let index = fields.firstIndex(of: .string("lag")), index + 1 < fields.count {
                    lag = fields[index + 1].count
                }
            }
            return Stats(waiting: lag, pending: pending,
                         delayed: try connection.command("ZCARD", Self.delayed).count,
                         dead: try connection.command("XLEN", Self.dead).count)
        }
    }

    public func deadJobs(limit: Int = 100) async throws -> [DeadJob] {
        try await client.perform { connection in
            try connection.command("XRANGE", Self.dead, "-", "+", "COUNT", String(limit)).array.compactMap { entry in
                guard let id = entry.array.first?.string else { return nil }
                let fields = Self.fields(entry)
                guard let video = fields["video"].flatMap(UUID.init(uuidString:)) else { return nil }
                return DeadJob(entryID: id, video: video, attempts: Int(fields["attempts"] ?? "") ?? 0,
                               error: fields["error"] ?? "", failedAt: fields["failedAt"] ?? "")
            }
        }
    }

    /// Puts a dead job back on the stream as a new job (attempt 1), atomically.
    public func requeue(_ job: DeadJob) async throws {
        let script = """
            if redis.call('XDEL', KEYS[2], ARGV[1]) == 0 then return 0 end
            redis.call('XADD', KEYS[1], '*', 'video', ARGV[2], 'attempt', '1')
            redis.call('SADD', KEYS[3], ARGV[2])
            return 1
            """
        let video = job.video.uuidString.lowercased(), id = job.entryID
        try await client.perform { try $0.command("EVAL", script, "3", Self.stream, Self.dead, Self.tracked, id, video) }
    }

    // MARK: Parsing

    static func fields(_ entry: RedisReply) -> [String: String] {
        let values = entry.array.dropFirst().first?.array.compactMap(\.string) ?? []
        var fields: [String: String] = [:]
        for index in stride(from: 0, to: values.count - 1, by: 2) { fields[values[index]] = values[index + 1] }
        return fields
    }

    static func delivery(_ entry: RedisReply, deliveries: Int) -> Delivery? {
        guard let id = entry.array.first?.string else { return nil }
        let fields = fields(entry)
        guard let video = fields["video"].flatMap(UUID.init(uuidString:)), let task = JobTask(field: fields["task"]) else {
            return Delivery(entryID: id, video: malformed, attempt: 1, deliveries: deliveries)
        }
        return Delivery(entryID: id, video: video, attempt: Int(fields["attempt"] ?? "") ?? 1, deliveries: deliveries, task: task)
    }
}

