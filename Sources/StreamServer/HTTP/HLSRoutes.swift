import Foundation
import HLSEngine
import Hummingbird

/// Playback through this server, with MIME types, byte ranges, gzip for playlists, and
/// CORS so a player on another origin may fetch them. `download.mp4` is streamed in
/// ranged reads (never held whole), and `?download=1` makes it an attachment.
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
        guard case .local = state.backend else {
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

    /// One object of the video's HLS output, from storage.
    private func object(_ video: VideoRecord, file: String, _ request: Request) async throws -> Response {
        guard !file.isEmpty, let key = try? validatedKey("\(video.hlsPrefix)/\(file)") else {
            throw APIError.badRequest("invalid path")
        }
        guard let data = try await state.storage.data(key: key) else { throw APIError.notFound("no such file") }
        let type = HLSContentType.forPath(file)
        var headers: HTTPFields = [.contentType: type.contentType, .cacheControl: type.cacheControl,
                                   .accessControlAllowOrigin: "*", .acceptRanges: "bytes"]
        // A private video's objects must not be kept by shared caches.
        if video.visibility == .private { headers[.cacheControl] = "private, max-age=300" }
        if file == TranscodeResult.Download.fileName {
            if request.uri.queryParameters["download"] == "1" {
                headers[.contentDisposition] = Self.attachment(title: video.title)
            }
            return try await streamed(key, headers: headers, request)
        }
        if let range = request.headers[.range], let (start, end) = Self.byteRange(range, size: data.count) {
            headers[.contentRange] = "bytes \(start)-\(end)/\(data.count)"
            return Response(status: .partialContent, headers: headers,
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data[start...end])))
        }
        // Playlists are text: gzip them when the client accepts it.
        if file.hasSuffix(".m3u8") {
            headers[.vary] = "Accept-Encoding"
            if Gzip.isAccepted(request.headers[.acceptEncoding]), let compressed = Gzip.compress(data) {
                headers[.contentEncoding] = "gzip"
                headers[.acceptRanges] = nil
                return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: compressed)))
            }
        }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// A large object, or the range asked of it, read from storage a MiB at a time.
    private func streamed(_ key: String, headers: HTTPFields, _ request: Request) async throws -> Response {
        guard let size = try await state.storage.size(key: key), size > 0 else { throw APIError.notFound("no such file") }
        var headers = headers
        var status = HTTPResponse.Status.ok
        var (start, end) = (Int64(0), size - 1)
        if let range = request.headers[.range] {
            if let (first, last) = Self.byteRange(range, size: Int(clamping: size)) {
                (start, end) = (Int64(first), Int64(last))
                status = .partialContent
                headers[.contentRange] = "bytes \(start)-\(end)/\(size)"
            } else if range.range(of: #"^bytes=[0-9]+-[0-9]*$"#, options: .regularExpression) != nil {
                // A well-formed range past the end; anything malformed is ignored (RFC 9110 §14.2).
                headers[.contentRange] = "bytes */\(size)"
                return Response(status: .rangeNotSatisfiable, headers: headers)
            }
        }
        let storage = state.storage
        let (first, last) = (start, end)
        let body = ResponseBody(contentLength: Int(last - first + 1)) { writer in
            var offset = first
            while offset <= last {
                guard let chunk = try await storage.read(key: key, range: offset..<min(last + 1, offset + (1 << 20))),
                      !chunk.isEmpty else { throw APIError.notFound("no such file") }
                try await writer.write(ByteBuffer(bytes: chunk))
                offset += Int64(chunk.count)
            }
            try await writer.finish(nil)
        }
        return Response(status: status, headers: headers, body: body)
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

    /// One `bytes=a-b`, `bytes=a-` or `bytes=-n` range within `size`, inclusive.
    static func byteRange(_ header: String, size: Int) -> (Int, Int)? {
        guard header.hasPrefix("bytes="), !header.contains(","), size > 0 else { return nil }
        let spec = header.dropFirst(6).split(separator: "-", omittingEmptySubsequences: false)
        guard spec.count == 2 else { return nil }
        if spec[0].isEmpty, let suffix = Int(spec[1]), suffix > 0 { return (max(0, size - suffix), size - 1) }
        guard let start = Int(spec[0]), start < size else { return nil }
        let end = spec[1].isEmpty ? size - 1 : min(Int(spec[1]) ?? (size - 1), size - 1)
        return end >= start ? (start, end) : nil
    }
}
