import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import StreamServer

/// What `serve` and `worker` set up before anything else: logs, metrics, the validated
/// configuration; and how they run: one `ServiceGroup`.
enum ServiceRuntime {
    /// swift-log to stderr, one line per event with its metadata (video id, status…).
    /// `VSTREAM_LOG_LEVEL`: trace, debug, info (default), notice, warning, error.
    static func bootstrap() {
        let level = ProcessInfo.processInfo.environment["VSTREAM_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        MetricsExport.bootstrap()
    }

    static let logger = Logger(label: "vstream")

    /// The configuration from the environment, adjusted by the command's flags. A
    /// malformed value stops the command here with one line naming the variable.
    /// (A `ConfigurationError` prints as that one line, "Error: PORT must be …", with no
    /// usage text after it: the flags were fine, the environment was not.)
    static func configuration(_ adjust: (inout ServerConfiguration) throws -> Void) throws -> ServerConfiguration {
        var configuration = try ServerConfiguration.fromEnvironment()
        if let level = ProcessInfo.processInfo.environment["VSTREAM_LOG_LEVEL"], !level.isEmpty, Logger.Level(rawValue: level) == nil {
            throw ConfigurationError("VSTREAM_LOG_LEVEL must be one of trace, debug, info, notice, warning, error, critical, not \"\(level.prefix(40))\"")
        }
        try adjust(&configuration)
        bootstrap()
        return configuration
    }

    /// This process's executable, resolved (for the page beside it, and the child).
    static var executablePath: String? {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments.first
    }

    /// This executable, which also runs each transcode as a supervised child.
    /// `VSTREAM_IN_PROCESS_TRANSCODE=1` keeps the engine in this process instead (debugging).
    static var ownExecutable: String? {
        if ProcessInfo.processInfo.environment["VSTREAM_IN_PROCESS_TRANSCODE"] == "1" { return nil }
        return executablePath
    }

    /// Runs `services` in one group until SIGTERM or SIGINT, then shuts them down in
    /// reverse order. Past `grace` seconds whatever is still running is cancelled, so
    /// the process always ends; a shutdown is a normal end (exit 0).
    static func run(_ services: [any Service], grace: Double) async throws {
        var configuration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint],
                                                      cancellationSignals: [], logger: logger)
        configuration.maximumGracefulShutdownDuration = .milliseconds(Int64(grace * 1000))
        configuration.maximumCancellationDuration = .seconds(2)
        let group = ServiceGroup(configuration: configuration)
        do {
            try await group.run()
        } catch let error as ServiceGroupError {
            // A service that ended on its own before any signal (the port was taken…).
            throw error
        } catch is CancellationError {
            // The grace ran out and the rest was cancelled: still a shutdown.
        }
        logger.notice("shut down")
    }
}
