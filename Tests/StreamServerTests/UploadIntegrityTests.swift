import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import StreamServer

/// Uploads keep their integrity against a client that lies, and against retries:
/// `complete` checks every part's size from storage, a retried `complete` or `abort`
/// does not fail for ever, abandoned uploads and scratch folders are swept, and a full
/// disk refuses new uploads.
@Suite("Upload integrity")
struct UploadIntegrityTests {
    static let declared = #"{"filename":"a.mp4","size":1,"contentType":"video/mp4","lastModified":1}"#

    @Test func partSizesMustMakeTheDeclaredFile() throws {
        let ten = UploadPlan.partSize
        func parts(_ sizes: [Int64]) -> [UploadedPart] {
            sizes.enumerated().map { UploadedPart(partNumber: $0.offset + 1, etag: "e", size: $0.element) }
        }
        try PartSizeCheck.verify(parts([ten, ten, 5]), declaredSize: 2 * ten + 5, partCount: 3)
        try PartSizeCheck.verify(parts([1]), declaredSize: 1, partCount: 1)
        for (sizes, size, count) in [([5 << 30], Int64(1), 1),           // 1 byte declared, 5 GiB stored
                                     ([ten, ten, 6], 2 * ten + 5, 3),     // the last part too long
                                     ([ten - 1, ten, 5], 2 * ten + 5, 3), // a short middle part
                                     ([ten, 5], 2 * ten + 5, 3),          // a part missing
                                     ([ten, ten, 5, 1], 2 * ten + 5, 3)] as [([Int64], Int64, Int)] {
            #expect(throws: APIError.self, "\(sizes)") { try PartSizeCheck.verify(parts(sizes), declaredSize: size, partCount: count) }
        }
    }

    /// The embedded default: a part missing at `complete` is 400 and nothing is
    /// processed; a retried `complete` after success answers 202 again.
    @Test func completeChecksTheStoredPartsLocallyAndIsSafeToRetry() async throws {
        let state = try await makeState { $0.embeddedWorker = false }
        try await buildApplication(state).test(.router) { client in
            let upload = UploadDriver(client: client, file: fixture("upload_30mb.mp4"))
            let (id, count) = try await upload.create()
            #expect(count == 3)
            let urls = try await upload.sign(id, [1, 2, 3])
            // A body that ends short (but cleanly) is refused and leaves nothing listed.
            let short = try await client.execute(uri: try #require(urls[1]), method: .put,
                                                 body: ByteBuffer(bytes: upload.data.prefix(1000))) { $0.status.code }
            #expect(short == 400)
            let none = try await client.json(.get, "/api/uploads/\(id)/parts", token: upload.token(id)).object["parts"] as? [[String: Any]] ?? []
            #expect(none.isEmpty, "\(none)")
            for part in [1, 3] { #expect(try await upload.put(part, url: try #require(urls[part])).status == 200) }
            let listed = try await client.json(.get, "/api/uploads/\(id)/parts", token: upload.token(id)).object["parts"] as? [[String: Any]] ?? []
            let claimed = listed.map { #"{"partNumber":\#($0["partNumber"] ?? 0),"etag":"\#($0["etag"] ?? "")"}"# }
                + [#"{"partNumber":2,"etag":"forged"}"#]
            let forged = try await client.json(.post, "/api/uploads/\(id)/complete", #"{"parts":[\#(claimed.joined(separator: ","))]}"#,
                                             token: upload.token(id))
            #expect(forged.status == 400)
            let videoID = try #require(UUID(uuidString: id))
            #expect(try await state.store.video(videoID)?.status == .uploading)

            #expect(try await upload.put(2, url: try #require(urls[2])).status == 200)
            #expect(try await upload.complete(id) == 202)
            let again = try await client.json(.post, "/api/uploads/\(id)/complete", #"{"parts":[]}"#, token: upload.token(id))
            #expect(again.status == 202, "\(again.object)")
            #expect(try await state.store.video(videoID)?.status == .processing)
        }
    }

    @Test func aFullDiskRefusesNewUploadsWith507() async throws {
        let state = try await makeState { $0.minFreeMiB = Int.max >> 21 }
        try await buildApplication(state).test(.router) { client in
            let created = try await client.json(.post, "/api/uploads", Self.declared)
            #expect(created.status == 507)
            #expect(try await state.store.videos(limit: 10).isEmpty)
        }
    }

    @Test func abandonedUploadsAndDeadAttemptsScratchAreSwept() async throws {
        let state = try await makeState()
        try await buildApplication(state).test(.router) { client in
            let created = try await client.json(.post, "/api/uploads", Self.declared)
            let id = try #require(UUID(uuidString: created.object["videoId"] as? String ?? ""))
            let video = try #require(try await state.store.video(id))
            // Not yet abandoned: kept.
            #expect(await Housekeeping.sweepAbandonedUploads(state, ttl: 3600, logger: .init(label: "test")) == 0)
            let later = Date().addingTimeInterval(2 * 3600)
            #expect(await Housekeeping.sweepAbandonedUploads(state, ttl: 3600, now: later, logger: .init(label: "test")) == 1)
            #expect(try await state.store.video(id) == nil)
            await #expect(throws: StorageError.self) {
                _ = try await state.storage.listParts(key: video.sourceKey, uploadID: video.uploadID ?? "")
            }
        }
        let scratch = URL(fileURLWithPath: state.configuration.dataDirectory).appendingPathComponent("scratch")
        let mine = scratch.appendingPathComponent(Housekeeping.scratchName(for: UUID()))
        let dead = scratch.appendingPathComponent("\(UUID().uuidString)-p2147483646-abcd1234")
        for folder in [mine, dead] { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) }
        #expect(Housekeeping.sweepScratch(scratch) == 1)
        #expect(FileManager.default.fileExists(atPath: mine.path) && !FileManager.default.fileExists(atPath: dead.path))
    }
}

extension SeaweedFSTests {
@Suite("Upload integrity on SeaweedFS", .serialized)
struct S3UploadIntegrityTests {
    /// Presigned URLs sign only the host and the part: a client that declared 1 byte can
    /// PUT far more. `complete` reads the sizes from ListParts and refuses.
    @Test func aPartLargerThanDeclaredIsRefusedAtCompleteAndNothingIsProcessed() async throws {
        let seaweed = try SeaweedFS()
        defer { seaweed.stop() }
        _ = try await seaweed.ready()
        let state = try await makeState { $0.s3 = seaweed.configuration }
        try await buildApplication(state).test(.router) { client in
            let upload = UploadDriver(client: client, file: fixture("no_audio.mp4"))
            let (id, count) = try await upload.create(size: 1)
            #expect(count == 1)
            let url = try #require(try await upload.sign(id, [1])[1])
            let put = try HTTPTransfer.perform(method: "PUT", url: url, headers: [:], body: .data(upload.data))
            #expect(put.status == 200, "the bucket takes it: the URL does not sign a length")
            #expect(try await upload.complete(id) == 400)
            let videoID = try #require(UUID(uuidString: id))
            let row = try #require(try await state.store.video(videoID))
            #expect(row.status == .uploading)
        }
    }

    /// The answer to CompleteMultipartUpload was lost; the client asks again. Storage no
    /// longer knows the upload, but the object is there at the declared size: 202.
    /// Aborting an upload storage has already dropped is done too.
    @Test func aRetriedCompleteAndARepeatedAbortSucceed() async throws {
        let seaweed = try SeaweedFS()
        defer { seaweed.stop() }
        _ = try await seaweed.ready()
        let state = try await makeState { $0.s3 = seaweed.configuration; $0.embeddedWorker = false }
        try await buildApplication(state).test(.router) { client in
            let upload = UploadDriver(client: client, file: fixture("no_audio.mp4"))
            let (id, _) = try await upload.create()
            let url = try #require(try await upload.sign(id, [1])[1])
            let put = try HTTPTransfer.perform(method: "PUT", url: url, headers: [:], body: .data(upload.data))
            let etag = try #require(put.headers["etag"])
            let videoID = try #require(UUID(uuidString: id))
            let row = try #require(try await state.store.video(videoID))
            // The first complete reached storage; its answer never reached the client.
            try await state.storage.completeMultipartUpload(key: row.sourceKey, uploadID: row.uploadID ?? "",
                                                            parts: [(1, etag)])
            let retried = try await client.json(.post, "/api/uploads/\(id)/complete",
                                                #"{"parts":[{"partNumber":1,"etag":\#(etag)}]}"#, token: upload.token(id))
            #expect(retried.status == 202, "\(retried.object)")
            #expect(try await state.store.video(row.id)?.status == .processing)

            try await state.storage.abortMultipartUpload(key: row.sourceKey, uploadID: row.uploadID ?? "")
            try await state.storage.abortMultipartUpload(key: row.sourceKey, uploadID: "no-such-upload")
        }
    }
}
}
