import ChildProcess
import Foundation
import Testing
@testable import StreamServer

/// Objects are served in bounded reads, never loaded whole. Before, every request for
/// `download.mp4` first read the whole object (a full GET in S3 mode), so each seek of
/// a player in a 1 GB MP4 cost 1 GB of memory and of transfer.
@Suite("Ranged reads", .serialized)
struct RangedReadTests {
    static let objectSize = 300 << 20
    static let requests = 200
    static let rangeSize = 1 << 20

    @Test func aLargeDownloadIsServedInRangesFromLocalStorageWithoutGrowingTheServer() async throws {
        let root = Self.folder()
        defer { try? FileManager.default.removeItem(at: root) }
        let serve = try await ServeProcess([], environment: Self.environment(root), log: root.appendingPathComponent("serve.log"))
        defer { serve.child.stop() }
        let id = try Self.createVideo(serve)
        let object = root.appendingPathComponent("data/objects/hls/\(id)/download.mp4")
        try FileManager.default.createDirectory(at: object.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Self.writePattern(to: object)
        try await Self.rangesAreExactAndMemoryStaysFlat(serve, url: serve.url("/hls/\(id)/download.mp4"), source: object)
    }

    @Test func aLargeDownloadIsServedInRangedGetsFromS3WithoutGrowingTheServer() async throws {
        let seaweed = try SeaweedFS()
        defer { seaweed.stop() }
        let bucket = try await seaweed.ready()
        let root = Self.folder()
        defer { try? FileManager.default.removeItem(at: root) }
        let secret = "ranged-read-test-playback-secret-0123456789"
        var environment = Self.environment(root)
        environment.merge(["R2_S3_API": seaweed.endpoint.absoluteString, "R2_BUCKET_NAME": "vstream", "S3_REGION": "us-east-1",
                           "R2_ACCESS_KEY_ID": SeaweedFS.accessKey, "R2_SECRET_ACCESS_KEY": SeaweedFS.secretKey,
                           "VSTREAM_PLAYBACK_SECRET": secret]) { $1 }
        let serve = try await ServeProcess([], environment: environment, log: root.appendingPathComponent("serve.log"))
        defer { serve.child.stop() }
        let id = try Self.createVideo(serve)
        let object = root.appendingPathComponent("download.mp4")
        try Self.writePattern(to: object)
        try await bucket.put(file: object, key: "hls/\(id)/download.mp4", contentType: "video/mp4", cacheControl: "no-cache")
        // In S3 mode the server reads through for the token route (a private video's path).
        let uuid = try #require(UUID(uuidString: id))
        let token = PlaybackTokens(secret: Data(secret.utf8)).token(for: uuid, expires: Date().addingTimeInterval(3600))
        try await Self.rangesAreExactAndMemoryStaysFlat(serve, url: serve.url("/hls/t/\(token)/\(id)/download.mp4"), source: object)
    }

    /// 200 ranges of 1 MiB at random offsets, 8 at a time: each body byte-exact, and the
    /// server's RSS grows by less than 30 MB over the run (the object is 300 MB).
    static func rangesAreExactAndMemoryStaysFlat(_ serve: ServeProcess, url: String, source: URL) async throws {
        let file = try FileHandle(forReadingFrom: source)
        defer { try? file.close() }
        var generator = SplitMix(seed: 20)
        let offsets = (0..<(requests + 16)).map { _ in Int(generator.next() % UInt64(objectSize - rangeSize)) }
        // A first few warm the server up (its allocator, the connection pool of S3).
        try await fetch(url, offsets.prefix(16), file: file)
        let before = try residentBytes(serve.child.pid)
        try await fetch(url, offsets.dropFirst(16), file: file)
        let after = try residentBytes(serve.child.pid)
        print("ranged reads: \(requests) × 1 MiB of a \(objectSize >> 20) MiB object; serve's RSS \(before >> 20) → \(after >> 20) MiB")
        #expect(after - before < 30 << 20, "RSS grew by \((after - before) >> 20) MiB serving \(requests) MiB of a \(objectSize >> 20) MB object")
        let head = try HTTPTransfer.perform(method: "HEAD", url: url, headers: [:], timeout: 30)
        #expect(head.status == 200 && head.headers["content-length"] == String(objectSize))
    }

    static func fetch(_ url: String, _ offsets: ArraySlice<Int>, file: FileHandle) async throws {
        let batches = stride(from: offsets.startIndex, to: offsets.endIndex, by: 8).map { offsets[$0..<min($0 + 8, offsets.endIndex)] }
        for batch in batches {
            let answers = try await withThrowingTaskGroup(of: (Int, HTTPTransfer.Response).self) { group in
                for offset in batch {
                    group.addTask {
                        let range = ["range": "bytes=\(offset)-\(offset + rangeSize - 1)"]
                        return (offset, try await OwnThread.run { try HTTPTransfer.perform(method: "GET", url: url, headers: range, timeout: 60) })
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            for (offset, answer) in answers {
                try file.seek(toOffset: UInt64(offset))
                let expected = try file.read(upToCount: rangeSize) ?? Data()
                #expect(answer.status == 206)
                #expect(answer.headers["content-range"] == "bytes \(offset)-\(offset + rangeSize - 1)/\(objectSize)")
                #expect(answer.body == expected, "the body of bytes=\(offset)-")
            }
        }
    }

    /// A video row to hang the object on: an anonymous upload, unlisted.
    static func createVideo(_ serve: ServeProcess) throws -> String {
        let body = #"{"filename":"big.mp4","size":1000,"contentType":"video/mp4","lastModified":1}"#
        let created = try HTTPTransfer.perform(method: "POST", url: serve.url("/api/uploads"),
                                               headers: ["content-type": "application/json"], body: .data(Data(body.utf8)))
        let object = try JSONSerialization.jsonObject(with: created.body) as? [String: Any]
        return try #require(object?["videoId"] as? String, "\(created.status)")
    }

    /// Every 8 bytes hold their own offset: a body from the wrong place cannot match.
    static func writePattern(to url: URL) throws {
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        for block in 0..<(objectSize >> 20) {
            let words = (0..<(1 << 17)).map { UInt64(block << 20 + $0 * 8).littleEndian }
            try handle.write(contentsOf: words.withUnsafeBytes { Data($0) })
        }
    }

    static func residentBytes(_ pid: pid_t) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") })
        let kilobytes = try #require(Int(line.split(whereSeparator: \.isWhitespace)[1]))
        return kilobytes << 10
    }

    static func folder() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vstream-ranges-\(UUID().uuidString.prefix(8))")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func environment(_ root: URL) -> [String: String] {
        ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "VSTREAM_DATA_DIR": root.appendingPathComponent("data").path,
         "VSTREAM_LOG_LEVEL": "warning"]
    }
}

/// A small seeded generator (SplitMix64): the same offsets on every run. Its arithmetic
/// wraps on purpose (&+, &*).
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
