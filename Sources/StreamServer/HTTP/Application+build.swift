import Foundation
import Hummingbird
import Logging

/// Builds the HTTP application: one function, so tests build it with test settings.
/// `onListening` runs once the socket accepts connections (so a printed URL works).
public func buildApplication(_ state: ServerState, logger: Logger = Logger(label: "vstream"),
                             onListening: @escaping @Sendable (_ port: Int) async -> Void = { _ in }) -> some ApplicationProtocol {
    let router = buildRouter(state)
    return Application(
        router: router,
        server: .http1(configuration: .init(idleTimeout: .seconds(state.configuration.idleTimeoutSeconds))),
        configuration: .init(address: .hostname(state.configuration.host, port: state.configuration.port),
                             serverName: "vstream"),
        onServerRunning: { channel in await onListening(channel.localAddress?.port ?? state.configuration.port) },
        logger: logger)
}

public func buildRouter(_ state: ServerState) -> Router<VStreamRequestContext> {
    // HEAD is answered on every GET route (players and CDNs ask it), with GET's headers.
    let router = Router(context: VStreamRequestContext.self, options: .autoGenerateHeadEndpoints)
    router.add(middleware: MetricsMiddleware())
    router.add(middleware: JSONErrorMiddleware())
    router.add(middleware: APICORSMiddleware(origins: Set(state.access.configuration.corsOrigins)))
    router.add(middleware: RequestGuardMiddleware(hosts: HostAllowlist(configuration: state.configuration)))
    if let page = state.configuration.webDirectory {
        router.add(middleware: FileMiddleware(page, searchForIndexHtml: true))
    }
    // Who is asking, for every route after this (VStreamRequestContext.identity).
    router.add(middleware: state.access.authenticator)
    // Liveness: this process answers. It touches no dependency, so it stays answered
    // while PostgreSQL or Redis stalls.
    router.get("healthz") { _, _ in HealthResponse(status: "ok") }
    // Readiness: each dependency, within the dependency timeout; 503 when one fails.
    router.get("readyz") { _, _ in await Readiness(state: state).response() }
    router.get("metrics") { _, context in
        if case .deny(let refusal) = AccessRules.mayReadMetrics(context.identity) { throw refusal }
        return MetricsExposition()
    }
    // The page's watch URL: the same page, which reads the id from the path.
    router.get("watch/:id") { request, context in try await WatchPage(state: state).response(request, context) }
    UploadRoutes(state: state).add(to: router)
    VideoRoutes(state: state).add(to: router)
    CaptionRoutes(state: state).add(to: router)
    HLSRoutes(state: state).add(to: router)
    return router
}

struct HealthResponse: ResponseEncodable { var status: String }

/// `GET /watch/{id}`: the page's `index.html`; the page sees the id in its URL.
struct WatchPage {
    let state: ServerState

    func response(_ request: Request, _ context: VStreamRequestContext) async throws -> Response {
        guard let page = state.configuration.webDirectory,
              let html = try? Data(contentsOf: URL(fileURLWithPath: page).appendingPathComponent("index.html")) else {
            throw APIError.notFound("the page is not installed")
        }
        return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-cache"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: html)))
    }
}
