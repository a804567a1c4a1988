import ChildProcess
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import StreamServer

/// The HTTP API on the embedded default. Each test body runs in-process (.router) and
/// against a real server on 127.0.0.1 (.live).
@Suite("HTTP API", .serialized)
struct APITests {
    static let setups: [TestingSetup] = [.router, .live]

    @Test(arguments: setups)
    func healthAndPage(_ setup: TestingSetup) async throws {
        let app = buildApplication(try await makeState())
        try await app.test(setup) { client in
            #expect(try await client.json(.get, "/healthz").object["status"] as? String == "ok")
            try await client.execute(uri: "/", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("<script type=\"module\" src=\"/app.js\">"))
            }
        }
    }

    /// Prometheus text, with requests counted by route template and status; for a key only.
    @Test func metricsCountRequestsByRouteAndStatus() async throws {
        MetricsExport.bootstrap()
        let key = "operator-key-for-metrics-0001"
        let app = buildApplication(try await makeState { $0.access.apiKeys = try APIKeys(pairs: "ops:\(key)") })
        try await app.test(.router) { client in
            _ = try await client.json(.get, "/api/videos/\(UUID().uuidString.lowercased())")
            #expect(try await client.json(.get, "/metrics").status == 401)
            try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer \(key)"]) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
                let text = String(buffer: response.body)
                #expect(text.contains(#"hb_requests{http_route="/api/videos/{id}",http_request_method="GET",http_response_status_code="404"}"#),
                        "\(text.prefix(800))")
            }
        }
    }

    @Test(arguments: setups)
    func badRequestsGetClearErrorsAndStoreNothing(_ setup: TestingSetup) async throws {
        let state = try await makeState { $0.maxUploadBytes = 50 << 20 }
        let app = buildApplication(state)
        try await app.test(setup) { client in
            func expectError(_ method: HTTPRequest.Method, _ uri: String, _ body: String?, _ status: Int) async throws {
                let answer = try await client.json(method, uri, body)
                #expect(answer.status == status, "\(method) \(uri) \(body ?? "")")
                #expect(answer.object["error"] is String, "\(uri): errors are {\"error\": \"...\"}")
            }
            try await expectError(.post, "/api/uploads", #"{"filename":"a.mp4","size":100,"contentType":"video/mp4"}"#, 400)
            try await expectError(.post, "/api/uploads", #"{"filename":"a.mp4","size":0,"contentType":"video/mp4","lastModified":1}"#, 400)
            try await expectError(.post, "/api/uploads", #"{"filename":"a.mp4","size":60000000,"contentType":"video/mp4","lastModified":1}"#, 413)
            try await expectError(.post, "/api/uploads", #"{"filename":"a.txt","size":100,"contentType":"text/plain","lastModified":1}"#, 415)
            try await expectError(.post, "/api/uploads", #"{"filename": "a.mp4", "size": "#, 400)
            try await expectError(.get, "/api/uploads/\(UUID().uuidString)/parts", nil, 404)
            try await expectError(.get, "/api/videos/\(UUID().uuidString)", nil, 404)
            try await expectError(.get, "/api/videos/not-a-uuid", nil, 404)
            try await expectError(.get, "/hls/%2e%2e/%2e%2e/vstream.sqlite", nil, 400)
            #expect((try await client.json(.get, "/api/videos").object["videos"] as? [Any])?.isEmpty == true)
        }
    }

    @Test(arguments: setups)
    func signedPartURLsAreScopedAndExpire(_ setup: TestingSetup) async throws {
        let app = buildApplication(try await makeState())
        try await app.test(setup) { client in
            let upload = UploadDriver(client: client, file: fixture("upload_30mb.mp4"))
            let (id, count) = try await upload.create()
            #expect(count == 3)
            let urls = try await upload.sign(id, [1, 2])
            // Part 1's signature used for part 2: refused.
            let forged = try #require(urls[1]).replacingOccurrences(of: "/parts/1?", with: "/parts/2?")
            #expect(try await upload.put(2, url: forged).status == 403)
            // A tampered signature and a stretched expiry: refused.
            let tampered = try #require(urls[1]).dropLast(4) + "beef"
            #expect(try await upload.put(1, url: String(tampered)).status == 403)
            let stretched = try #require(urls[1]).replacingOccurrences(of: "expires=", with: "expires=9")
            #expect(try await upload.put(1, url: stretched).status == 403)
            #expect(try await client.json(.post, "/api/uploads/\(id)/sign", #"{"partNumbers":[4]}"#, token: upload.token(id)).status == 400)
            #expect(try await client.json(.get, "/api/uploads/\(id)/parts", token: upload.token(id)).object["parts"] as? [Any] != nil)
            #expect((try await client.json(.get, "/api/uploads/\(id)/parts", token: upload.token(id)).object["parts"] as? [Any])?.isEmpty == true,
                    "nothing was stored")
        }
        let expiring = buildApplication(try await makeState { $0.partURLLifetime = -1 })
        try await expiring.test(setup) { client in
            let upload = UploadDriver(client: client, file: fixture("upload_30mb.mp4"))
            let (id, _) = try await upload.create()
            let url = try #require(try await upload.sign(id, [1])[1])
            #expect(try await upload.put(1, url: url).status == 403)
        }
    }

    // In-process only: the live client's read timeout can expire on a loaded CI machine
    // while the SSE stream waits for a 30 MB transcode. The live socket path is covered above.
    @Test(arguments: [TestingSetup.router])
    func aResumedUploadSendsOnlyTheMissingPartsThenTranscodesToReady(_ setup: TestingSetup) async throws {
        let state = try await makeState()
        let app = buildApplication(state)
        try await app.test(setup) { client in
            let upload = UploadDriver(client: client, file: fixture("upload_30mb.mp4"))
            let (id, count) = try await upload.create()
            // The first page sends part 1, then is closed.
            let first = try await upload.put(1, url: try #require(try await upload.sign(id, [1])[1]))
            #expect(first.status == 200 && first.etag != nil)
            // The reopened page asks storage what landed, and sends only the rest.
            let landed = (try await client.json(.get, "/api/uploads/\(id)/parts", token: upload.token(id)).object["parts"] as? [[String: Any]] ?? [])
                .compactMap { $0["partNumber"] as? Int }
            #expect(landed == [1])
            let missing = (1...count).filter { !landed.contains($0) }
            let urls = try await upload.sign(id, missing)
            for part in missing { #expect(try await upload.put(part, url: try #require(urls[part])).status == 200) }

            #expect(try await upload.complete(id) == 202)
            #expect(try await upload.complete(id) == 202, "complete is idempotent")
            let events = try await upload.events(id)
            #expect(events.first?.event == "state")
            #expect(events.contains { $0.event == "progress" && ($0.data["framesTotal"] as? Int) == 300 })
            #expect(events.last?.event == "ready")
            let percents = events.compactMap { $0.data["percent"] as? Double }
            #expect(percents == percents.sorted() && percents.last == 100)

            let video = try await client.json(.get, "/api/videos/\(id)").object
            #expect(video["status"] as? String == "READY" && video["progress"] as? Double == 100)
            #expect((video["renditions"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["360p", "720p"])
            let playback = try #require(video["playbackUrl"] as? String)
            try await client.execute(uri: playback, method: .get) { response in
                #expect(response.status == .ok && response.headers[.contentType] == "application/vnd.apple.mpegurl")
                #expect(String(buffer: response.body).contains("#EXT-X-STREAM-INF"))
            }
            // Playlists are gzipped for a client that accepts it; gunzip gives the same text.
            let plain = try await client.execute(uri: playback, method: .get) { Data($0.body.readableBytesView) }
            let zipped = try await client.execute(uri: playback, method: .get, headers: [.acceptEncoding: "br, gzip"]) { response in
                #expect(response.headers[.contentEncoding] == "gzip" && response.headers[.vary] == "Accept-Encoding")
                return Data(response.body.readableBytesView)
            }
            #expect(try gunzip(zipped) == plain)
            try await client.execute(uri: "/hls/\(id)/720p/segment_00000.m4s", method: .get, headers: [.range: "bytes=0-99"]) { response in
                #expect(response.status == .partialContent && response.body.readableBytes == 100)
                #expect(response.headers[.contentType] == "video/iso.segment")
            }
            let poster = try #require(video["posterUrl"] as? String)
            try await client.execute(uri: poster, method: .get) { response in
                #expect(response.status == .ok && response.headers[.contentType] == "image/jpeg")
                #expect(Array(response.body.readableBytesView.prefix(2)) == [0xFF, 0xD8])
            }
            // The storyboard: its index names sheets that are there, in JPEG.
            let storyboard = try #require(video["storyboardUrl"] as? String)
            let index = try await client.execute(uri: storyboard, method: .get) { response in
                #expect(response.status == .ok && response.headers[.contentType] == "text/vtt; charset=utf-8")
                return String(buffer: response.body)
            }
            #expect(index.hasPrefix("WEBVTT") && index.components(separatedBy: " --> ").count - 1 == 5, "5 cues for 10 s")
            let sheet = try #require(index.split(separator: "\n").first { $0.contains("#xywh=") }?.split(separator: "#").first)
            try await client.execute(uri: "/hls/\(id)/\(sheet)", method: .get) { response in
                #expect(response.status == .ok && response.headers[.contentType] == "image/jpeg")
            }
            // The MP4 rendition: its size, byte ranges, and an attachment when asked.
            let mp4 = try #require(video["downloadUrl"] as? String)
            #expect(mp4 == "/hls/\(id)/download.mp4" && video["downloadRendition"] as? String == "720p")
            let stored = try Data(contentsOf: try #require(state.local).objectURL("hls/\(id)/download.mp4"))
            #expect(video["downloadBytes"] as? Int == stored.count)
            try await client.execute(uri: mp4, method: .get, headers: [.range: "bytes=1000-1999"]) { response in
                #expect(response.status == .partialContent && response.headers[.contentRange] == "bytes 1000-1999/\(stored.count)")
                #expect(Data(response.body.readableBytesView) == stored[1000..<2000])
            }
            try await client.execute(uri: mp4, method: .get, headers: [.range: "bytes=-100"]) { response in
                #expect(response.status == .partialContent && Data(response.body.readableBytesView) == stored.suffix(100))
            }
            try await client.execute(uri: mp4, method: .get, headers: [.range: "bytes=\(stored.count)-"]) { response in
                #expect(response.status == .rangeNotSatisfiable && response.headers[.contentRange] == "bytes */\(stored.count)")
            }
            try await client.execute(uri: mp4, method: .get, headers: [.range: "bytes=0-1,5-9"]) { response in
                #expect(response.status == .ok && response.body.readableBytes == stored.count, "a range we do not serve is ignored")
            }
            try await client.execute(uri: mp4, method: .get) { response in
                #expect(response.status == .ok && response.headers[.contentType] == "video/mp4")
                #expect(response.headers[.contentDisposition] == nil, "inline unless asked")
                #expect(Data(response.body.readableBytesView) == stored)
            }
            try await client.execute(uri: mp4 + "?download=1", method: .get, headers: [.range: "bytes=0-7"]) { response in
                #expect(response.headers[.contentDisposition]?.hasPrefix("attachment; filename=\"upload_30mb.mp4\"") == true,
                        "\(response.headers)")
            }
            // DASH: the manifest over the same segments, served as DASH, and the ffmpeg CLI
            // plays it through the server (video and the audio rendition).
            let dash = try #require(video["dashUrl"] as? String)
            #expect(dash == "/hls/\(id)/manifest.mpd")
            try await client.execute(uri: dash, method: .get) { response in
                #expect(response.status == .ok && response.headers[.contentType] == "application/dash+xml")
                #expect(String(buffer: response.body).contains(#"media="audio/segment_$Number%05d$.m4s""#))
            }
            #expect(events.last?.data["dashUrl"] as? String == dash)
            // The original is deleted once the ladder is stored.
            #expect(!FileManager.default.fileExists(atPath: try #require(state.local).objectURL("uploads/\(id)/source").path))
        }
    }

    @Test func mediaThatIsNotMediaEndsFailedWithAReasonAndKeepsTheOriginal() async throws {
        let state = try await makeState()
        let app = buildApplication(state)
        try await app.test(.router) { client in
            let upload = UploadDriver(client: client, file: fixture("random.bin"))
            let (id, _) = try await upload.create()
            #expect(try await upload.put(1, url: try #require(try await upload.sign(id, [1])[1])).status == 200)
            #expect(try await upload.complete(id) == 202)
            let events = try await upload.events(id)
            let failed = try #require(events.last)
            #expect(failed.event == "failed")
            #expect((failed.data["error"] as? String)?.contains("not a media file") == true)
            let video = try await client.json(.get, "/api/videos/\(id)").object
            #expect(video["status"] as? String == "FAILED" && (video["error"] as? String)?.isEmpty == false)
            #expect(FileManager.default.fileExists(atPath: try #require(state.local).objectURL("uploads/\(id)/source").path),
                    "the original is kept for inspection")
            // Deleting the video removes the row and every object.
            #expect(try await client.json(.delete, "/api/videos/\(id)", token: upload.token(id)).status == 204)
            #expect(try await client.json(.get, "/api/videos/\(id)").status == 404)
            #expect(!FileManager.default.fileExists(atPath: try #require(state.local).objectURL("uploads/\(id)/source").path))
        }
    }

    @Test func migrationsRunTwiceWithoutHarm() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("migrate-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let first = try SQLiteStore(path: path)
        let now = Date()
        try await first.insert(VideoRecord(id: UUID(), title: "t", originalFilename: "t.mp4", size: 1, contentType: "video/mp4",
                                           lastModified: 1, status: .uploading, sourceKey: "uploads/x/source", hlsPrefix: "hls/x",
                                           partCount: 1, createdAt: now, updatedAt: now))
        let second = try SQLiteStore(path: path)
        #expect(try await second.videos().count == 1)
    }
}

/// Decompresses with the gzip tool: an oracle independent of the server's zlib code.
func gunzip(_ data: Data) throws -> Data {
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("gz-\(UUID().uuidString)")
    try data.write(to: URL(fileURLWithPath: base.path + ".gz"))
    defer {
        try? FileManager.default.removeItem(atPath: base.path + ".gz")
        try? FileManager.default.removeItem(atPath: base.path)
    }
    try ChildProcess.run(["gzip", "-d", base.path + ".gz"], timeout: 30)
    return (try? Data(contentsOf: base)) ?? Data()
}

@Suite("Accept-Encoding")
struct AcceptEncodingTests {
    @Test func gzipIsUsedOnlyWhenTheClientAcceptsIt() {
        #expect(Gzip.isAccepted("gzip"))
        #expect(Gzip.isAccepted("br;q=1.0, gzip;q=0.8"))
        #expect(Gzip.isAccepted("*"))
        #expect(!Gzip.isAccepted("gzip;q=0"))
        #expect(!Gzip.isAccepted("br, deflate"))
        #expect(!Gzip.isAccepted(nil))
    }

    /// A video with its own subtitles (issue 22): once READY, the API lists the caption
    /// track with its language and URL, and that URL serves the WebVTT.
    @Test func aVideosSubtitlesAreListedAndServed() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("api-subs-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try "1\n00:00:00,500 --> 00:00:01,500\nBonjour\n".write(to: folder.appendingPathComponent("fr.srt"), atomically: true, encoding: .utf8)
        let source = folder.appendingPathComponent("subtitled.mp4")
        let made = try ChildProcess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=3",
                                         "-i", folder.appendingPathComponent("fr.srt").path, "-map", "0:v", "-map", "1:s",
                                         "-c:v", "libx264", "-preset", "ultrafast", "-c:s", "mov_text", "-metadata:s:s:0", "language=fra",
                                         source.path])
        #expect(made == 0)
        let state = try await makeState()
        try await buildApplication(state).test(.router) { client in
            let upload = UploadDriver(client: client, file: source)
            let (id, _) = try await upload.create()
            #expect(try await upload.put(1, url: try #require(try await upload.sign(id, [1])[1])).status == 200)
            #expect(try await upload.complete(id) == 202)
            #expect(try await upload.events(id).last?.event == "ready")
            let video = try await client.json(.get, "/api/videos/\(id)")
            let captions = try #require(video.object["captions"] as? [[String: Any]], "\(video.object)")
            #expect(captions.count == 1 && captions[0]["language"] as? String == "fra" && captions[0]["forced"] as? Bool == false)
            let url = try #require(captions[0]["url"] as? String)
            #expect(url == "/hls/\(id)/captions/fra.vtt")
            try await client.execute(uri: url, method: .get) { response in
                #expect(response.status == .ok && response.headers[.contentType]?.hasPrefix("text/vtt") == true)
                #expect(String(buffer: response.body).contains("Bonjour"))
            }
        }
    }
}
