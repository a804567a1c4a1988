import ChildProcess
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import StreamServer

/// `vstream serve` on S3-compatible storage (SeaweedFS): the browser's parts go straight
/// to the bucket through presigned URLs; the ladder lands there and plays from PUBLIC_BASE_URL.
extension SeaweedFSTests {
@Suite("Service on SeaweedFS", .serialized)
struct S3ServiceTests {
    @Test func uploadThroughPresignedURLsToAPlayableLadderInTheBucket() async throws {
        let seaweed = try SeaweedFS()
        defer { seaweed.stop() }
        _ = try await seaweed.ready()
        let state = try await makeState { configuration in
            configuration.s3 = seaweed.configuration
            configuration.publicBaseURL = "\(seaweed.endpoint.absoluteString)/vstream"
        }
        let app = buildApplication(state)
        // In-process client: a live one has a read timeout that a loaded CI machine can
        // exceed while the SSE stream waits for the transcode (the live path is covered
        // by the embedded-default API tests).
        try await app.test(.router) { client in
            let upload = UploadDriver(client: client, file: fixture("upload_30mb.mp4"))
            let data = upload.data
            let (id, count) = try await upload.create()
            let urls = try await upload.sign(id, Array(1...count))
            for part in 1...count {
                let url = try #require(urls[part])
                #expect(url.hasPrefix(seaweed.endpoint.absoluteString + "/vstream/uploads/"), "a presigned S3 URL")
                let slice = data[(part - 1) * 10_485_760..<min(part * 10_485_760, data.count)]
                let put = try HTTPTransfer.perform(method: "PUT", url: url, headers: [:], body: .data(Data(slice)))
                #expect(put.status == 200 && put.headers["etag"] != nil)
            }
            // ListParts comes from the bucket.
            let parts = try await client.json(.get, "/api/uploads/\(id)/parts", token: upload.token(id)).object["parts"] as? [[String: Any]] ?? []
            #expect(parts.count == count)
            #expect(try await upload.complete(id) == 202)
            #expect(try await upload.events(id).last?.event == "ready")

            let video = try await client.json(.get, "/api/videos/\(id)").object
            let playback = try #require(video["playbackUrl"] as? String)
            #expect(playback == "\(seaweed.endpoint.absoluteString)/vstream/hls/\(id)/master.m3u8")
            let master = try HTTPTransfer.perform(method: "GET", url: playback, headers: [:])
            #expect(master.status == 200 && master.headers["content-type"] == "application/vnd.apple.mpegurl")
            let segment = try HTTPTransfer.perform(method: "HEAD", url: playback.replacingOccurrences(of: "master.m3u8", with: "720p/segment_00000.m4s"), headers: [:])
            #expect(segment.headers["content-type"] == "video/iso.segment")
            // A real player reads it from the bucket.
            let decoded = try runFFmpeg(["-nostdin", "-v", "error", "-i", playback, "-map", "0", "-f", "null", "-"])
            #expect(decoded.status == 0 && decoded.stderr.isEmpty, "\(decoded.stderr)")
            // The storyboard is in the bucket beside the ladder, with its type.
            let storyboard = try #require(video["storyboardUrl"] as? String)
            #expect(storyboard == "\(seaweed.endpoint.absoluteString)/vstream/hls/\(id)/storyboard.vtt")
            let index = try HTTPTransfer.perform(method: "GET", url: storyboard, headers: [:])
            #expect(index.status == 200 && index.headers["content-type"] == "text/vtt; charset=utf-8")
            #expect(String(decoding: index.body, as: UTF8.self).contains("storyboard/sheet_0.jpg#xywh=0,0,160,90"))
            let sheet = try HTTPTransfer.perform(method: "HEAD", url: playback.replacingOccurrences(of: "master.m3u8", with: "storyboard/sheet_0.jpg"), headers: [:])
            #expect(sheet.status == 200 && sheet.headers["content-type"] == "image/jpeg")
            // The MP4 rendition is in the bucket too: byte ranges from the bucket itself, and
            // a link to it saves the file.
            let mp4 = try #require(video["downloadUrl"] as? String)
            #expect(mp4 == "\(seaweed.endpoint.absoluteString)/vstream/hls/\(id)/download.mp4")
            let bytes = try #require(video["downloadBytes"] as? Int)
            let tail = try HTTPTransfer.perform(method: "GET", url: mp4, headers: ["range": "bytes=\(bytes - 10)-"])
            #expect(tail.status == 206 && tail.body.count == 10 && tail.headers["content-range"] == "bytes \(bytes - 10)-\(bytes - 1)/\(bytes)")
            #expect(tail.headers["content-disposition"]?.hasPrefix("attachment") == true)
            #expect(tail.headers["content-type"] == "video/mp4")
            // The DASH manifest is in the bucket with its type, and a DASH player reads the
            // ladder from the bucket through it.
            let dash = try #require(video["dashUrl"] as? String)
            #expect(dash == "\(seaweed.endpoint.absoluteString)/vstream/hls/\(id)/manifest.mpd")
            let mpd = try HTTPTransfer.perform(method: "HEAD", url: dash, headers: [:])
            #expect(mpd.status == 200 && mpd.headers["content-type"] == "application/dash+xml")
            let dashDecoded = try runFFmpeg(["-nostdin", "-v", "error", "-i", dash, "-map", "0", "-f", "null", "-"])
            #expect(dashDecoded.status == 0 && dashDecoded.stderr.isEmpty, "\(dashDecoded.stderr)")
            // The original was deleted once READY was recorded.
            await #expect(throws: S3Storage.Failure.self) {
                try await seaweed.storage().request("HEAD", path: "/vstream/uploads/\(id)/source")
            }
        }
    }

    @Test func corsLetsTheAppOriginSeeETagsAndRefusesOthers() async throws {
        let seaweed = try SeaweedFS()
        defer { seaweed.stop() }
        let storage = try await seaweed.ready()
        // What `vstream serve` does at start-up with S3_CORS_ORIGINS=http://app.example.
        try await storage.allowBrowserUploads(from: ["http://app.example"])
        let key = "uploads/cors/source"
        let uploadID = try await storage.createMultipartUpload(key: key)
        let url = storage.partUploadURL(key: key, uploadID: uploadID, partNumber: 1, expires: 600)
        let preflight = ["origin": "http://app.example", "access-control-request-method": "PUT"]
        let allowed = try HTTPTransfer.perform(method: "OPTIONS", url: url, headers: preflight)
        #expect(allowed.headers["access-control-allow-origin"] == "http://app.example")
        let put = try HTTPTransfer.perform(method: "PUT", url: url, headers: ["origin": "http://app.example"], body: .data(Data("x".utf8)))
        #expect(put.status == 200)
        #expect(put.headers["access-control-expose-headers"]?.lowercased().contains("etag") == true)
        var other = preflight
        other["origin"] = "http://evil.example"
        let refused = try HTTPTransfer.perform(method: "OPTIONS", url: url, headers: other)
        #expect(refused.headers["access-control-allow-origin"] == nil)
        #expect(refused.status >= 400)
    }
}

}

/// Runs the ffmpeg CLI (a real player) and returns its exit status and stderr.
func runFFmpeg(_ arguments: [String]) throws -> (status: Int32, stderr: String) {
    let log = FileManager.default.temporaryDirectory.appendingPathComponent("ffmpeg-\(UUID().uuidString).log")
    defer { try? FileManager.default.removeItem(at: log) }
    let status = try ChildProcess.run(["ffmpeg"] + arguments, stderr: log.path, timeout: 300)
    return (status, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
}
