import ArgumentParser
import Foundation
import Hummingbird
import ServiceLifecycle
import StreamServer

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Transcode jobs from the Redis stream (same environment as serve: REDIS_URL, DATABASE_URL, R2_*).",
        discussion: """
            Any number of workers, on any number of hosts, share one consumer group. SIGTERM stops taking \
            jobs and gives running ones --grace-period seconds; then they are handed back to other workers \
            (without using up an attempt).
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
        let settings = try ServiceRuntime.configuration { adjusted in
            adjusted.transcoderExecutable = ServiceRuntime.ownExecutable
            if let dataDir { adjusted.dataDirectory = dataDir }
            adjusted.worker.concurrency = concurrency
            adjusted.worker.visibilityTimeout = .seconds(visibilityTimeout)
            adjusted.worker.grace = .seconds(gracePeriod)
            if let maxAttempts { adjusted.worker.policy.maxAttempts = max(1, maxAttempts) }
        }
        let parts = try await WorkerParts(configuration: settings, logger: ServiceRuntime.logger)
        var services: [any Service] = []
        if let metricsPort { services.append(MetricsServer.application(port: metricsPort)) }
        services.append(RedisWorkerService(worker: parts.worker))
        Terminal.printLine("vstream worker \(parts.worker.consumer) is taking jobs from \(settings.redisURL ?? "")")
        // The group waits for the grace, plus a little for the hand-back itself.
        try await ServiceRuntime.run(services, grace: Double(gracePeriod) + 10)
    }
}

/// `/metrics` (and `/healthz`) alone, on loopback: for a scraper on the same host, which
/// needs no API key (the public listener's `/metrics` asks for one).
enum MetricsServer {
    static func application(port: Int) -> some Service {
        let router = Router()
        router.get("metrics") { _, _ in MetricsExposition() }
        router.get("healthz") { _, _ in "ok" }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "vstream-worker"),
                           logger: ServiceRuntime.logger)
    }
}
