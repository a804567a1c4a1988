import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A program started with posix_spawn, owned by PID: the benchmark's contenders and
/// the servers and players that tests start (redis-server, postgres, weed, ffmpeg…).
///
/// Two things make a spawned child behave like one started from a shell, which
/// Foundation's `Process` does not guarantee here:
/// - **Signals.** posix_spawn copies the calling thread's signal mask, and the threads
///   of Swift's concurrency pool block most signals. A child that inherits that mask
///   ignores SIGTERM for ever. So the mask is cleared and every disposition reset.
/// - **Standard streams.** stdin, stdout and stderr go to files or /dev/null, so a
///   long-lived child never holds a pipe of ours open (`swift test` waits for its test
///   process's output pipes to close).
///
/// Waiting is a waitpid loop: Foundation's `Process.waitUntilExit` can hang on Linux.
public struct ChildProcess: Sendable {
    public let pid: pid_t

    public init(pid: pid_t) { self.pid = pid }

    public struct SpawnError: Error, CustomStringConvertible {
        public var command: [String]
        public var code: Int32
        public var description: String { "cannot start \(command.first ?? "?"): \(String(cString: strerror(code)))" }
    }

    /// Starts `arguments` (searched on PATH). `environment` nil keeps ours.
    public static func spawn(_ arguments: [String], environment: [String: String]? = nil, stdin: String = "/dev/null",
                             stdout: String = "/dev/null", stderr: String = "/dev/null", appending: Bool = false) throws -> ChildProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let mode = O_WRONLY | O_CREAT | (appending ? O_APPEND : O_TRUNC)
        posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, mode, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, mode, 0o644)

        var attributes = ChildProcess.cleanSignalAttributes()
        defer { posix_spawnattr_destroy(&attributes) }

        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let pairs = environment.map { $0.map { "\($0.key)=\($0.value)" } }
        let envp = pairs.map { $0.map { strdup($0) } + [nil] }
        defer { envp?.forEach { free($0) } }
        var pid: pid_t = 0
        let code = envp.map { posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, $0) }
            ?? posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, environ)
        guard code == 0 else { throw SpawnError(command: arguments, code: code) }
        return ChildProcess(pid: pid)
    }

    /// Spawn attributes for a child that starts with no signal blocked and every
    /// disposition at its default (see the type's comment). The caller destroys them.
    static func cleanSignalAttributes() -> posix_spawnattr_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        var empty = sigset_t(), all = sigset_t()
        sigemptyset(&empty)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        return attributes
    }

    /// Runs to the end and returns its exit status (see `wait`).
    @discardableResult
    public static func run(_ arguments: [String], environment: [String: String]? = nil, stdout: String = "/dev/null",
                           stderr: String = "/dev/null", timeout: Double = 600) throws -> Int32 {
        try spawn(arguments, environment: environment, stdout: stdout, stderr: stderr).wait(timeout: timeout)
    }

    /// Waits for the exit, killing the child with SIGKILL after `timeout` seconds.
    /// Returns the exit code, or 128 + the signal that ended it (137 for SIGKILL).
    @discardableResult
    public func wait(timeout: Double = .infinity) -> Int32 {
        let deadline = ContinuousClock.now + .milliseconds(Int64(min(timeout, 1e9) * 1000))
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid { break }
            if result < 0 && errno != EINTR { return -1 }
            if ContinuousClock.now > deadline {
                kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                break
            }
            usleep(5_000)
        }
        // WIFEXITED / WEXITSTATUS are macros; decode the status word by hand.
        return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    public func signal(_ number: Int32) { kill(pid, number) }

    /// SIGTERM, then SIGKILL if it has not exited after `grace` seconds.
    @discardableResult
    public func stop(grace: Double = 5) -> Int32 {
        kill(pid, SIGTERM)
        return wait(timeout: grace)
    }
}
