import Dispatch
import Foundation
import Logging
import StreamServer

/// What `serve` and `worker` set up before anything else: logs, metrics, signals.
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

    /// This executable, which also runs each transcode as a supervised child.
    /// `VSTREAM_IN_PROCESS_TRANSCODE=1` keeps the engine in this process instead (debugging).
    static var ownExecutable: String? {
        if ProcessInfo.processInfo.environment["VSTREAM_IN_PROCESS_TRANSCODE"] == "1" { return nil }
        return (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments.first
    }

    /// Calls `handler` on SIGTERM or SIGINT instead of dying. Keep the sources alive.
    static func onTermination(_ handler: @escaping @Sendable () -> Void) -> [DispatchSourceSignal] {
        [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler(handler: handler)
            source.resume()
            return source
        }
    }
}
