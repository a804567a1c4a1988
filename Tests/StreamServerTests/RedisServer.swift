import ChildProcess
import Foundation
@testable import StreamServer
#if canImport(Glibc)
import Glibc
#endif

/// `redis-server` from Debian on 127.0.0.1 for a test, stopped by PID. With
/// `persistent`, it keeps an append-only file in its own folder, so `restart()` brings
/// back the same data, as a production Redis with AOF would.
final class RedisServer: @unchecked Sendable {
    let port: Int
    let directory: String
    let persistent: Bool
    private var child: ChildProcess

    init(persistent: Bool = false) throws {
        // Test ports stay below Linux's ephemeral range (32768-60999): a client retrying a
        // stopped server there can be given that very port and connect to itself.
        port = Int.random(in: 10_000...13_999)
        directory = "/tmp/vstream-redis-\(UUID().uuidString.prefix(8))"
        self.persistent = persistent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        child = try Self.start(port: port, directory: directory, persistent: persistent)
        try waitUntilReady()
    }

    private static func start(port: Int, directory: String, persistent: Bool) throws -> ChildProcess {
        try ChildProcess.spawn(["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--dir", directory, "--save", "",
                                "--appendonly", persistent ? "yes" : "no", "--appendfsync", "always"],
                               stdout: "\(directory)/redis.log", appending: true)
    }

    private func waitUntilReady() throws {
        for _ in 0..<200 {
            if (try? RedisConnection(url: url).command("PING")) == .status("PONG") { return }
            usleep(50_000)
        }
        throw RedisError(message: "redis-server did not start on \(port)")
    }

    var url: String { "redis://127.0.0.1:\(port)" }

    /// The server's process, for SIGSTOP and SIGCONT (a stalled Redis).
    var pid: pid_t { child.pid }

    /// Stops the server (it writes its AOF on the way out) and starts it again on the same port and data.
    func restart(downtime: Duration = .zero) async throws {
        child.stop()
        try await Task.sleep(for: downtime)
        child = try Self.start(port: port, directory: directory, persistent: persistent)
        try waitUntilReady()
    }

    func stop() {
        child.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
