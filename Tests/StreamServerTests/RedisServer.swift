import Foundation
@testable import StreamServer
#if canImport(Glibc)
import Glibc
#endif

/// `redis-server` from Debian on 127.0.0.1 for a test, stopped by PID.
final class RedisServer: @unchecked Sendable {
    let port: Int
    private let pid: pid_t

    init() throws {
        port = Int.random(in: 30_000...39_000)
        let arguments = ["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawnp(&pid, "redis-server", &actions, nil, argv, environ) == 0 else { throw POSIXError(.ENOENT) }
        self.pid = pid
        for _ in 0..<100 {
            if (try? RedisConnection(url: url).command("PING")) == .status("PONG") { return }
            usleep(50_000)
        }
    }

    var url: String { "redis://127.0.0.1:\(port)" }

    func stop() {
        kill(pid, SIGTERM)
        var status: Int32 = 0
        for _ in 0..<100 where waitpid(pid, &status, WNOHANG) != pid { usleep(20_000) }
    }
}
