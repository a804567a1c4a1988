import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import StreamServer

/// What a cache may keep of a video's objects. Media is `immutable` once the video is
/// READY; before, an object may still be written again under its name (the early audio, at
/// the source's level, by its normalised encode), so a browser or CDN that kept the early
/// copy for good would play the source's level after READY.
@Suite("Media caching", .serialized)
struct MediaCachingTests {
    @Test func mediaIsCachedForGoodOnlyOnceItsVideoIsReady() async throws {
        let state = try await makeState()
        let app = buildApplication(state)
        let object = FileManager.default.temporaryDirectory.appendingPathComponent("caching-\(UUID().uuidString).m4s")
        try Data(repeating: 7, count: 1000).write(to: object)
        defer { try? FileManager.default.removeItem(at: object) }
        try await app.test(.router) { client in
            let upload = UploadDriver(client: client, file: fixture("tiny_256x144.mp4"))
            let media = ["audio/init.mp4", "audio/segment_00000.m4s", "360p/segment_00000.m4s", "download.mp4"]
            /// A video with these objects, in `status`, and how to read an object's header.
            func video(_ visibility: String) async throws -> (id: UUID, cacheControl: (String) async throws -> String?) {
                let id = try #require(UUID(uuidString: try await upload.create(visibility: visibility).videoID))
                let record = try #require(try await state.store.video(id))
                for name in media + ["live.m3u8", "master.m3u8"] {
                    try await state.storage.put(file: object, key: "\(record.hlsPrefix)/\(name)", contentType: "video/mp4", cacheControl: "no-cache")
                }
                let token = state.access.playbackTokens.token(for: id, expires: Date().addingTimeInterval(600))
                return (id, { name in
                    let path = visibility == "private" ? "/hls/t/\(token)/\(id)/\(name)" : "/hls/\(id)/\(name)"
                    return try await client.execute(uri: path, method: .get) { response in
                        #expect(response.status == .ok, "\(name)")
                        return response.headers[.cacheControl]
                    }
                })
            }
            func becomes(_ id: UUID, _ status: VideoLifecycle.Status) async throws {
                var video = try #require(try await state.store.video(id))
                let before = video.status
                video.status = status
                #expect(try await state.store.update(video, expected: before))
            }

            let (shared, cacheControl) = try await video("unlisted")
            for status in [VideoLifecycle.Status.uploading, .processing] {
                try await becomes(shared, status)
                for name in media { #expect(try await cacheControl(name) == "no-cache", "\(name) while \(status)") }
            }
            try await becomes(shared, .ready)
            for name in media { #expect(try await cacheControl(name) == "public, max-age=31536000, immutable", "\(name) once READY") }
            #expect(try await cacheControl("live.m3u8") == "no-cache")
            #expect(try await cacheControl("master.m3u8") == "public, max-age=60")

            // A private video's, through its playback token: never in a shared cache, and
            // fetched fresh while it may still change.
            let (own, privateCacheControl) = try await video("private")
            try await becomes(own, .processing)
            for name in media + ["live.m3u8"] { #expect(try await privateCacheControl(name) == "private, no-cache", "\(name)") }
            try await becomes(own, .ready)
            for name in media + ["master.m3u8"] { #expect(try await privateCacheControl(name) == "private, max-age=300", "\(name)") }
            #expect(try await privateCacheControl("live.m3u8") == "private, no-cache")
        }
    }
}
