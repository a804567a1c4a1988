import Foundation

/// The one thread supervised children are spawned from, alive as long as the process.
///
/// A supervised transcoder asks for SIGKILL when its parent dies (PR_SET_PDEATHSIG), and
/// Linux sends it when the parent *thread* that spawned it ends, not the process. The
/// async pool's threads end after a few idle seconds (libdispatch reaps them), so a child
/// spawned from one could be killed mid-transcode by nobody, and read as "ran out of
/// memory" (a SIGKILL the service did not send). Spawned from here, it dies only with the
/// process. A spawn is a few milliseconds of posix_spawn; the caller waits that long.
final class SpawningThread: @unchecked Sendable {
    // @unchecked: `pending` is guarded by `condition`.
    static let shared = SpawningThread()

    private let condition = NSCondition()
    private var pending: [@Sendable () -> Void] = []

    private init() {
        let thread = Thread { [self] in serve() }
        thread.name = "vstream.spawner"
        thread.start()
    }

    private func serve() {
        while true {
            condition.lock()
            while pending.isEmpty { condition.wait() }
            let next = pending.removeFirst()
            condition.unlock()
            next()
        }
    }

    /// Runs `body` on the spawning thread and returns what it returned or threw.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) throws -> T {
        let outcome = Outcome<T>()
        condition.lock()
        pending.append {
            outcome.result = Result(catching: body)
            outcome.done.signal()
        }
        condition.signal()
        condition.unlock()
        outcome.done.wait()
        guard let result = outcome.result else { throw CancellationError() }
        return try result.get()
    }

    private final class Outcome<T: Sendable>: @unchecked Sendable {
        // @unchecked: written once on the spawning thread before `done` is signalled, read after.
        var result: Result<T, Error>?
        let done = DispatchSemaphore(value: 0)
    }
}
