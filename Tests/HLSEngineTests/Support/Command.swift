import ChildProcess
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs an outside program (ffprobe, ffmpeg, gst-launch-1.0, python3) as a `ChildProcess`.
/// Output goes to temporary files, so nothing can stall on a full pipe.
struct Command {
    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
        /// Peak resident memory of the program in bytes, when run with `measuringMemory`.
        var maxRSS: Int = 0
    }

    typealias Child = ChildProcess

    /// Starts `arguments` (searched on PATH) with stdout and stderr going to the given files.
    static func spawn(_ arguments: [String], stdout: String = "/dev/null", stderr: String = "/dev/null") throws -> Child {
        try ChildProcess.spawn(arguments, stdout: stdout, stderr: stderr)
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
        let status = child.wait(timeout: timeout)
        let kilobytes = (try? String(contentsOfFile: base + ".rss", encoding: .utf8))?
            .split(separator: "\n").last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } ?? 0
        return Output(status: status,
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
        port = Int.random(in: 20_000...25_999)  // below the ephemeral range (32768+)
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
