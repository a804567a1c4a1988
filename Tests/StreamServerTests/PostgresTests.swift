import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import StreamServer

@Suite("PostgreSQL metadata", .serialized)
struct PostgresTests {
    @Test func migrationsRunTwiceWithoutHarm() async throws {
        let postgres = try PostgreSQL()
        defer { postgres.stop() }
        let first = try PostgresStore(url: postgres.url)
        let now = Date()
        let id = UUID()
        try await first.insert(VideoRecord(id: id, title: "t", originalFilename: "t.mp4", size: 1, contentType: "video/mp4",
                                           lastModified: 1, status: .uploading, sourceKey: "uploads/x/source",
                                           hlsPrefix: "hls/x", partCount: 1, createdAt: now, updatedAt: now))
        let second = try PostgresStore(url: postgres.url)
        #expect(try await second.video(id)?.title == "t")
        #expect(try await second.videos(limit: 10).count == 1)
        // The conditional update only applies from the expected state.
        var record = try #require(try await second.video(id))
        record.status = .processing
        #expect(try await second.update(record, expected: .ready) == false)
        #expect(try await second.update(record, expected: .uploading) == true)
        #expect(try await second.video(id)?.status == .processing)
    }

    @Test func aJobWritesTheRowOnlyAtStateChanges() async throws {
        let postgres = try PostgreSQL()
        defer { postgres.stop() }
        let state = try await makeState { $0.databaseURL = postgres.url }
        let store = try #require(state.store as? PostgresStore)
        let app = buildApplication(state)
        try await app.test(.router) { client in
            let upload = UploadDriver(client: client, file: fixture("h264_1080p30_stereo.mp4"))
            let (id, _) = try await upload.create()
            #expect(try await upload.put(1, url: try #require(try await upload.sign(id, [1])[1])).status == 200)
            #expect(try await upload.complete(id) == 202)
            let events = try await upload.events(id)
            #expect(events.filter { $0.event == "progress" }.count >= 3, "progress went out many times")
            #expect(events.last?.event == "ready")

            let videoID = try #require(UUID(uuidString: id))
            let row = try #require(try await store.video(videoID))
            #expect(row.status == .ready && row.durationSeconds == 5 && row.width == 1920 && row.height == 1080)
            #expect(row.renditions?.contains { $0.name == "720p" } == true)
            // One insert (UPLOADING), three updates (PROCESSING, the attempt's start, READY):
            // none per progress tick. The attempt is counted so a file that kills its
            // transcoder, or the server, ends FAILED after VSTREAM_MAX_ATTEMPTS, across restarts.
            let statistics = try await store.writeStatistics()
            #expect(statistics.inserts == 1 && statistics.updates == 3, "\(statistics)")
        }
    }
}
