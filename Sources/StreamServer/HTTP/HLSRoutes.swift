import Foundation
import HLSEngine
import Hummingbird

/// Playback through this server, with MIME types, byte ranges, gzip for playlists, and
/// CORS so a player on another origin may fetch them. Every object is streamed in
/// bounded ranged reads, never held whole; HEAD answers with the headers alone, and
/// `?download=1` makes `download.mp4` an attachment.
/// - `GET /hls/{id}/...`: the embedded default's public and unlisted videos (in S3 mode
///   those play from `PUBLIC_BASE_URL`). A private video's objects get 403 here.
/// - `GET /hls/t/{token}/{id}/...`: any video, with a playback token
///   (`POST /api/videos/{id}/playback`), in both modes; in S3 mode the objects are read
///   from the bucket, so a private video's never need to be public.
struct HLSRoutes {
    let state: ServerState

    func add(to router: Router<VStreamRequestContext>) {
        router.get("hls/**") { request, context in try await serve(request, context) }
    }

    func serve(_ request: Request, _ context: VStreamRequestContext) async throws -> Response {
        let segments = context.parameters.getCatchAll()
        if segments.first == "t" {
            guard segments.count >= 4 else { throw APIError.notFound("no such file") }
            return try await serveWithToken(String(segments[1]), id: String(segments[2]),
                                            file: segments[3...].joined(separator: "/"), request)
        }
        guard state.backend.servesPublicPlayback else {
            throw APIError.notFound("HLS is served from PUBLIC_BASE_URL in S3 mode")
        }
        guard let first = segments.first else { throw APIError.notFound("no such file") }
        let video = try await playableVideo(String(first))
        guard video.visibility != .private else {
            throw APIError.forbidden("this video is private: it plays only from a playback URL")
        }
        return try await object(video, file: segments.dropFirst().joined(separator: "/"), request)
    }

    private func serveWithToken(_ token: String, id: String, file: String, _ request: Request) async throws -> Response {
        guard let uuid = UUID(uuidString: id) else { throw APIError.forbidden("the playback token is not valid") }
        do {
            try state.access.playbackTokens.verify(token, video: uuid)
        } catch .expired {
            throw APIError.forbidden("the playback URL has expired; ask for a new one")
        } catch {
            throw APIError.forbidden("the playback token is not valid for this video")
        }
        return try await object(try await playableVideo(id), file: file, request)
    }

    private func playableVideo(_ id: String) async throws -> VideoRecord {
        guard let uuid = UUID(uuidString: id), let video = try await state.store.video(uuid) else {
            throw APIError.notFound("no such video")
        }
        return video
    }

    /// One object of the video's HLS output, streamed from storage in bounded reads
    /// (ranged GETs in S3 mode): memory never grows with the object's size. `Range`
    /// gives 206 or 416; a HEAD gets the same headers without a read.
    private func object(_ video: VideoRecord, file: String, _ request: Request) async throws -> Response {
        guard !file.isEmpty, let key = try? validatedKey("\(video.hlsPrefix)/\(file)") else {
            throw APIError.badRequest("invalid path")
        }
        // Until READY an object may still be replaced (the early audio, at the source's
        // level, by its normalised encode), and this route cannot tell which: none is
        // cached for good yet.
        let named = HLSContentType.forPath(file)
        let type = video.status != .ready && named.isImmutable ? named.provisional : named
        var headers: HTTPFields = [.contentType: type.contentType, .cacheControl: type.cacheControl,
                                   .accessControlAllowOrigin: "*", .acceptRanges: "bytes"]
        // A private video's objects must not be kept by shared caches; what must be fetched
        // fresh (a growing playlist, early media) stays so.
        if video.visibility == .private {
            headers[.cacheControl] = type.cacheControl == HLSContentType.noCache ? "private, no-cache" : "private, max-age=300"
        }
        // A playlist is rewritten (atomically) while the video transcodes: it is read in one
        // go, so its length and its bytes are of the same version. Asking its size first and
        // then reading could serve a newer one cut to the older length, a broken last line.
        if file.hasSuffix(".m3u8"), let data = try? await state.storage.read(key: key, range: 0..<Self.largestPlaylist),
           data.count < Self.largestPlaylist {
            return playlist(data, headers: headers, request)
        }
        guard let size = try await state.storage.size(key: key) else { throw APIError.notFound("no such file") }
        if file == TranscodeResult.Download.fileName, request.uri.queryParameters["download"] == "1" {
            headers[.contentDisposition] = Self.attachment(title: video.title)
        }
        switch ByteRange.parse(request.headers[.range], size: size) {
        case .unsatisfiable:
            headers[.contentRange] = "bytes */\(size)"
            return Response(status: .rangeNotSatisfiable, headers: headers)
        case .range(let range):
            headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound - 1)/\(size)"
            return Response(status: .partialContent, headers: headers, body: streamed(key, range))
        case .whole:
            return Response(status: .ok, headers: headers, body: streamed(key, 0..<size))
        }
    }

    /// A playlist, read whole: a range of it, or all of it (gzipped when the client
    /// accepts it). A range past its end gets it whole: it grows while the video
    /// transcodes, and a player may ask past the end it knew (RFC 9110 §14.2 lets us ignore it).
    private func playlist(_ data: Data, headers: HTTPFields, _ request: Request) -> Response {
        var headers = headers
        if case .range(let range) = ByteRange.parse(request.headers[.range], size: Int64(data.count)) {
            headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound - 1)/\(data.count)"
            return Response(status: .partialContent, headers: headers,
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data.dropFirst(Int(range.lowerBound)).prefix(Int(range.count)))))
        }
        headers[.vary] = "Accept-Encoding"
        if Gzip.isAccepted(request.headers[.acceptEncoding]), let compressed = Gzip.compress(data) {
            headers[.contentEncoding] = "gzip"
            headers[.acceptRanges] = nil
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: compressed)))
        }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// Playlists up to this size are gzipped whole; a larger one streams like any object.
    static let largestPlaylist: Int64 = 1 << 20
    /// The most one read holds in memory.
    static let readSize: Int64 = 1 << 20

    /// Bytes `range` of the object, read from storage a MiB at a time as the client
    /// takes them (the writer waits for the connection, so a slow client holds one MiB).
    private func streamed(_ key: String, _ range: Range<Int64>) -> ResponseBody {
        let storage = state.storage
        return ResponseBody(contentLength: Int(range.count)) { writer in
            var offset = range.lowerBound
            while offset < range.upperBound {
                guard let chunk = try await storage.read(key: key, range: offset..<min(range.upperBound, offset + Self.readSize)),
                      !chunk.isEmpty else { throw APIError.notFound("no such file") }
                try await writer.write(ByteBuffer(bytes: chunk))
                offset += Int64(chunk.count)
            }
            try await writer.finish(nil)
        }
    }

    /// `attachment`, named after the video's title: an ASCII fallback and the UTF-8 name
    /// (RFC 6266), neither able to break out of the header.
    static func attachment(title: String) -> String {
        let base = title.isEmpty ? "video" : title
        let stem = (base as NSString).pathExtension.lowercased() == "mp4" ? (base as NSString).deletingPathExtension : base
        let ascii = String(stem.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 && !"\"\\;/".unicodeScalars.contains($0) ? Character($0) : "_" })
        let encoded = (stem + ".mp4").addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "video.mp4"
        return #"attachment; filename="\#(ascii.prefix(100)).mp4"; filename*=UTF-8''\#(encoded)"#
    }
}
