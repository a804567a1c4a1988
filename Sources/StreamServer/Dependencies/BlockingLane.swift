import Foundation
import Synchronization

/// A dependency (PostgreSQL, Redis, S3) did not answer within
/// `VSTREAM_DEPENDENCY_TIMEOUT_SECONDS`. The routes answer 503 with Retry-After; the
/// call itself may still be blocked on its own thread, never on the cooperative pool.
public struct DependencyUnavailable: Error, CustomStringConvertible, Sendable {
    /// "PostgreSQL", "Redis", "storage".
    public var dependency: String
    public var seconds: Double
    public var description: String { "\(dependency) did not answer within \(seconds) s" }
}

/// Where one blocking C client (libpq, hiredis) runs its calls: a serial queue of its
/// own, off Swift's cooperative pool, so a stalled server blocks that queue's thread and
/// nothing else. Every call has a deadline: past it the caller gets
/// `DependencyUnavailable` while the stuck call finishes (or not) on the lane's thread.
/// Calls queued behind a stuck one that have already timed out are skipped, so an outage
/// does not replay a backlog of requests nobody waits for.
public final class BlockingLane: Sendable {
    public let dependency: String
    public let timeoutSeconds: Double
    private let queue: DispatchQueue

    public init(_ dependency: String, timeoutSeconds: Double) {
        self.dependency = dependency
        self.timeoutSeconds = timeoutSeconds
        queue = DispatchQueue(label: "vstream.lane.\(dependency.lowercased())")
    }

    /// Runs `work` on the lane; throws `DependencyUnavailable` after the deadline.
    @discardableResult
    public func run<T: Sendable>(timeout: Double? = nil, _ work: @escaping @Sendable () throws -> T) async throws -> T {
        let seconds = timeout ?? timeoutSeconds
        let once = OnceContinuation<T>()
        let dependency = self.dependency
        return try await withCheckedThrowingContinuation { continuation in
            once.arm(continuation)
            queue.async {
                guard !once.isResumed else { return }  // its caller has given up already
                once.resume(with: Result { try work() })
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds) {
                once.resume(with: .failure(DependencyUnavailable(dependency: dependency, seconds: seconds)))
            }
        }
    }

    /// Runs `work` on the lane and waits as long as it takes (a subscriber's blocking read).
    public func runWithoutDeadline<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try work() }) }
        }
    }
}

/// A continuation resumed by whichever comes first: the answer or the deadline.
final class OnceContinuation<T: Sendable>: Sendable {
    private let state = Mutex<(continuation: CheckedContinuation<T, any Error>?, resumed: Bool)>((nil, false))

    func arm(_ continuation: CheckedContinuation<T, any Error>) {
        state.withLock { $0.continuation = continuation }
    }

    var isResumed: Bool { state.withLock { $0.resumed } }

    func resume(with result: Result<T, any Error>) {
        let continuation = state.withLock { state -> CheckedContinuation<T, any Error>? in
            guard !state.resumed else { return nil }
            state.resumed = true
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume(with: result)
    }
}

/// An async call raced against a deadline, for a dependency whose client has no lane of
/// its own (storage's transfers have libcurl's timeouts, which are longer). The call
/// goes on in the background after the deadline; its answer is then dropped.
enum Deadline {
    @discardableResult
    static func within<T: Sendable>(_ seconds: Double, dependency: String,
                                    _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        let once = OnceContinuation<T>()
        return try await withCheckedThrowingContinuation { continuation in
            once.arm(continuation)
            Task {
                do { once.resume(with: .success(try await operation())) } catch { once.resume(with: .failure(error)) }
            }
            Task {
                try? await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
                once.resume(with: .failure(DependencyUnavailable(dependency: dependency, seconds: seconds)))
            }
        }
    }
}
