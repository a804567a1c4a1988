import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs an outside program (ffprobe, ffmpeg, gst-launch-1.0, python3) with posix_spawn.
/// Output goes to temporary files, so nothing can stall on a full pipe, and waiting
/// is a plain waitpid loop (Foundation's Process.waitUntilExit can hang on Linux).
struct Command {
    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
        /// Peak resident memory of the program in bytes, when run with `measuringMemory`.
        var maxRSS: Int = 0
    }

    struct Exit {
        var status: Int32
    }

    /// A spawned child, stopped by PID.
    struct Child {
        let pid: pid_t

        /// Polls until the child exits; kills it with SIGKILL after `timeout` seconds.
        /// The status is the exit code, or 128 + the signal that ended it.
        @discardableResult
        func wait(timeout: TimeInterval) -> Exit {
            let deadline = Date().addingTimeInterval(timeout)
            var status: Int32 = 0
            var usage = rusage()
            while true {
                let result = wait4(pid, &status, WNOHANG, &usage)
                if result == pid { break }
                if result < 0 { return Exit(status: -1) }
                if Date() > deadline {
                    kill(pid, SIGKILL)
                    _ = wait4(pid, &status, 0, &usage)
                    return Exit(status: -9)
                }
                usleep(5_000)
            }
            // WIFEXITED / WEXITSTATUS are macros; decode the status word by hand.
            let code = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            return Exit(status: code)
        }

        func signal(_ number: Int32) { kill(pid, number) }

        func stop() {
            kill(pid, SIGTERM)
            wait(timeout: 5)
        }
    }

    /// Starts `arguments` (searched on PATH) with stdout and stderr going to the given files.
    static func spawn(_ arguments: [String], stdout: String = "/dev/null", stderr: String = "/dev/null") throws -> Child {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let status = posix_spawnp(&pid, arguments[0], &actions, nil, argv, environ)
        guard status == 0 else { throw POSIXError(POSIXErrorCode(rawValue: status) ?? .ENOENT) }
        return Child(pid: pid)
    }

    /// Runs to completion (or `timeout`) and returns what it printed.
    ///
    /// `measuringMemory` runs it under GNU time for its peak RSS. wait4's ru_maxrss cannot
    /// be used here: a child spawned from this (large) test process inherits our RSS
    /// high-water mark at exec; GNU time's own forked child starts from a small process.
    static func run(_ arguments: [String], timeout: TimeInterval = 120, measuringMemory: Bool = false) throws -> Output {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("cmd-\(UUID().uuidString)").path
        defer {
            for suffix in [".out", ".err", ".rss"] { try? FileManager.default.removeItem(atPath: base + suffix) }
        }
        let command = measuringMemory ? ["/usr/bin/time", "-f", "%M", "-o", base + ".rss"] + arguments : arguments
        let child = try spawn(command, stdout: base + ".out", stderr: base + ".err")
        let exit = child.wait(timeout: timeout)
        let kilobytes = (try? String(contentsOfFile: base + ".rss", encoding: .utf8))?
            .split(separator: "\n").last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } ?? 0
        return Output(status: exit.status,
                      stdout: (try? String(contentsOfFile: base + ".out", encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOfFile: base + ".err", encoding: .utf8)) ?? "",
                      maxRSS: kilobytes * 1024)
    }

    /// The number of decoded video frames, counted by ffprobe: an oracle independent of our probe.
    static func ffprobeDecodedFrames(_ path: String) throws -> Int {
        let output = try run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames",
                              "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", path])
        // Prints "90," (and a line per program in TS): the first run of digits is the count.
        return Int(output.stdout.prefix { $0.isNumber }) ?? -1
    }
}

/// `python3 -m http.server` on 127.0.0.1, stopped by PID: players fetch over real HTTP.
final class StaticHTTPServer {
    let port: Int
    private let child: Command.Child

    init(root: String) throws {
        port = Int.random(in: 20_000...40_000)
        child = try Command.spawn(["python3", "-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", root])
        var attempts = 0
        while !Self.accepts(port) && attempts < 100 {
            attempts += 1
            usleep(50_000)
        }
    }

    private static func accepts(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)/\(path)" }

    func stop() { child.stop() }
}
