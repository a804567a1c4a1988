import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import StreamServer

/// Every row of the rules table on the live routes, as each kind of caller (nobody, two
/// anonymous uploaders with their own owner tokens, two JWT users, an API key), on the
/// embedded default and on SeaweedFS with PostgreSQL.
extension SeaweedFSTests {
@Suite("Access control on the routes", .serialized)
struct AccessRouteTests {
    enum Backend: String, CaseIterable, Sendable { case embedded, production }

    /// The server on `backend`, with the callers' settings; production services are
    /// started here and stopped after `body`.
    static func withServer(_ backend: Backend, _ configure: (inout ServerConfiguration) throws -> Void = { _ in },
                           _ body: @escaping @Sendable (any TestClientProtocol, ServerState, SeaweedFS?) async throws -> Void) async throws {
        var seaweed: SeaweedFS?
        var postgres: PostgreSQL?
        defer { seaweed?.stop(); postgres?.stop() }
        if backend == .production {
            let s3 = try SeaweedFS()
            seaweed = s3
            _ = try await s3.ready()
            postgres = try PostgreSQL()
        }
        let state = try await makeState { configuration in
            try Callers.configure(&configuration)
            if let seaweed, let postgres {
                configuration.s3 = seaweed.configuration
                configuration.publicBaseURL = "\(seaweed.endpoint.absoluteString)/vstream"
                configuration.databaseURL = postgres.url
            }
            try configure(&configuration)
        }
        let bucket = seaweed
        try await buildApplication(state).test(.router) { client in try await body(client, state, bucket) }
    }

    /// The routes that change a video, for a video in UPLOADING.
    static func changes(_ id: String) -> [(HTTPRequest.Method, String, String?)] {
        [(.get, "/api/uploads/\(id)/parts", nil), (.post, "/api/uploads/\(id)/sign", #"{"partNumbers":[1]}"#),
         (.post, "/api/uploads/\(id)/complete", #"{"parts":[{"partNumber":1,"etag":"x"}]}"#),
         (.patch, "/api/videos/\(id)", #"{"title":"mine now"}"#), (.post, "/api/videos/\(id)/playback", nil),
         (.delete, "/api/uploads/\(id)", nil), (.delete, "/api/videos/\(id)", nil)]
    }

    @Test(arguments: Backend.allCases)
    func onlyOwnersAndKeysChangeAVideoAndAPrivateOneIsNotRevealed(_ backend: Backend) async throws {
        let callers = try await Callers.make()
        try await Self.withServer(backend) { client, state, _ in
            let (a, anonA) = try await client.createUpload(as: nil)
            let (_, anonB) = try await client.createUpload(as: nil)
            let (hidden, _) = try await client.createUpload(as: callers.alice, visibility: "private")
            #expect(anonA != anonB && anonA.hasPrefix("vso_"))

            // Someone else's unlisted upload: 401 without credentials, 403 with others'.
            for (method, uri, body) in Self.changes(a) {
                #expect(try await client.send(method, uri, as: nil, body).status == 401, "\(method) \(uri)")
                for stranger in [anonB, callers.alice, callers.bob] {
                    #expect(try await client.send(method, uri, as: stranger, body).status == 403, "\(method) \(uri)")
                }
            }
            // A private one: 404 to all of them, as if it did not exist.
            for (method, uri, body) in Self.changes(hidden) + [(.get, "/api/videos/\(hidden)", nil),
                                                                (.get, "/api/videos/\(hidden)/events", nil)] {
                for stranger in [nil, anonA, callers.bob] {
                    #expect(try await client.send(method, uri, as: stranger, body).status == 404, "\(method) \(uri)")
                }
            }
            // Both survived, and their owners (and the key) still reach them.
            #expect(try await client.send(.get, "/api/uploads/\(a)/parts", as: anonA).status == 200)
            #expect(try await client.send(.post, "/api/uploads/\(a)/sign", as: anonA, #"{"partNumbers":[1]}"#).status == 200)
            #expect(try await client.send(.post, "/api/uploads/\(a)/sign", as: callers.key, #"{"partNumbers":[1]}"#).status == 200)
            #expect(try await client.send(.get, "/api/videos/\(hidden)", as: callers.alice).status == 200)
            #expect(try await client.send(.get, "/api/videos/\(hidden)", as: callers.key).status == 200)

            // What others see: no upload id, file name or storage keys.
            let seen = try await client.send(.get, "/api/videos/\(a)", as: callers.bob).object
            #expect(seen["status"] as? String == "UPLOADING" && seen["canEdit"] as? Bool == false)
            for field in ["uploadId", "originalFilename", "sourceKey", "hlsPrefix", "size"] { #expect(seen[field] == nil, "\(field)") }
            let own = try await client.send(.get, "/api/videos/\(a)", as: anonA).object
            #expect(own["canEdit"] as? Bool == true && own["originalFilename"] as? String == "secret-name.mp4")
            #expect(own["uploadId"] is String && own["sourceKey"] is String)

            // Lists: never another caller's UPLOADING or private videos.
            func ids(_ uri: String, _ token: String?) async throws -> Set<String> {
                Set((try await client.send(.get, uri, as: token).object["videos"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String })
            }
            #expect(try await ids("/api/videos", nil).isEmpty)
            #expect(try await ids("/api/videos", callers.bob).isEmpty)
            #expect(try await ids("/api/videos?owner=me", anonA) == [a])
            #expect(try await ids("/api/videos?owner=me", callers.alice) == [hidden])
            #expect(try await ids("/api/videos?owner=me", callers.bob).isEmpty)
            #expect(try await ids("/api/videos", callers.key).isSuperset(of: [a, hidden]))
            #expect(try await client.send(.get, "/api/videos?owner=me", as: nil).status == 401)

            // A stranger cannot PUT a part without the owner's signed URL.
            if case .local = state.backend {
                #expect(try await client.send(.put, "/api/uploads/\(a)/parts/1", as: anonB, "x").status == 403)
            }
            // Owners delete what is theirs.
            #expect(try await client.send(.delete, "/api/uploads/\(a)", as: anonA).status == 204)
            #expect(try await client.send(.delete, "/api/videos/\(hidden)", as: callers.alice).status == 204)
            #expect(try await client.send(.get, "/api/videos/\(hidden)", as: callers.key).status == 404)

            // Credentials that are none of ours: 401 everywhere, public routes too.
            for bad in [try await TestJWT.hs256(TestJWT.claims("mallory"), secret: "not-the-apps-secret-but-32-bytes!!"),
                        try TestJWT.unsigned(TestJWT.claims("mallory")), "not-a-key-of-this-server"] {
                let refused = try await client.send(.get, "/api/videos", as: bad)
                #expect(refused.status == 401 && refused.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
            }
            // Metrics: a key only.
            #expect(try await client.send(.get, "/metrics", as: nil).status == 401)
            #expect(try await client.send(.get, "/metrics", as: callers.alice).status == 403)
            #expect(try await client.send(.get, "/metrics", as: callers.key).status == 200)
        }
    }

    /// A READY video through its visibilities: public is listed and plays for anyone; private
    /// plays only with a playback token, on the master, every playlist, every segment and
    /// the poster; unlisted again, a stranger's DELETE is 403 and the video survives.
    @Test(arguments: Backend.allCases)
    func privatePlaybackNeedsAValidTokenOnEveryObject(_ backend: Backend) async throws {
        let callers = try await Callers.make()
        try await Self.withServer(backend) { client, state, seaweed in
            var upload = UploadDriver(client: client, file: fixture("tiny_256x144.mp4"))
            upload.credential = callers.alice
            let (id, _) = try await upload.create(visibility: "public")
            #expect(try await upload.put(1, url: try #require(try await upload.sign(id, [1])[1])).status == 200)
            #expect(try await upload.complete(id) == 202)
            #expect(try await upload.events(id).last?.event == "ready")

            let listed = try await client.send(.get, "/api/videos", as: nil).object["videos"] as? [[String: Any]] ?? []
            #expect(listed.compactMap { $0["id"] as? String } == [id])
            let publicURL = try #require(listed.first?["playbackUrl"] as? String)
            #expect(try await Self.fetch(client, publicURL).status == 200)

            let changed = try await client.send(.patch, "/api/videos/\(id)", as: callers.alice,
                                                #"{"title":"Renamed","visibility":"private"}"#)
            #expect(changed.status == 200 && changed.object["visibility"] as? String == "private", "\(changed.object)")
            #expect(changed.object["title"] as? String == "Renamed" && changed.object["playbackUrl"] == nil)
            #expect(try await client.send(.get, "/api/videos", as: nil).object["videos"] as? [Any] != nil)
            #expect((try await client.send(.get, "/api/videos", as: nil).object["videos"] as? [Any])?.isEmpty == true)
            #expect(try await client.send(.get, "/api/videos/\(id)", as: callers.bob).status == 404)
            // The old public URL no longer plays: 403 from this server, and in S3 mode the
            // objects have left the public prefix for the private one.
            #expect(try await Self.fetch(client, publicURL).status == (seaweed == nil ? 403 : 404))
            if case .s3(let storage) = state.backend {
                #expect(try await storage.keys(under: "hls/\(id)").isEmpty)
                #expect(try await storage.keys(under: "private/hls/\(id)").contains("private/hls/\(id)/master.m3u8"))
            }

            #expect(try await client.send(.post, "/api/videos/\(id)/playback", as: callers.bob).status == 404)
            let grant = try await client.send(.post, "/api/videos/\(id)/playback", as: callers.alice)
            #expect(grant.status == 200 && grant.object["expiresAt"] is String)
            let master = try #require(grant.object["playbackUrl"] as? String)
            #expect(master.hasPrefix("/hls/t/") && master.hasSuffix("/\(id)/master.m3u8"))
            // Every object the master leads to, through its relative URIs.
            let base = String(master.dropLast("master.m3u8".count))
            let masterText = String(decoding: try await Self.fetch(client, master).body, as: UTF8.self)
            let variant = try #require(masterText.split(separator: "\n").first { !$0.hasPrefix("#") && !$0.isEmpty })
            let variantAnswer = try await Self.fetch(client, base + variant)
            #expect(variantAnswer.status == 200)
            let variantDirectory = base + variant.split(separator: "/").dropLast().joined(separator: "/") + "/"
            let segment = try #require(String(decoding: variantAnswer.body, as: UTF8.self).split(separator: "\n")
                .first { $0.hasSuffix(".m4s") })
            // The MP4 rendition and the storyboard are private objects like the ladder's.
            #expect(grant.object["downloadUrl"] as? String == base + "download.mp4")
            #expect(grant.object["storyboardUrl"] as? String == base + "storyboard.vtt")
            #expect(grant.object["dashUrl"] as? String == base + "manifest.mpd")
            #expect(changed.object["downloadUrl"] == nil && changed.object["storyboardUrl"] == nil && changed.object["dashUrl"] == nil)
            let ladder: [String] = [master, base + variant, variantDirectory + segment]
            let extras: [String] = ["poster.jpg", "download.mp4", "storyboard.vtt", "manifest.mpd", "audio/segment_00000.m4s"]
            let objects: [String] = ladder + extras.map { base + $0 }
            for object in objects {
                let answer = try await Self.fetch(client, object)
                #expect(answer.status == 200, "\(object)")
                #expect(answer.headers[.cacheControl]?.hasPrefix("private") == true, "\(object)")
            }
            // Forged, expired, or another video's token: 403 on the segment as on the master.
            let token = master.split(separator: "/")[2]
            let forged = token.dropLast() + (token.last == "A" ? "B" : "A")
            let expired = state.access.playbackTokens.token(for: try #require(UUID(uuidString: id)), expires: Date().addingTimeInterval(-1))
            let another = state.access.playbackTokens.token(for: UUID(), expires: Date().addingTimeInterval(600))
            for bad in [String(forged), expired, another] {
                for object in objects {
                    let refused = try await Self.fetch(client, object.replacingOccurrences(of: String(token), with: bad))
                    #expect(refused.status == 403, "\(bad) \(object)")
                }
            }
            // Without any token, straight at the objects.
            if case .local = state.backend {
                #expect(try await Self.fetch(client, "/hls/\(id)/\(variantDirectory.split(separator: "/").last ?? "")/\(segment)").status == 403)
                #expect(try await Self.fetch(client, "/hls/\(id)/download.mp4").status == 403)
            }

            // Unlisted again: strangers play it and may not delete it.
            #expect(try await client.send(.patch, "/api/videos/\(id)", as: callers.alice, #"{"visibility":"unlisted"}"#).status == 200)
            let unlisted = try #require(try await client.send(.get, "/api/videos/\(id)", as: nil).object["playbackUrl"] as? String)
            #expect(try await Self.fetch(client, unlisted).status == 200)
            #expect(try await client.send(.delete, "/api/videos/\(id)", as: callers.bob).status == 403)
            #expect(try await client.send(.delete, "/api/videos/\(id)", as: nil).status == 401)
            #expect(try await client.send(.get, "/api/videos/\(id)", as: nil).status == 200, "it survived")
            #expect(try await client.send(.patch, "/api/videos/\(id)", as: callers.alice, #"{"visibility":"secret"}"#).status == 400)
            #expect(try await client.send(.patch, "/api/videos/\(id)", as: callers.alice, #"{"title":"  "}"#).status == 400)
            #expect(try await client.send(.delete, "/api/videos/\(id)", as: callers.alice).status == 204)
        }
    }

    /// A URL of this server through the test client, or of the bucket through libcurl.
    static func fetch(_ client: any TestClientProtocol, _ url: String) async throws -> Answer {
        guard url.hasPrefix("http") else { return try await client.send(.get, url, as: nil) }
        let response = try HTTPTransfer.perform(method: "GET", url: url, headers: [:])
        return Answer(status: response.status, object: [:], headers: [:], body: response.body)
    }
}
}
