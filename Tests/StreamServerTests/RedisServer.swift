import ChildProcess
import Foundation
@testable import StreamServer
#if canImport(Glibc)
import Glibc
#endif

/// `redis-server` from Debian on 127.0.0.1 for a test, stopped by PID.
final class RedisServer: @unchecked Sendable {
    let port: Int
    private let child: ChildProcess

    init() throws {
        port = Int.random(in: 30_000...39_000)
        child = try ChildProcess.spawn(["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "",
                                        "--appendonly", "no"])
        for _ in 0..<100 {
            if (try? RedisConnection(url: url).command("PING")) == .status("PONG") { return }
            usleep(50_000)
        }
    }

    var url: String { "redis://127.0.0.1:\(port)" }

    func stop() { child.stop() }
}
