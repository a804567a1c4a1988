import ArgumentParser
import Foundation
import Hummingbird
import StreamServer

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the HTTP service: resumable uploads, transcoding, live progress and playback.")

    @Option(help: "Address to listen on (env HOST).") var host: String?
    @Option(help: "Port (env PORT).") var port: Int?
    @Option(help: "Data directory of the embedded default (env VSTREAM_DATA_DIR).") var dataDir: String?
    @Option(help: "The web page's folder (env VSTREAM_WEB_DIR).") var webDir: String?
    @Flag(help: "Do not run the transcode worker in this process.") var noWorker = false
    @Option(help: "Also serve Prometheus /metrics on this port of 127.0.0.1, with no API key asked.") var metricsPort: Int?

    func run() async throws {
        ServiceRuntime.bootstrap()
        var configuration = try ServerConfiguration.fromEnvironment()
        configuration.transcoderExecutable = ServiceRuntime.ownExecutable
        if let host { configuration.host = host }
        if let port { configuration.port = port }
        if let dataDir { configuration.dataDirectory = dataDir }
        if let webDir { configuration.webDirectory = webDir }
        configuration.embeddedWorker = !noWorker
        let state = try await ServerState(configuration: configuration, logger: ServiceRuntime.logger)
        // With Redis, the embedded worker is a consumer of the shared stream like any other.
        let worker = state.redisWorker.map { worker in Task { await worker.run() } }
        defer { worker?.cancel() }
        let sweeper = Task { await state.runUploadSweeper(logger: ServiceRuntime.logger) }
        defer { sweeper.cancel() }
        let metrics = metricsPort.map { port in Task { try await MetricsServer.run(port: port) } }
        defer { metrics?.cancel() }
        let data = URL(fileURLWithPath: configuration.dataDirectory).standardizedFileURL.path
        let host = configuration.host
        let app = buildApplication(state) { port in
            Terminal.printLine("vstream is serving on http://\(host):\(port)/  (open it in a browser; data in \(data))")
        }
        try await app.runService()
        state.shutdown()
    }
}
