import Foundation
import Hummingbird

/// `GET /hls/{id}/...` in local mode: the HLS objects with their MIME types, byte
/// ranges, gzip for playlists, and CORS so a player on another origin may fetch them.
struct HLSRoutes {
    let state: ServerState

    func add(to router: Router<BasicRequestContext>) {
        router.get("hls/**") { request, context in try await serve(request, context) }
    }

    func serve(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        guard case .local(let storage) = state.backend else {
            throw APIError.notFound("HLS is served from PUBLIC_BASE_URL in S3 mode")
        }
        let path = context.parameters.getCatchAll().joined(separator: "/")
        let file: URL
        do {
            file = try storage.objectURL("hls/" + path)
        } catch {
            throw APIError.badRequest("invalid path")
        }
        guard let data = try? Data(contentsOf: file, options: .mappedIfSafe) else { throw APIError.notFound("no such file") }
        let type = HLSContentType.forPath(path)
        var headers: HTTPFields = [.contentType: type.contentType, .cacheControl: type.cacheControl,
                                   .accessControlAllowOrigin: "*", .acceptRanges: "bytes"]
        if let range = request.headers[.range], let (start, end) = Self.byteRange(range, size: data.count) {
            headers[.contentRange] = "bytes \(start)-\(end)/\(data.count)"
            return Response(status: .partialContent, headers: headers,
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data[start...end])))
        }
        // Playlists are text: gzip them when the client accepts it.
        if path.hasSuffix(".m3u8") {
            headers[.vary] = "Accept-Encoding"
            if Gzip.isAccepted(request.headers[.acceptEncoding]), let compressed = Gzip.compress(data) {
                headers[.contentEncoding] = "gzip"
                headers[.acceptRanges] = nil
                return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: compressed)))
            }
        }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
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
