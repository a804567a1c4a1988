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

public func buildRouter(_ state: ServerState) -> Router<BasicRequestContext> {
    let router = Router(context: BasicRequestContext.self)
    router.add(middleware: MetricsMiddleware())
    router.add(middleware: JSONErrorMiddleware())
    router.add(middleware: RequestGuardMiddleware(hosts: HostAllowlist(configuration: state.configuration)))
    router.add(middleware: FileMiddleware(state.configuration.webDirectory, searchForIndexHtml: true))
    router.get("healthz") { _, _ in HealthResponse(status: "ok") }
    router.get("metrics") { _, _ in MetricsExposition() }
    UploadRoutes(state: state).add(to: router)
    VideoRoutes(state: state).add(to: router)
    HLSRoutes(state: state).add(to: router)
    return router
}

struct HealthResponse: ResponseEncodable { var status: String }
