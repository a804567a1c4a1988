import Foundation

/// Runs blocking work (a libcurl transfer, a file copy, a directory walk) on a thread of
/// its own and waits for it without holding a thread of Swift's cooperative pool, which
/// has one per core: on 2 cores, two blocked calls would stop every request.
///
/// A thread per call, not a GCD concurrent queue: on Linux that queue is as wide as the
/// cores, so on 2 cores the source's fetch and the segment uploads waited for each other
/// and a viewer of a transcoding video stalled (issue 20's closing note). A thread costs
/// tens of microseconds; every call here moves a file or an object.
enum OwnThread {
    static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            start { continuation.resume(with: Result { try work() }) }
        }
    }

    /// Starts `work` on a thread of its own and does not wait for it (work nobody awaits,
    /// such as removing a finished task's scratch folder).
    static func start(_ work: @escaping @Sendable () -> Void) {
        Thread { work() }.start()
    }
}
