import CSandbox
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child whose standard streams are pipes to us: a supervised transcoder that reads a
/// start line on stdin, reports on stdout and complains on stderr.
public struct PipedChild: Sendable {
    public let process: ChildProcess
    /// Our ends: write to the child's stdin, read its stdout and stderr.
    public let input: Int32
    public let output: Int32
    public let errors: Int32

    /// The descriptor a passed one gets in the child (`spawn(passing:)`).
    public static let passedDescriptor: Int32 = 3

    /// Starts `arguments[0]` (an absolute path) with the same clean signal state as
    /// `ChildProcess.spawn`. Our pipe ends are close-on-exec, so no other child holds them.
    /// `passing` become the child's descriptors 3, 4… (the source relays' sockets).
    /// Spawned from `SpawningThread`, so a child that dies with its parent thread dies only
    /// with this process.
    public static func spawn(_ arguments: [String], environment: [String: String], passing: [Int32] = []) throws -> PipedChild {
        try SpawningThread.shared.run { try spawnHere(arguments, environment: environment, passing: passing) }
    }

    private static func spawnHere(_ arguments: [String], environment: [String: String], passing: [Int32]) throws -> PipedChild {
        var pipes: [(read: Int32, write: Int32)] = []
        defer { for pipe in pipes { if pipe.read >= 0 { close(pipe.read) }; if pipe.write >= 0 { close(pipe.write) } } }
        for _ in 0..<3 {
            var fds: [Int32] = [-1, -1]
            guard pipe(&fds) == 0 else { throw ChildProcess.SpawnError(command: arguments, code: errno) }
            _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
            pipes.append((fds[0], fds[1]))
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipes[0].read, 0)
        posix_spawn_file_actions_adddup2(&actions, pipes[1].write, 1)
        posix_spawn_file_actions_adddup2(&actions, pipes[2].write, 2)
        // dup2 leaves the copy without close-on-exec, so it alone survives the exec.
        for (offset, descriptor) in passing.enumerated() {
            posix_spawn_file_actions_adddup2(&actions, descriptor, passedDescriptor + Int32(offset))
        }

        var attributes = ChildProcess.cleanSignalAttributes()
        defer { posix_spawnattr_destroy(&attributes) }

        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }
        var pid: pid_t = 0
        let code = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, envp)
        guard code == 0 else { throw ChildProcess.SpawnError(command: arguments, code: code) }
        // Keep our ends: stdin's write end, stdout's and stderr's read ends.
        let ours = (input: pipes[0].write, output: pipes[1].read, errors: pipes[2].read)
        pipes[0].write = -1
        pipes[1].read = -1
        pipes[2].read = -1
        return PipedChild(process: ChildProcess(pid: pid), input: ours.input, output: ours.output, errors: ours.errors)
    }

    /// Caps the child's address space (RLIMIT_AS), before it is told to start.
    public func limitAddressSpace(bytes: UInt64) -> Bool { vstream_limit_address_space(process.pid, bytes) == 0 }
}
