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
