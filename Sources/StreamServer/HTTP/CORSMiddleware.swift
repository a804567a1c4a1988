import Hummingbird

/// CORS for apps (`VSTREAM_CORS_ORIGINS`): pages on the listed origins may call the API
/// with an `Authorization` header; a preflight from any other origin is refused, so a
/// browser never sends such a page's request. Playback (`/hls`) has its own `*`: the
/// objects are for any player, and a private video's are opened by its token.
struct APICORSMiddleware<Context: RequestContext>: RouterMiddleware {
    let origins: Set<String>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.uri.path.hasPrefix("/api/"), let origin = request.headers[.origin] else {
            return try await next(request, context)
        }
        let allowed = origins.contains(origin)
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            guard allowed else { throw APIError.forbidden("this origin may not call the API (VSTREAM_CORS_ORIGINS)") }
            var headers = Self.headers(origin)
            headers[.accessControlAllowMethods] = "GET, POST, PATCH, PUT, DELETE"
            headers[.accessControlAllowHeaders] = "Authorization, Content-Type, Last-Event-ID"
            headers[.accessControlMaxAge] = "600"
            return Response(status: .noContent, headers: headers)
        }
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as APIError where allowed {
            // The app's page reads the error too: the rules' 401, 403 and 429 among them.
            response = try error.response(from: request, context: context)
        }
        guard allowed else { return response }
        for field in Self.headers(origin) { response.headers[field.name] = field.value }
        response.headers[.accessControlExposeHeaders] = "ETag, Retry-After, WWW-Authenticate"
        return response
    }

    static func headers(_ origin: String) -> HTTPFields {
        [.accessControlAllowOrigin: origin, .vary: "Origin"]
    }
}
