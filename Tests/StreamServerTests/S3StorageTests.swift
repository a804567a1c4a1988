import Foundation
import Synchronization
import Testing
@testable import StreamServer

/// S3Storage against a real SeaweedFS: the signer, multipart uploads through presigned
/// part URLs, paging, and what R2 refuses.
extension SeaweedFSTests {
@Suite("S3 storage on SeaweedFS", .serialized)
struct S3StorageTests {
    /// A presigned PUT from "the browser": no credentials, only the URL.
    func browserPut(_ url: String, _ data: Data, origin: String? = nil) throws -> HTTPTransfer.Response {
        var headers: [String: String] = [:]
        if let origin { headers["origin"] = origin }
        return try HTTPTransfer.perform(method: "PUT", url: url, headers: headers, body: .data(data))
    }

    @Test func presignedPartsListCompleteAndRead() async throws {
        let server = try SeaweedFS()
        defer { server.stop() }
        let storage = try await server.ready()
        let key = "uploads/\(UUID().uuidString.lowercased())/source"
        let uploadID = try await storage.createMultipartUpload(key: key)
        let part1 = Data((0..<(5 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) })  // S3's 5 MiB minimum
        let part2 = Data("the last part may be small".utf8)
        var etags: [Int: String] = [:]
        for (number, data) in [(1, part1), (2, part2)] {
            let response = try browserPut(storage.partUploadURL(key: key, uploadID: uploadID, partNumber: number, expires: 3600), data)
            #expect(response.status == 200)
            etags[number] = response.headers["etag"]
        }
        let listed = try await storage.listParts(key: key, uploadID: uploadID)
        #expect(listed.map(\.partNumber) == [1, 2])
        #expect(listed.map(\.size) == [Int64(part1.count), Int64(part2.count)])
        #expect(listed.map { "\"\($0.etag)\"" } == [etags[1], etags[2]])

        try await storage.completeMultipartUpload(key: key, uploadID: uploadID, parts: listed.map { ($0.partNumber, $0.etag) })
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("s3-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: copy) }
        try await storage.fetch(key: key, to: copy)
        #expect(try Data(contentsOf: copy) == part1 + part2)
    }

    /// Requests reuse the bucket's connections (`CurlHandles`): to R2 over HTTPS a new one
    /// costs two round trips more than the request. Ten calls one after another open at
    /// most one; 32 puts 8 at a time open at most 8, and every object reads back whole.
    @Test func requestsReuseTheBucketsConnections() async throws {
        let server = try SeaweedFS()
        defer { server.stop() }
        let storage = try await server.ready()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("reuse-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let files = try (0..<32).map { index in
            let file = folder.appendingPathComponent("segment_\(index).m4s")
            try Data((0..<(40_000 + index)).map { UInt8(truncatingIfNeeded: $0 &* (index + 7)) }).write(to: file)
            return file
        }

        var opened = 0
        for index in 0..<10 {
            opened += try await storage.request("PUT", path: storage.path("one/\(index)"), body: .file(files[index])).connectionsOpened
        }
        #expect(opened <= 1, "one after another: \(opened) connections for 10 requests")

        let atOnce = Mutex(0)
        try await forEach(Array(files.enumerated()), atOnce: 8) { index, file in
            let response = try await storage.request("PUT", path: storage.path("many/\(index)"), body: .file(file))
            atOnce.withLock { $0 += response.connectionsOpened }
        }
        #expect(atOnce.withLock { $0 } <= 8, "8 at a time: \(atOnce.withLock { $0 }) connections for 32 requests")
        for (index, file) in files.enumerated() {
            #expect(try await storage.data(key: "many/\(index)") == Data(contentsOf: file))
        }
    }

    @Test func listPartsFollowsThePaging() async throws {
        let server = try SeaweedFS()
        defer { server.stop() }
        let storage = try await server.ready()
        let key = "uploads/paging/source"
        let uploadID = try await storage.createMultipartUpload(key: key)
        for number in 1...5 {
            _ = try browserPut(storage.partUploadURL(key: key, uploadID: uploadID, partNumber: number, expires: 600), Data([UInt8(number)]))
        }
        let parts = try await storage.listParts(key: key, uploadID: uploadID, pageSize: 2)
        #expect(parts.map(\.partNumber) == [1, 2, 3, 4, 5])
    }

    @Test func expiredAndTamperedURLsAreRefused() async throws {
        let server = try SeaweedFS()
        defer { server.stop() }
        let storage = try await server.ready()
        let key = "uploads/refused/source"
        let uploadID = try await storage.createMultipartUpload(key: key)
        let expired = storage.partUploadURL(key: key, uploadID: uploadID, partNumber: 1, expires: 60,
                                            now: Date().addingTimeInterval(-3600))
        #expect(try browserPut(expired, Data("x".utf8)).status == 403)
        let good = storage.partUploadURL(key: key, uploadID: uploadID, partNumber: 1, expires: 600)
        let tampered = good.replacingOccurrences(of: "partNumber=1", with: "partNumber=2")
        #expect(try browserPut(tampered, Data("x".utf8)).status == 403)
        let forged = String(good.dropLast(6)) + "000000"
        #expect(try browserPut(forged, Data("x".utf8)).status == 403)
        #expect(try await storage.listParts(key: key, uploadID: uploadID).isEmpty, "nothing was stored")
    }

    @Test func abortRemovesTheUpload() async throws {
        let server = try SeaweedFS()
        defer { server.stop() }
        let storage = try await server.ready()
        let key = "uploads/aborted/source"
        let uploadID = try await storage.createMultipartUpload(key: key)
        _ = try browserPut(storage.partUploadURL(key: key, uploadID: uploadID, partNumber: 1, expires: 600), Data("x".utf8))
        try await storage.abortMultipartUpload(key: key, uploadID: uploadID)
        await #expect(throws: S3Storage.Failure.self) { try await storage.listParts(key: key, uploadID: uploadID) }
    }

    @Test func objectsWithTypesAndPrefixDeletion() async throws {
        let server = try SeaweedFS()
        defer { server.stop() }
        let storage = try await server.ready()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("playlist-\(UUID().uuidString).m3u8")
        try "#EXTM3U\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        for name in ["master.m3u8", "360p/index.m3u8"] {
            try await storage.put(file: file, key: "hls/v1/\(name)", contentType: "application/vnd.apple.mpegurl",
                                  cacheControl: "public, max-age=60")
        }
        let head = try await storage.request("HEAD", path: "/vstream/hls/v1/master.m3u8")
        #expect(head.headers["content-type"] == "application/vnd.apple.mpegurl")
        #expect(head.headers["cache-control"] == "public, max-age=60")
        try await storage.deletePrefix("hls/v1")
        await #expect(throws: S3Storage.Failure.self) { try await storage.request("HEAD", path: "/vstream/hls/v1/360p/index.m3u8") }
    }

    /// A ladder's worth of objects, more than a page of ListObjectsV2 and more than one
    /// DeleteObjects request, and names that XML must escape: copied to another prefix, then
    /// both deleted, to the last object.
    @Test func wholePrefixesAreCopiedAndDeletedPastAThousandObjects() async throws {
        let server = try SeaweedFS()
        defer { server.stop() }
        let storage = try await server.ready()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("segment-\(UUID().uuidString).vtt")
        try "WEBVTT\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let names = (0..<1003).map { String(format: "captions/eng/segment_%05d.vtt", $0) } + ["odd/a&b <c> 'd'.vtt", "odd/é ü.vtt"]
        try await storage.put(names.map { (file: file, key: "hls/film/\($0)") })
        #expect(try await storage.keys(under: "hls/film").count == names.count)

        try await storage.copyPrefix(from: "hls/film", to: "private/hls/film")
        #expect(Set(try await storage.keys(under: "private/hls/film")) == Set(names.map { "private/hls/film/\($0)" }))
        let copied = try await storage.request("HEAD", path: "/vstream/private/hls/film/captions/eng/segment_01002.vtt")
        #expect(copied.headers["content-type"]?.hasPrefix("text/vtt") == true, "the copy keeps its type")

        // Named keys (a caption track's files), the XML-escaped ones among them.
        let named = ["odd/a&b <c> 'd'.vtt", "odd/é ü.vtt", "captions/eng/segment_00000.vtt"].map { "hls/film/\($0)" }
        try await storage.delete(keys: named)
        #expect(Set(try await storage.keys(under: "hls/film")) == Set(names.map { "hls/film/\($0)" }).subtracting(named))

        try await storage.deletePrefix("hls/film")
        #expect(try await storage.keys(under: "hls/film").isEmpty)
        #expect(try await storage.keys(under: "private/hls/film").count == names.count, "another prefix is left alone")
        try await storage.deletePrefix("private/hls/film")
        #expect(try await storage.keys(under: "private/hls").isEmpty)
    }
}
}
