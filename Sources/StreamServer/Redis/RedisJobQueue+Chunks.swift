import Foundation
import HLSEngine

/// A chunked video's shared state, beside the jobs stream:
///
///     vstream:chunks:ID              hash: count, seconds, frames (the plan's), audio (1
///                                    when an audio task was queued), stitch (set once the
///                                    stitch is queued), encoded:K (frames chunk K has
///                                    encoded so far)
///     vstream:chunks:ID:done         set of the chunks whose files are stored, and "audio"
///                                    once the audio task's are
///     vstream:chunks:ID:publishing   lock (SET NX PX) of whoever extends the EVENT playlists
///     vstream:chunks:ID:audio        list of the audio task's segments stored at their keys
///                                    so far (JSON `PublishedSegment`s), which the EVENT
///                                    playlists name
///
/// Every step that must happen once is one Lua script: chunks 1..<n are queued once
/// however often chunk 0 is redelivered, and the stitch once however the last chunks race.
/// They expire a week after the last change, so a video deleted mid-way leaves nothing.
extension RedisJobQueue {
    static func chunkKeys(_ video: UUID) -> [String] {
        let base = "vstream:chunks:\(video.uuidString.lowercased())"
        return [base, base + ":done", base + ":publishing", base + ":audio"]
    }

    static let chunkStateLifetime = "604800"

    /// What the workers of one video report, for its `progress` events.
    public struct ChunkTally: Sendable, Equatable {
        /// Frames encoded over every chunk (each chunk's latest report).
        public var framesDone: Int
        /// Frames in the plan (the source's).
        public var framesTotal: Int
        public var chunksDone: Int
        public var chunks: Int
    }

    /// Records the plan and queues the audio task (when `audioPreview`, chunk 0's previewed
    /// segments, is given), then chunks 1..<count after chunk 0 (which the coordinator
    /// encodes itself). True if this call queued them; false if an earlier delivery did.
    @discardableResult
    func planChunks(_ video: UUID, count: Int, seconds: Double, frames: Int, audioPreview: Int?) async throws -> Bool {
        // The audio task first: it is the longest single task of a long video.
        let script = """
            if redis.call('HSETNX', KEYS[2], 'count', ARGV[2]) == 0 then return 0 end
            redis.call('HSET', KEYS[2], 'seconds', ARGV[3], 'frames', ARGV[4])
            redis.call('EXPIRE', KEYS[2], ARGV[5])
            if ARGV[7] ~= '' then
              redis.call('HSET', KEYS[2], 'audio', '1')
              redis.call('XADD', KEYS[1], '*', 'video', ARGV[1], 'attempt', '1',
                         'task', 'audio/' .. ARGV[2] .. '/' .. ARGV[7] .. '/' .. ARGV[6])
            end
            for index = 1, tonumber(ARGV[2]) - 1 do
              redis.call('XADD', KEYS[1], '*', 'video', ARGV[1], 'attempt', '1',
                         'task', 'chunk/' .. index .. '/' .. ARGV[2] .. '/' .. ARGV[6])
            end
            return 1
            """
        let id = video.uuidString.lowercased()
        return try await client.perform {
            try $0.command("EVAL", script, "2", Self.stream, Self.chunkKeys(video)[0], id, String(count), String(seconds),
                           String(frames), Self.chunkStateLifetime, JobTask.format(seconds), audioPreview.map(String.init) ?? "")
        } == .integer(1)
    }

    /// Chunk `index`'s files are stored (nil: the audio task's): it joins the done set, its
    /// entry is acknowledged, and if it was the last, the stitch is queued (once). Returns
    /// the tasks done.
    @discardableResult
    func chunkEncoded(_ delivery: Delivery, index: Int?, frames: Int, seconds: Double) async throws -> Int {
        let script = """
            redis.call('SADD', KEYS[3], ARGV[3])
            redis.call('EXPIRE', KEYS[3], ARGV[6])
            if ARGV[3] ~= 'audio' then redis.call('HSET', KEYS[2], 'encoded:' .. ARGV[3], ARGV[4]) end
            local count = tonumber(redis.call('HGET', KEYS[2], 'count') or '0')
            local tasks = count
            if redis.call('HGET', KEYS[2], 'audio') == '1' then tasks = count + 1 end
            local done = redis.call('SCARD', KEYS[3])
            if count > 0 and done >= tasks and redis.call('HSETNX', KEYS[2], 'stitch', '1') == 1 then
              redis.call('XADD', KEYS[1], '*', 'video', ARGV[2], 'attempt', '1',
                         'task', 'stitch/' .. count .. '/' .. ARGV[5])
            end
            redis.call('XACK', KEYS[1], ARGV[7], ARGV[1])
            return done
            """
        let keys = Self.chunkKeys(delivery.video)
        let reply = try await client.perform {
            try $0.command("EVAL", script, "3", Self.stream, keys[0], keys[1], delivery.entryID,
                           delivery.video.uuidString.lowercased(), index.map(String.init) ?? "audio", String(frames), JobTask.format(seconds),
                           Self.chunkStateLifetime, Self.group)
        }
        return reply.count
    }

    /// Records that chunk `index` has encoded `frames`, and returns the video's tally.
    func chunkProgress(_ video: UUID, index: Int, frames: Int) async throws -> ChunkTally {
        let script = """
            redis.call('HSET', KEYS[1], 'encoded:' .. ARGV[1], ARGV[2])
            local sum = 0
            local fields = redis.call('HGETALL', KEYS[1])
            for i = 1, #fields, 2 do
              if string.sub(fields[i], 1, 8) == 'encoded:' then sum = sum + tonumber(fields[i + 1]) end
            end
            return {sum, tonumber(redis.call('HGET', KEYS[1], 'frames') or '0'),
                    redis.call('SCARD', KEYS[2]) - redis.call('SISMEMBER', KEYS[2], 'audio'),
                    tonumber(redis.call('HGET', KEYS[1], 'count') or '0')}
            """
        let keys = Self.chunkKeys(video)
        let reply = try await client.perform {
            try $0.command("EVAL", script, "2", keys[0], keys[1], String(index), String(frames))
        }.array.map(\.count)
        guard reply.count == 4 else { throw RedisError(message: "unexpected reply to the chunk tally") }
        return ChunkTally(framesDone: reply[0], framesTotal: reply[1], chunksDone: reply[2], chunks: reply[3])
    }

    /// The chunks whose files are stored.
    func doneChunks(_ video: UUID) async throws -> Set<Int> {
        let members = try await client.perform { try $0.command("SMEMBERS", Self.chunkKeys(video)[1]) }
        return Set(members.array.compactMap { $0.string.flatMap(Int.init) })
    }

    /// The audio task stored `segment` at its key (a previewed number, which waits under
    /// `.chunks/audio/` for the stitch, is never on the list).
    func audioSegmentStored(_ video: UUID, _ segment: PublishedSegment) async throws {
        let json = String(decoding: try JSONEncoder().encode(segment), as: UTF8.self)
        let key = Self.chunkKeys(video)[3]
        try await client.perform {
            _ = try $0.command("RPUSH", key, json)
            return try $0.command("EXPIRE", key, Self.chunkStateLifetime)
        }
    }

    /// The audio task's segments stored so far from entry `offset` on (a rerun's repeats
    /// included), up to the list's `maxAudioSegments`-th, and how many entries were read; an
    /// entry that is not a well-formed segment (any client can write Redis) is skipped.
    func audioSegments(_ video: UUID, from offset: Int = 0) async throws -> (segments: [PublishedSegment], entries: Int) {
        guard offset < Self.maxAudioSegments else { return ([], 0) }
        let entries = try await client.perform {
            try $0.command("LRANGE", Self.chunkKeys(video)[3], String(max(0, offset)), String(Self.maxAudioSegments - 1))
        }
        let decoder = JSONDecoder()
        let segments = entries.array.compactMap { $0.string.flatMap { try? decoder.decode(PublishedSegment.self, from: Data($0.utf8)) } }
            .filter(\.isWellFormed)
        return (segments, entries.array.count)
    }

    /// Four hours of 2 s segments in eight tracks.
    static let maxAudioSegments = 57_600

    /// Takes the video's publishing lock for `milliseconds`; returns its token, or nil
    /// when another worker holds it.
    func lockPublishing(_ video: UUID, milliseconds: Int = 60_000) async throws -> String? {
        let token = UUID().uuidString
        let reply = try await client.perform {
            try $0.command("SET", Self.chunkKeys(video)[2], token, "NX", "PX", String(milliseconds))
        }
        return reply == .status("OK") ? token : nil
    }

    func unlockPublishing(_ video: UUID, token: String) async throws {
        let script = """
            if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
            return 0
            """
        try await client.perform { try $0.command("EVAL", script, "1", Self.chunkKeys(video)[2], token) }
    }

    /// The video's chunk state goes (READY, FAILED, deleted).
    func clearChunks(_ video: UUID) async throws {
        try await client.perform { try $0.command(["DEL"] + Self.chunkKeys(video)) }
    }
}
