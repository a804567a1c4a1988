import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import StreamServer

/// What the stranger probe of issue 20 found, each as the request it made. Every test
/// failed before the fix.
@Suite("The stranger probe's findings", .serialized)
struct ProbeFindingsTests {
    /// An unsigned part PUT used to answer before checking the signature: 409 for a
    /// READY or PROCESSING video, 400 "out of range 1...1" for a small one, 404 for an
    /// unknown id. A private video must now be indistinguishable from a missing one.
    @Test func anUnsignedPartPutOnAPrivateVideoAnswersExactlyAsAnUnknownId() async throws {
        let state = try await makeState { $0.embeddedWorker = false }
        try await buildApplication(state).test(.router) { client in
            let upload = UploadDriver(client: client, file: fixture("no_audio.mp4"))
            let uploading = try await upload.create(visibility: "private")
            let completed = try await upload.create(visibility: "private")
            let signed = try #require(try await upload.sign(completed.videoID, [1])[1])
            #expect(try await upload.put(1, url: signed).status == 200)
            #expect(try await upload.complete(completed.videoID) == 202, "PROCESSING now (no worker in this test)")

            func answer(_ id: String, part: Int, query: String) async throws -> (HTTPResponse.Status, String) {
                try await client.execute(uri: "/api/uploads/\(id)/parts/\(part)?\(query)", method: .put,
                                         body: ByteBuffer(string: "x")) { ($0.status, String(buffer: $0.body)) }
            }
            for query in ["expires=1&signature=00", "expires=99999999999&signature=00", ""] {
                let unknown = try await answer(UUID().uuidString.lowercased(), part: 1, query: query)
                #expect(unknown.0 == .forbidden)
                for id in [uploading.videoID, completed.videoID] {
                    for part in [1, 2, 10_001] {
                        let probed = try await answer(id, part: part, query: query)
                        #expect(probed == unknown, "part \(part) of a private video with ?\(query)")
                    }
                }
            }
        }
    }

    /// `Bearer vso_!!!` (any owner-token-shaped credential that is not one) was taken
    /// as no credential at all; the README promises 401.
    @Test(arguments: ["vso_!!!", "vso_", "vso_" + String(repeating: "A", count: 42), "vso_" + String(repeating: "A", count: 44),
                      "vso_" + String(repeating: "!", count: 43)])
    func aMalformedOwnerTokenGets401(_ token: String) async throws {
        let state = try await makeState()
        try await buildApplication(state).test(.router) { client in
            for (method, uri, body) in [(HTTPRequest.Method.get, "/api/videos", nil as String?),
                                        (.post, "/api/uploads", #"{"filename":"a.mp4","size":1000,"contentType":"video/mp4","lastModified":1}"#)] {
                let answer = try await client.json(method, uri, body, token: token)
                #expect(answer.status == 401, "\(method) \(uri)")
                #expect(answer.object["error"] as? String == "the owner token is malformed")
            }
            // A well-formed token that owns nothing is still a credential: it sees no video.
            let wellFormed = try await client.json(.get, "/api/videos?owner=me", token: "vso_" + String(repeating: "A", count: 43))
            #expect(wellFormed.status == 200)
        }
    }

    /// HEAD on `/hls/...` answered 404; players and CDNs send it. `bytes=-0` answered
    /// 200 with the whole file instead of 416.
    @Test func headOnASegmentGivesItsHeadersAndAnEmptySuffixRangeGets416() async throws {
        let state = try await makeState { $0.embeddedWorker = false }
        try await buildApplication(state).test(.router) { client in
            let upload = UploadDriver(client: client, file: fixture("no_audio.mp4"))
            let id = try await upload.create().videoID
            let uuid = try #require(UUID(uuidString: id))
            let video = try #require(try await state.store.video(uuid))
            // A segment as the engine stores it, under the video's prefix.
            let segment = FileManager.default.temporaryDirectory.appendingPathComponent("segment-\(UUID().uuidString).m4s")
            defer { try? FileManager.default.removeItem(at: segment) }
            let bytes = Data((0..<70_001).map { UInt8(truncatingIfNeeded: $0 &* 31) })
            try bytes.write(to: segment)
            try await state.storage.put(file: segment, key: "\(video.hlsPrefix)/360p/segment_00000.m4s", type: .forPath("segment_00000.m4s"))
            let uri = "/hls/\(id)/360p/segment_00000.m4s"

            try await client.execute(uri: uri, method: .head) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentLength] == "70001")
                #expect(response.headers[.contentType] == "video/iso.segment")
                #expect(response.headers[.acceptRanges] == "bytes")
                #expect(response.body.readableBytes == 0)
            }
            try await client.execute(uri: uri, method: .head, headers: [.range: "bytes=100-199"]) { response in
                #expect(response.status == .partialContent)
                #expect(response.headers[.contentLength] == "100")
                #expect(response.headers[.contentRange] == "bytes 100-199/70001")
            }
            try await client.execute(uri: "/hls/\(id)/360p/segment_00001.m4s", method: .head) { #expect($0.status == .notFound) }
            for unsatisfiable in ["bytes=-0", "bytes=70001-", "bytes=80000-90000"] {
                try await client.execute(uri: uri, method: .get, headers: [.range: unsatisfiable]) { response in
                    #expect(response.status == .rangeNotSatisfiable, "\(unsatisfiable)")
                    #expect(response.headers[.contentRange] == "bytes */70001")
                }
            }
            try await client.execute(uri: uri, method: .get, headers: [.range: "bytes=-10"]) { response in
                #expect(response.status == .partialContent && Data(response.body.readableBytesView) == bytes.suffix(10))
            }
            try await client.execute(uri: uri, method: .get, headers: [.range: "bytes=69990-"]) { response in
                #expect(response.status == .partialContent && Data(response.body.readableBytesView) == bytes.suffix(11))
            }
            try await client.execute(uri: uri, method: .get) { response in
                #expect(response.status == .ok && Data(response.body.readableBytesView) == bytes)
            }
            // The API's GET routes answer HEAD too.
            try await client.execute(uri: "/api/videos/\(id)", method: .head) { #expect($0.status == .ok) }
            try await client.execute(uri: "/healthz", method: .head) { #expect($0.status == .ok) }
        }
    }

    @Test func byteRangesFollowRFC9110() {
        #expect(ByteRange.parse(nil, size: 10) == .whole)
        #expect(ByteRange.parse("bytes=0-0", size: 10) == .range(0..<1))
        #expect(ByteRange.parse("bytes=2-", size: 10) == .range(2..<10))
        #expect(ByteRange.parse("bytes=2-999", size: 10) == .range(2..<10))
        #expect(ByteRange.parse("bytes=-3", size: 10) == .range(7..<10))
        #expect(ByteRange.parse("bytes=-30", size: 10) == .range(0..<10))
        #expect(ByteRange.parse("bytes=-0", size: 10) == .unsatisfiable)
        #expect(ByteRange.parse("bytes=10-", size: 10) == .unsatisfiable)
        #expect(ByteRange.parse("bytes=0-", size: 0) == .unsatisfiable)
        #expect(ByteRange.parse("bytes=5-2", size: 10) == .whole, "an invalid range is ignored")
        #expect(ByteRange.parse("bytes=0-1,4-5", size: 10) == .whole, "several ranges are not served")
        #expect(ByteRange.parse("bytes=a-b", size: 10) == .whole)
        #expect(ByteRange.parse("bytes=-", size: 10) == .whole)
        #expect(ByteRange.parse("items=0-1", size: 10) == .whole)
        #expect(ByteRange.parse("bytes=99999999999999999999-", size: 10) == .whole)
    }
}
