import Foundation
import HLSEngine
import Testing
@testable import StreamServer

/// A chunked video's shared state on a real Redis (`RedisJobQueue+Chunks`): the Lua scripts
/// that must act once however workers race, with the audio task among the chunks.
@Suite("Chunk state in Redis", .serialized, .timeLimit(.minutes(1)))
struct ChunkStateTests {
    /// Takes every entry waiting on the stream.
    static func drain(_ queue: RedisJobQueue) async throws -> [RedisJobQueue.Delivery] {
        var taken: [RedisJobQueue.Delivery] = []
        while let next = try await queue.readNew(consumer: "test", block: .milliseconds(10)) { taken.append(next) }
        return taken
    }

    /// A new video's job, taken: its coordinator's delivery.
    static func coordinator(on redis: RedisServer) async throws -> (queue: RedisJobQueue, video: UUID, delivery: RedisJobQueue.Delivery) {
        let queue = RedisJobQueue(url: redis.url)
        try await queue.prepare()
        let video = UUID()
        try await queue.enqueue(video)
        return (queue, video, try #require(try await drain(queue).first))
    }

    @Test func theStitchWaitsForTheAudioTaskAsForAChunk() async throws {
        let redis = try RedisServer()
        defer { redis.stop() }
        let (queue, video, coordinator) = try await Self.coordinator(on: redis)

        #expect(try await queue.planChunks(video, count: 3, seconds: 6, frames: 270, audioPreview: 3))
        #expect(try await !queue.planChunks(video, count: 3, seconds: 6, frames: 270, audioPreview: 3), "queued once")
        let tasks = try await Self.drain(queue)
        #expect(tasks.map(\.task) == [.audio(count: 3, previewSegments: 3, seconds: 6), .chunk(index: 1, count: 3, seconds: 6),
                                      .chunk(index: 2, count: 3, seconds: 6)], "the audio task first")

        try await queue.chunkEncoded(coordinator, index: 0, frames: 90, seconds: 6)
        for chunk in tasks.dropFirst() { try await queue.chunkEncoded(chunk, index: chunk.task.chunkIndex, frames: 90, seconds: 6) }
        #expect(try await Self.drain(queue).isEmpty, "every chunk is done, the audio is not: no stitch yet")
        let tally = try await queue.chunkProgress(video, index: 2, frames: 90)
        #expect(tally.chunksDone == 3 && tally.chunks == 3 && tally.framesDone == 270, "\(tally)")

        try await queue.chunkEncoded(tasks[0], index: nil, frames: 0, seconds: 6)
        #expect(try await Self.drain(queue).map(\.task) == [.stitch(count: 3, seconds: 6)])
        #expect(try await queue.doneChunks(video) == [0, 1, 2])
        #expect(try await queue.chunkProgress(video, index: 2, frames: 90).chunksDone == 3, "the audio task is no chunk")
    }

    @Test func withoutAnAudioTaskTheLastChunkQueuesTheStitch() async throws {
        let redis = try RedisServer()
        defer { redis.stop() }
        let (queue, video, coordinator) = try await Self.coordinator(on: redis)
        try await queue.planChunks(video, count: 2, seconds: 6, frames: 180, audioPreview: nil)
        let chunk = try #require(try await Self.drain(queue).first)
        #expect(chunk.task == .chunk(index: 1, count: 2, seconds: 6))
        try await queue.chunkEncoded(chunk, index: 1, frames: 90, seconds: 6)
        try await queue.chunkEncoded(coordinator, index: 0, frames: 90, seconds: 6)
        #expect(try await Self.drain(queue).map(\.task) == [.stitch(count: 2, seconds: 6)])
    }

    /// The EVENT playlists read the audio task's list from where they left off; an entry
    /// that is not a segment, or names a file out of the ladder, is counted as read, and skipped.
    @Test func theAudioListIsReadFromAnOffsetAndClearedWithTheRest() async throws {
        let redis = try RedisServer()
        defer { redis.stop() }
        let queue = RedisJobQueue(url: redis.url)
        let video = UUID()
        let segment = { (index: Int) in
            PublishedSegment(rendition: "audio", index: index, uri: "segment_0000\(index).m4s", duration: 2, bytes: 100)
        }
        try await queue.audioSegmentStored(video, segment(3))
        try await queue.audioSegmentStored(video, segment(4))
        let connection = try RedisConnection(url: redis.url)
        try connection.command("RPUSH", RedisJobQueue.chunkKeys(video)[3], "not a segment")
        // Named out of the ladder: the EVENT playlist would be written at that path.
        let outside = PublishedSegment(rendition: "../../other-video/audio", index: 6, uri: "segment_00006.m4s", duration: 2, bytes: 1)
        try connection.command("RPUSH", RedisJobQueue.chunkKeys(video)[3], String(decoding: try JSONEncoder().encode(outside), as: UTF8.self))
        try await queue.audioSegmentStored(video, segment(5))

        let all = try await queue.audioSegments(video)
        #expect(all.segments.map(\.index) == [3, 4, 5] && all.entries == 5)
        let rest = try await queue.audioSegments(video, from: 2)
        #expect(rest.segments.map(\.index) == [5] && rest.entries == 3)
        #expect(try await queue.audioSegments(video, from: 5).entries == 0)
        #expect(try await queue.audioSegments(video, from: RedisJobQueue.maxAudioSegments).entries == 0)
        try await queue.clearChunks(video)
        #expect(try await queue.audioSegments(video).entries == 0)
    }
}

extension JobTask {
    /// A chunk task's index (0 for any other task).
    var chunkIndex: Int {
        if case .chunk(let index, _, _) = self { index } else { 0 }
    }
}
