import Synchronization

/// Set once by whoever cancels (Task cancellation, Ctrl-C, a failing stage);
/// polled by every stage and by libavformat's interrupt callback.
public final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    public init() {}
    public var isCancelled: Bool { flag.load(ordering: .acquiring) }
    public func cancel() { flag.store(true, ordering: .releasing) }
}
