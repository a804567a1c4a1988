import Foundation
import HLSEngine
import Logging
import Testing
@testable import StreamServer

/// The audio task's store (`AudioTaskStore`), on local storage and a real Redis: what a
/// viewer is served is one encode's segments, whatever order the engine's attempts came in.
@Suite("Audio task store", .serialized, .timeLimit(.minutes(1)))
struct AudioTaskStoreTests {
    struct Bench {
        let redis: RedisServer
        let root: URL
        let storage: LocalStorage
        let tasks: ChunkTasks
        let work: URL
        let video = UUID()
        let prefix = "hls/spans"

        init() throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("audio-task-store-\(UUID().uuidString)")
            work = root.appendingPathComponent("work")
            try FileManager.default.createDirectory(at: work.appendingPathComponent("audio"), withIntermediateDirectories: true)
            storage = try LocalStorage(root: root.appendingPathComponent("objects"))
            let job = TranscodeJob(storage: storage, store: try SQLiteStore(path: root.appendingPathComponent("meta.sqlite").path),
                                   publisher: ProgressHub(), scratch: root.appendingPathComponent("scratch"), playbackBase: "/")
            // Last, so that nothing after it can throw and leave the server running.
            redis = try RedisServer()
            tasks = ChunkTasks(job: job, queue: RedisJobQueue(url: redis.url), seconds: 4)
        }

        func stop() {
            redis.stop()
            try? FileManager.default.removeItem(at: root)
        }

        /// A new run of the task, on what storage holds now.
        func store() async throws -> AudioTaskStore {
            AudioTaskStore(tasks: tasks, video: video, prefix: prefix, output: work, previewSegments: 1,
                           existing: Set(try await storage.keys(under: prefix)), logger: Logger(label: "test"))
        }

        /// The engine closes segment `index` with `text` in it and reports it.
        func close(_ index: Int, _ text: String, replaces: Bool = false) -> PublishedSegment {
            let name = String(format: "segment_%05d.m4s", index)
            try? Data(text.utf8).write(to: work.appendingPathComponent("audio/\(name)"))
            return PublishedSegment(rendition: "audio", index: index, uri: name, duration: 2, bytes: Int64(text.utf8.count),
                                    replaces: replaces ? true : nil)
        }

        /// What a viewer gets for segment `index` (0 waits for the stitch under `.chunks/audio/`).
        func served(_ index: Int) async throws -> String? {
            let name = String(format: "segment_%05d.m4s", index)
            let key = index == 0 ? ChunkTasks.waitingKey(prefix, "audio/\(name)") : "\(prefix)/audio/\(name)"
            return try await storage.data(key: key).map { String(decoding: $0, as: UTF8.self) }
        }
    }

    /// Spans stored segments 0 to 2, then one of them met a damaged packet and the task went
    /// back to one encoder, which reports every segment again as `replaces`. Before, the
    /// store kept the spans' copies (it stores a key once), so viewers were served two
    /// encodes mixed, with their samples placed differently past the damage.
    @Test func theOneEncodersSegmentsGoOverWhatAbandonedSpansStored() async throws {
        let bench = try Bench()
        defer { bench.stop() }
        let store = try await bench.store()
        for index in 0..<3 { try await store.store(bench.close(index, "span \(index)")) }
        #expect(try await bench.served(1) == "span 1")

        for index in 0..<4 { try await store.store(bench.close(index, "one encoder \(index)", replaces: true)) }
        for index in 0..<4 { #expect(try await bench.served(index) == "one encoder \(index)", "segment \(index)") }
        // The outline's pass after the run reports them as replacing again: stored once is enough.
        try await store.store(bench.close(2, "not this run's", replaces: true))
        #expect(try await bench.served(2) == "one encoder 2")
        // The EVENT playlists were told of each segment past the preview once.
        let told = try await bench.tasks.queue.audioSegments(bench.video)
        #expect(told.segments.map(\.index) == [1, 2, 3], "\(told.segments.map(\.index))")
    }

    /// A rerun of the task (its worker died) stores only what is missing when its spans
    /// succeed (the same bytes: the spans depend on the source alone), and writes over
    /// everything when it goes back to one encoder.
    @Test func aRerunKeepsWhatIsStoredUnlessItReplaces() async throws {
        let bench = try Bench()
        defer { bench.stop() }
        let first = try await bench.store()
        for index in 0..<2 { try await first.store(bench.close(index, "first run \(index)")) }

        let rerun = try await bench.store()
        try await rerun.store(bench.close(1, "rerun's span 1"))
        try await rerun.store(bench.close(2, "rerun's span 2"))
        #expect(try await bench.served(1) == "first run 1", "stored already: kept")
        #expect(try await bench.served(2) == "rerun's span 2")
        try await rerun.store(bench.close(1, "rerun's one encoder 1", replaces: true))
        #expect(try await bench.served(1) == "rerun's one encoder 1")
    }
}
