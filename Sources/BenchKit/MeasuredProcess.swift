import ChildProcess
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One measured run of a contender: a group of processes started together.
public struct ProcessSample: Sendable, Codable, Equatable {
    /// From the first start to the last exit, monotonic clock.
    public var wallSeconds: Double
    /// user + sys of every process in the group.
    public var cpuSeconds: Double
    /// Peak resident memory: the sum over the group's processes (they run at once).
    public var peakRSSBytes: Int
}

/// Runs commands and measures them as whole processes.
///
/// Each command runs under GNU time (`/usr/bin/time`), which reports its own forked
/// child's rusage. wait4 on a child spawned from this process would not do for memory:
/// Linux carries the parent's RSS high-water mark into a child across exec.
public enum MeasuredProcess {
    public struct Failure: Error, CustomStringConvertible {
        public var command: [String]
        public var status: Int32
        public var stderr: String
        public var description: String {
            "\(command.first ?? "?") exited \(status): \(stderr.split(separator: "\n").suffix(3).joined(separator: " | "))"
        }
    }

    /// Starts every command at once and waits for all. Throws if any exits non-zero.
    public static func run(_ commands: [[String]], label: String = "run") throws -> ProcessSample {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bench-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let started = ContinuousClock.now
        let children = try commands.enumerated().map { index, command in
            try spawn(["/usr/bin/time", "-f", "%U %S %M", "-o", "\(directory)/\(index).time"] + command,
                      stderr: "\(directory)/\(index).err")
        }
        var failures: [Failure] = []
        for (index, pid) in children.enumerated() {
            let status = wait(pid)
            if status != 0 {
                let stderr = (try? String(contentsOfFile: "\(directory)/\(index).err", encoding: .utf8)) ?? ""
                failures.append(Failure(command: commands[index], status: status, stderr: stderr))
            }
        }
        let wall = (ContinuousClock.now - started) / .seconds(1)
        if let failure = failures.first { throw failure }
        var cpu = 0.0, rss = 0
        for index in commands.indices {
            let text = (try? String(contentsOfFile: "\(directory)/\(index).time", encoding: .utf8)) ?? ""
            // GNU time may print a "Command exited…" line first; the figures are the last line.
            let fields = text.split(separator: "\n").last?.split(separator: " ") ?? []
            guard fields.count == 3, let user = Double(fields[0]), let system = Double(fields[1]), let kilobytes = Int(fields[2])
            else { throw Failure(command: commands[index], status: -1, stderr: "unreadable GNU time output: \(text)") }
            cpu += user + system
            rss += kilobytes * 1024
        }
        return ProcessSample(wallSeconds: wall, cpuSeconds: cpu, peakRSSBytes: rss)
    }

    static func spawn(_ arguments: [String], stderr: String) throws -> pid_t {
        do {
            return try ChildProcess.spawn(arguments, stderr: stderr).pid
        } catch let error as ChildProcess.SpawnError {
            throw Failure(command: arguments, status: error.code, stderr: "\(error)")
        }
    }

    static func wait(_ pid: pid_t) -> Int32 { ChildProcess(pid: pid).wait() }
}
