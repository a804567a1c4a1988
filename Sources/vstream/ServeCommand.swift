import ArgumentParser
import Foundation
import Hummingbird
import ServiceLifecycle
import StreamServer

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the HTTP service: resumable uploads, transcoding, live progress and playback.",
        discussion: """
            SIGTERM or SIGINT shuts down gracefully: no new work is taken, requests in flight finish, a running \
            transcode is stopped and handed back to the queue at once (without using up an attempt), and the \
            process exits 0 within VSTREAM_SHUTDOWN_GRACE_SECONDS.
            """)

    @Option(help: "Address to listen on (env HOST).") var host: String?
    @Option(help: "Port (env PORT).") var port: Int?
    @Option(help: "Data directory of the embedded default (env VSTREAM_DATA_DIR).") var dataDir: String?
    @Option(help: "The web page's folder (env VSTREAM_WEB_DIR; by default the web/ beside the executable).") var webDir: String?
    @Flag(help: "Do not run the transcode worker in this process (needs REDIS_URL: workers elsewhere take the jobs).")
    var noWorker = false
    @Option(help: "Also serve Prometheus /metrics on this port of 127.0.0.1, with no API key asked.") var metricsPort: Int?

    func run() async throws {
        let settings = try ServiceRuntime.configuration { adjusted in
            adjusted.transcoderExecutable = ServiceRuntime.ownExecutable
            if let host { adjusted.host = host }
            if let port { adjusted.port = port }
            if let dataDir { adjusted.dataDirectory = dataDir }
            adjusted.webDirectory = webDir ?? adjusted.webDirectory
                ?? ServerConfiguration.pageDirectory(executable: ServiceRuntime.executablePath)
            adjusted.embeddedWorker = !noWorker
            // The embedded worker hands a running job back at once on SIGTERM.
            adjusted.worker.grace = .zero
            try adjusted.validate()
        }
        let logger = ServiceRuntime.logger
        if settings.webDirectory == nil { logger.warning("the page was not found beside the executable; serving the API only") }
        let state = try await ServerState(configuration: settings, logger: logger)
        let data = URL(fileURLWithPath: settings.dataDirectory).standardizedFileURL.path
        let listeningHost = settings.host
        let app = buildApplication(state, logger: logger) { port in
            Terminal.printLine("vstream is serving on http://\(listeningHost):\(port)/  (open it in a browser; data in \(data))")
        }
        let background = state.backgroundServices(logger: logger)
        var services: [any Service] = background.beforeHTTP
        if let metricsPort { services.append(MetricsServer.application(port: metricsPort)) }
        services.append(app)
        services += background.afterHTTP
        try await ServiceRuntime.run(services, grace: settings.shutdownGraceSeconds)
    }
}
