import Foundation
import HLSEngine
import Synchronization
import Testing
@testable import StreamServer

/// An S3 upload is transcoded while it is fetched: the engine reads it through a
/// `StreamingSource`, in this process or in a supervised child through the source relay.
/// The upload is a camera-style MP4 with its moov at the end (`upload_30mb.mp4`), whose
/// fetch holds at half the upload so the overlap shows.
extension SeaweedFSTests {
@Suite("Streaming source", .serialized)
struct StreamingSourceTests {
    static let moovAtEnd = "upload_30mb.mp4"

    /// The fixture's top-level boxes end with moov, as a phone writes them.
    @Test func theFixtureHasItsMoovAtTheEnd() throws {
        let data = try Data(contentsOf: fixture(Self.moovAtEnd))
        var offset = 0
        var boxes: [String] = []
        while offset + 8 <= data.count {
            let size = data[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
            boxes.append(String(decoding: data[offset + 4..<offset + 8], as: UTF8.self))
            guard size >= 8 else { break }
            offset += size
        }
        #expect(boxes.last == "moov")
        #expect(boxes.firstIndex(of: "mdat")! < boxes.firstIndex(of: "moov")!)
    }

    /// Uploads the fixture; returns its key and stored size.
    func uploadFixture(_ storage: S3Storage) async throws -> (key: String, size: Int64) {
        let key = "uploads/\(UUID().uuidString.lowercased())/source"
        try await storage.put(file: fixture(Self.moovAtEnd), key: key, contentType: "video/mp4", cacheControl: "no-cache")
        return (key, try #require(try await storage.size(key: key)))
    }

    /// Uploads the fixture and opens a source on it, in 1 MiB chunks, whose fetch holds
    /// short of half the upload until the test releases it (`hold`): what the engine
    /// publishes before that, it made from less than half. Before, the fetch paused 300 ms
    /// a chunk, a race that a loaded machine's engine could lose.
    func heldSource(_ storage: S3Storage, scratch: URL) async throws -> (StreamingSource, FetchHold, Int64) {
        let (key, size) = try await uploadFixture(storage)
        let hold = FetchHold(at: size / 2 - (1 << 20))
        let source = try StreamingSource(storage: storage, key: key, size: size, scratch: scratch, chunkBytes: 1 << 20, hold: hold)
        return (source, hold, size)
    }

    /// Releases `hold` after `seconds` if nothing did: an engine that cannot publish from
    /// half the upload then fails the test's check instead of hanging it.
    func releasing(_ hold: FetchHold, after seconds: Int = 120) -> Task<Void, Never> {
        Task {
            try? await Task.sleep(for: .seconds(seconds))
            hold.release()
        }
    }

    @Test func theEngineStartsBeforeTheFetchEndsAndReadsTheMoovWithARangedGet() async throws {
        let server = try SeaweedFS()
        defer { server.stop() }
        let storage = try await server.ready()
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("streaming-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let (source, hold, size) = try await heldSource(storage, scratch: work.appendingPathComponent("source"))
        let deadline = releasing(hold)
        defer { deadline.cancel() }
        source.start()

        var options = TranscodeOptions()
        options.progressive = true
        let transcoder = Transcoder(source: source, name: "upload", output: work.appendingPathComponent("hls").path, options: options)
        // How much had been fetched when the first segment of every rung was published.
        let fetchedAtPlayable = Mutex<Int64?>(nil)
        let watcher = Task {
            for await publication in transcoder.publications {
                if case .playable = publication {
                    fetchedAtPlayable.withLock { $0 = source.statistics.fetched }
                    hold.release()
                }
            }
        }
        let result = try await transcoder.run()
        await watcher.value
        await source.waitUntilComplete()

        let atPlayable = try #require(fetchedAtPlayable.withLock { $0 })
        #expect(atPlayable < size / 2, "playable only after \(atPlayable) of \(size) bytes were fetched")
        // The moov (10 kB at the end) came from a block or two, not from waiting for the fetch.
        #expect((1...2).contains(source.statistics.blockRequests))
        #expect(source.statistics.complete)
        #expect(result.sourceFrames == 300)
        #expect(result.renditions.allSatisfy { $0.frameCount == 300 })
        // The scratch file is the upload, byte for byte.
        #expect(try Data(contentsOf: work.appendingPathComponent("source")) == Data(contentsOf: fixture(Self.moovAtEnd)))
    }

    @Test func aSupervisedChildReadsTheUploadThroughTheRelay() async throws {
        let server = try SeaweedFS()
        defer { server.stop() }
        let storage = try await server.ready()
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("relayed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let (source, hold, size) = try await heldSource(storage, scratch: work.appendingPathComponent("source"))
        let deadline = releasing(hold)
        defer { deadline.cancel() }
        source.start()

        let fetchedAtFirstSegment = Mutex<Int64?>(nil)
        var options = TranscodeOptions()
        options.progressive = true
        let result = try await SupervisedTranscoder(limits: .init(executable: SupervisedTranscoderTests.vstream))
            .run(input: "upload", output: work.appendingPathComponent("hls").path, options: options, relaying: source,
                 onEvent: { _ in }, onPublication: { publication in
                     if case .segment = publication {
                         fetchedAtFirstSegment.withLock { $0 = $0 ?? source.statistics.fetched }
                         hold.release()
                     }
                 })
        #expect(result.sourceFrames == 300)
        #expect(result.renditions.allSatisfy { $0.frameCount == 300 })
        let atFirst = try #require(fetchedAtFirstSegment.withLock { $0 })
        #expect(atFirst < size / 2, "the first segment only after \(atFirst) of \(size) bytes were fetched")
    }

    /// The fetch follows the reads, a read-ahead ahead, instead of taking the whole upload
    /// at once; reading on resumes it, reading to the end gets every byte, in order, and a
    /// paused fetch that is cancelled ends.
    @Test func theFetchStaysWithinItsReadAheadOfTheReads() async throws {
        let server = try SeaweedFS()
        defer { server.stop() }
        let storage = try await server.ready()
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("paced-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let (key, size) = try await uploadFixture(storage)
        let upload = try Data(contentsOf: fixture(Self.moovAtEnd))
        let mebibyte: Int64 = 1 << 20
        let source = try StreamingSource(storage: storage, key: key, size: size, scratch: scratch,
                                         chunkBytes: mebibyte, readAheadBytes: 4 * mebibyte)
        source.start()

        // Nothing read yet: the fetch stops at the read-ahead (its last GET may end past it).
        func settled() async throws -> Int64 {
            var last: Int64 = -1
            for _ in 0..<100 {
                try await Task.sleep(for: .milliseconds(100))
                let now = source.statistics.fetched
                if now == last { return now }
                last = now
            }
            return last
        }
        let idle = try await settled()
        #expect(idle >= 4 * mebibyte && idle <= 5 * mebibyte, "fetched \(idle) bytes with nothing read")

        // Reading past the first 6 MiB moves the fetch on by as much.
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        var copy = Data()
        func read(until end: Int64) throws {
            while Int64(copy.count) < end {
                let count = try buffer.withUnsafeMutableBytes { bytes throws(TranscodeError.Reason) in
                    try source.read(at: Int64(copy.count), into: bytes)
                }
                guard count > 0 else { break }
                copy.append(contentsOf: buffer[0..<count])
            }
        }
        try read(until: 6 * mebibyte)
        let moved = try await settled()
        #expect(moved >= 10 * mebibyte && moved <= 11 * mebibyte, "fetched \(moved) bytes with 6 MiB read")
        #expect(!source.statistics.complete)

        try read(until: size)
        await source.waitUntilComplete()
        #expect(source.statistics.complete)
        #expect(copy == upload)
        #expect(try Data(contentsOf: scratch) == upload)

        // A paused fetch that is cancelled (the job's end, a deletion) ends, and a read fails.
        let abandoned = try StreamingSource(storage: storage, key: key, size: size, scratch: scratch,
                                            chunkBytes: mebibyte, readAheadBytes: 4 * mebibyte)
        abandoned.start()
        while abandoned.statistics.fetched < 4 * mebibyte { try await Task.sleep(for: .milliseconds(20)) }
        abandoned.cancel()
        // Watched from outside: a fetch that never ends must fail the test, not hang it.
        let ended = Mutex(false)
        Task { await abandoned.waitUntilComplete(); ended.withLock { $0 = true } }
        for _ in 0..<200 where !ended.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(50)) }
        #expect(ended.withLock { $0 }, "a cancelled fetch did not end within 10 s")
        #expect(!abandoned.statistics.complete)
        let afterCancel = buffer.withUnsafeMutableBytes { bytes in
            Result { () throws(TranscodeError.Reason) in try abandoned.read(at: 8 * mebibyte, into: bytes) }
        }
        guard case .failure(.io) = afterCancel else {
            Issue.record("a read past a cancelled fetch gave \(afterCancel)")
            return
        }
    }

    @Test func aMissingUploadIsATypedErrorNotAHang() async throws {
        let server = try SeaweedFS()
        defer { server.stop() }
        let storage = try await server.ready()
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("missing-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let source = try StreamingSource(storage: storage, key: "uploads/none/source", size: 1 << 20, scratch: scratch)
        source.start()
        let transcoder = Transcoder(source: source, name: "upload", output: scratch.path + "-hls")
        await #expect {
            _ = try await transcoder.run()
        } throws: { error in
            guard let error = error as? TranscodeError, case .io = error.reason else { return false }
            return true
        }
    }
}
}
