import Foundation
import HLSEngine
import Testing
@testable import StreamServer

/// The owner deletes a video while two workers encode its chunks: nothing of it is left
/// behind, in the bucket, in Redis or on the stream, and the workers go on to the next video.
extension SeaweedFSTests {
@Suite("Deleting a chunked video mid-transcode", .serialized, .timeLimit(.minutes(4)))
struct ChunkedDeletionTests {
    @Test func aVideoDeletedWhileItsChunksEncodeLeavesNothingBehind() async throws {
        let cluster = try await Cluster()
        defer { cluster.stop() }
        let api = try await cluster.startAPI("api")
        try ["w1", "w2"].forEach { try cluster.startWorker($0, environment: ChunkedClusterTests.environment) }
        let id = try await cluster.submit(file: ChunkedClusterTests.source)
        let prefix = Cluster.prefix(id)

        // Mid-transcode: the chunks are planned and some of the video is stored, but not all.
        try await cluster.waitForProgress(id, timeout: .seconds(120)) { fields in
            guard let json = fields["event"], let event = try? JSONDecoder().decode(VideoEvent.self, from: Data(json.utf8)),
                  let chunks = event.chunks else { return false }
            return chunks.total == 5 && chunks.done >= 1 && chunks.done < 5
        }
        let deletion = try await VideoEditTests.send("DELETE", api.url("/api/videos/\(id.uuidString.lowercased())"), body: "")
        #expect(deletion.status == 204, "\(String(decoding: deletion.body, as: UTF8.self))")
        #expect(try await cluster.store.video(id) == nil)

        // Every task of the video ends (each stops, or finds the row gone), and each removes
        // what it stored after the purge.
        #expect(try await cluster.settledPendingCount() == 0, "\(cluster.logs.suffix(3000))")
        let deadline = ContinuousClock.now + .seconds(60)
        var left = try await cluster.objects(under: prefix)
        while !left.isEmpty, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
            left = try await cluster.objects(under: prefix)
        }
        #expect(left.isEmpty, "left in the bucket: \(left.prefix(10))\n\(cluster.logs.suffix(3000))")
        #expect(await !cluster.sourceExists(id))
        let redis = try RedisConnection(url: cluster.redis.url)
        #expect(try RedisJobQueue.chunkKeys(id).allSatisfy { try redis.command("EXISTS", $0) == .integer(0) })
        #expect(try redis.command("ZCARD", RedisJobQueue.delayed) == .integer(0), "no retry of the deleted video is scheduled")
        #expect(try redis.command("SISMEMBER", RedisJobQueue.tracked, id.uuidString.lowercased()) == .integer(0))
        #expect(cluster.logLines(id, "state change", "status=READY").isEmpty)

        // The workers are free: the next video is READY.
        let next = try await cluster.submit("tiny_256x144.mp4")
        #expect(try await cluster.waitForFinal(next).status == .ready)
    }
}
}
