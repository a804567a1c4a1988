import Foundation
import Testing
@testable import StreamServer

/// A video's edit lease, in both metadata stores: one holder at a time, given back only by
/// its holder, taken over once it expires (a node that died holding it), and an edit that
/// waits too long for it answers 409.
@Suite("Video edit lease", .serialized)
struct EditLeaseTests {
    @Test func sqliteHoldsOneEditAtATime() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lease-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        try await Self.exercise(try SQLiteStore(path: path))
    }

    @Test func postgresHoldsOneEditAtATime() async throws {
        let postgres = try PostgreSQL()
        defer { postgres.stop() }
        try await Self.exercise(try PostgresStore(url: postgres.url))
    }

    static func exercise(_ store: any MetadataStore) async throws {
        let id = UUID()
        let now = Date()
        try await store.insert(VideoRecord(id: id, title: "t", originalFilename: "t.mp4", size: 1, contentType: "video/mp4",
                                           lastModified: 1, status: .ready, sourceKey: "uploads/x/source", hlsPrefix: "hls/x",
                                           partCount: 1, createdAt: now, updatedAt: now))
        #expect(try await store.takeEditLease(id, holder: "a", seconds: 60) == .taken)
        #expect(try await store.takeEditLease(id, holder: "b", seconds: 60) == .heldByAnother)
        #expect(try await store.takeEditLease(id, holder: "a", seconds: 60) == .taken, "its holder renews it")
        // Only the holder gives it back.
        try await store.releaseEditLease(id, holder: "b")
        #expect(try await store.takeEditLease(id, holder: "c", seconds: 60) == .heldByAnother)
        try await store.releaseEditLease(id, holder: "a")
        #expect(try await store.takeEditLease(id, holder: "b", seconds: 60) == .taken)
        try await store.releaseEditLease(id, holder: "b")
        #expect(try await store.takeEditLease(UUID(), holder: "a", seconds: 60) == .noSuchVideo)

        // An edit waiting past its patience for a lease held elsewhere answers 409; a gone
        // video, 404.
        #expect(try await store.takeEditLease(id, holder: "elsewhere", seconds: 60) == .taken)
        let edits = VideoEdits(store: store, patience: .milliseconds(300))
        await #expect(throws: APIError.conflict("another change to this video is in progress; try again")) {
            try await edits.run(id) { true }
        }
        await #expect(throws: APIError.notFound("no such video")) { try await edits.run(UUID()) { true } }
        try await store.releaseEditLease(id, holder: "elsewhere")
        #expect(try await edits.run(id) { 7 } == 7)
        // It gave the lease back, thrown or not.
        await #expect(throws: APIError.self) { try await edits.run(id) { () async throws -> Int in throw APIError.badRequest("x") } }
        #expect(try await store.takeEditLease(id, holder: "d", seconds: 0.3) == .taken)

        // A holder that died: its lease expires, and the next edit takes it.
        let deadline = ContinuousClock.now + .seconds(10)
        var outcome = EditLease.heldByAnother
        while outcome != .taken, ContinuousClock.now < deadline {
            outcome = try await store.takeEditLease(id, holder: "e", seconds: 60)
            if outcome != .taken { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(outcome == .taken)
        try await store.releaseEditLease(id, holder: "e")

        // A change that outlasts the lease (a film's thousands of caption files) keeps it: it
        // is renewed while the change runs. Another node tries to take it all along.
        let shortLeases = VideoEdits(store: store, patience: .milliseconds(300), leaseSeconds: 3)
        let intruderGotIn = try await shortLeases.run(id) {
            let end = ContinuousClock.now + .seconds(7)
            while ContinuousClock.now < end {
                if try await store.takeEditLease(id, holder: "intruder", seconds: 60) == .taken { return true }
                try await Task.sleep(for: .milliseconds(100))
            }
            return false
        }
        #expect(!intruderGotIn)
        #expect(try await store.takeEditLease(id, holder: "e", seconds: 60) == .taken, "given back after")

        // The row's other writes leave the lease alone.
        var record = try #require(try await store.video(id))
        record.error = "unchanged status"
        #expect(try await store.update(record, expected: .ready))
        #expect(try await store.takeEditLease(id, holder: "f", seconds: 60) == .heldByAnother)
    }
}
