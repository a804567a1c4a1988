import ChildProcess
import Foundation
@testable import StreamServer

/// `vstream serve` from this build as a real process on 127.0.0.1, started for a test
/// and stopped by PID: the API node of the Redis and cluster tests.
struct ServeProcess {
    static let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        .appendingPathComponent("vstream").path

    let child: ChildProcess
    let port: Int
    let log: URL

    /// Starts `vstream serve` with `arguments` added, and waits for /healthz.
    init(_ arguments: [String], environment: [String: String], log: URL) async throws {
        port = Int.random(in: 20_000...25_999)  // below the ephemeral range, as RedisServer explains
        self.log = log
        child = try ChildProcess.spawn(
            [Self.binary, "serve", "--port", String(port), "--web-dir", repositoryRoot.appendingPathComponent("web").path] + arguments,
            environment: environment, stdout: log.path, stderr: log.path, appending: true)
        for _ in 0..<300 {
            if (try? HTTPTransfer.perform(method: "GET", url: url("/healthz"), headers: [:], timeout: 2))?.status == 200 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        child.stop()
        throw ServeFailure(message: "vstream serve did not start: \((try? String(contentsOf: log, encoding: .utf8))?.suffix(500) ?? "")")
    }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    struct ServeFailure: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }
}
