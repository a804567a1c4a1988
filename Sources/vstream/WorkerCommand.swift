import ArgumentParser
import Foundation
import StreamServer

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Transcode jobs from the Redis stream (same environment as serve: REDIS_URL, DATABASE_URL, R2_*).")

    @Option(help: "Scratch and (without R2) storage directory (env VSTREAM_DATA_DIR).") var dataDir: String?

    func run() async throws {
        var configuration = ServerConfiguration.fromEnvironment()
        if let dataDir { configuration.dataDirectory = dataDir }
        guard configuration.redisURL != nil else {
            throw ValidationError("vstream worker takes its jobs from Redis: set REDIS_URL")
        }
        configuration.embeddedWorker = true
        _ = try await ServerState(configuration: configuration)
        Terminal.printLine("vstream worker is taking jobs from \(configuration.redisURL ?? "")")
        while true { try await Task.sleep(for: .seconds(3600)) }
    }
}
