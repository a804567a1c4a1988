import ChildProcess
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A PostgreSQL 15 server on 127.0.0.1 for a test: `initdb` and `pg_ctl` run as the
/// postgres user (both refuse root), the data folder outside /root, stopped by PID.
final class PostgreSQL: @unchecked Sendable {
    let port: Int
    let directory: String
    static let bin = "/usr/lib/postgresql/15/bin"

    init() throws {
        port = Int.random(in: 14_000...15_999)  // below the ephemeral range, as RedisServer explains
        directory = "/tmp/vstream-pg-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try run(["chown", "postgres:postgres", directory])
        try run(["runuser", "-u", "postgres", "--", "\(Self.bin)/initdb", "-D", "\(directory)/data", "-A", "trust",
                 "-U", "postgres", "--no-sync"])
        try run(["runuser", "-u", "postgres", "--", "\(Self.bin)/pg_ctl", "-D", "\(directory)/data", "-w", "-l",
                 "\(directory)/postgres.log", "-o", "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off",
                 "start"])
    }

    var url: String { "postgresql://postgres@127.0.0.1:\(port)/postgres" }

    /// A restart, as an operator or a failover would do it: connections drop.
    func restart() throws {
        try run(["runuser", "-u", "postgres", "--", "\(Self.bin)/pg_ctl", "-D", "\(directory)/data", "-w", "-m", "fast", "-l",
                 "\(directory)/postgres.log", "-o", "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off",
                 "restart"])
    }

    /// The postmaster and every process it forked (one backend per connection): all of
    /// them must be stopped for the server to stall as a hung host would.
    var processes: [pid_t] {
        guard let text = try? String(contentsOfFile: "\(directory)/data/postmaster.pid", encoding: .utf8),
              let postmaster = text.split(separator: "\n").first.flatMap({ pid_t($0) }) else { return [] }
        return [postmaster] + ProcessTable.children(of: postmaster)
    }

    /// Stops the postmaster by the PID in postmaster.pid (fast shutdown), and waits.
    func stop() {
        if let text = try? String(contentsOfFile: "\(directory)/data/postmaster.pid", encoding: .utf8),
           let pid = text.split(separator: "\n").first.flatMap({ pid_t($0) }) {
            kill(pid, SIGINT)
            for _ in 0..<200 where kill(pid, 0) == 0 { usleep(50_000) }
        }
        try? FileManager.default.removeItem(atPath: directory)
        try? FileManager.default.removeItem(atPath: "\(directory).setup.log")
    }

    private func run(_ arguments: [String]) throws {
        let log = "\(directory).setup.log"
        guard try ChildProcess.run(arguments, stderr: log, timeout: 120) == 0 else {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw SetupFailure(message: "\(arguments.joined(separator: " ")) failed: \(text.suffix(500))")
        }
    }

    struct SetupFailure: Error { var message: String }
}
