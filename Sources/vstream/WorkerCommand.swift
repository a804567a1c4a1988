import ArgumentParser
import Foundation
import Hummingbird
import StreamServer

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Transcode jobs from the Redis stream (same environment as serve: REDIS_URL, DATABASE_URL, R2_*).",
        discussion: """
            Any number of workers, on any number of hosts, share one consumer group. SIGTERM stops taking \
            jobs and gives running ones --grace-period seconds; then they are handed back to other workers.
            """)

    @Option(help: "Jobs at a time in this process.") var concurrency = 1
    @Option(help: "Seconds a job may go without a heartbeat before another worker takes it over.") var visibilityTimeout = 60
    @Option(help: "Seconds a running job gets to finish after SIGTERM before it is handed back.") var gracePeriod = 30
    @Option(help: "Attempts per job before it is dead-lettered (env VSTREAM_MAX_ATTEMPTS).") var maxAttempts: Int?
    @Option(help: "Serve Prometheus /metrics on this port of 127.0.0.1 (no credentials asked).") var metricsPort: Int?
    @Option(help: "Scratch and (without R2) storage directory (env VSTREAM_DATA_DIR).") var dataDir: String?

    func validate() throws {
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
        guard visibilityTimeout >= 1 else { throw ValidationError("--visibility-timeout must be at least 1 second") }
        guard gracePeriod >= 0 else { throw ValidationError("--grace-period cannot be negative") }
    }

    func run() async throws {
        ServiceRuntime.bootstrap()
        var configuration = try ServerConfiguration.fromEnvironment()
        configuration.transcoderExecutable = ServiceRuntime.ownExecutable
        if let dataDir { configuration.dataDirectory = dataDir }
        guard configuration.redisURL != nil else {
            throw ValidationError("vstream worker takes its jobs from Redis: set REDIS_URL")
        }
        configuration.embeddedWorker = true
        configuration.worker.concurrency = concurrency
        configuration.worker.visibilityTimeout = .seconds(visibilityTimeout)
        configuration.worker.grace = .seconds(gracePeriod)
        if let maxAttempts { configuration.worker.policy.maxAttempts = max(1, maxAttempts) }
        let state = try await ServerState(configuration: configuration, logger: ServiceRuntime.logger)
        guard let worker = state.redisWorker else { return }

        let signals = ServiceRuntime.onTermination { worker.terminate() }
        defer { signals.forEach { $0.cancel() } }
        var metrics: Task<Void, any Error>?
        if let metricsPort {
            metrics = Task { try await MetricsServer.run(port: metricsPort) }
        }
        defer { metrics?.cancel() }
        Terminal.printLine("vstream worker \(worker.consumer) is taking jobs from \(configuration.redisURL ?? "")")
        await worker.run()
        state.shutdown()
    }
}

/// `/metrics` (and `/healthz`) alone, on loopback: for a scraper on the same host, which
/// needs no API key (the public listener's `/metrics` asks for one).
enum MetricsServer {
    static func run(port: Int) async throws {
        let host = "127.0.0.1"
        let router = Router()
        router.get("metrics") { _, _ in MetricsExposition() }
        router.get("healthz") { _, _ in "ok" }
        let app = Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "vstream-worker"),
                              logger: ServiceRuntime.logger)
        try await app.runService()
    }
}
