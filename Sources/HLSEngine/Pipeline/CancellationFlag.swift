import Synchronization

/// Tells every stage to stop; polled by each stage and by libavformat's interrupt
/// callback. Two causes set it, and they must not be confused: `cancel()` is somebody
/// asking (Task cancellation, Ctrl-C), `abort()` is a stage that failed and stops the
/// others. Only the first may be reported as "cancelled"; the second reports its error.
///
/// A flag made `within` another stops when that one does, but a stage failing under it
/// stops only its own part of the run: the audio task's spans, which may be abandoned for
/// one encoder (`AudioSpans.NotSplittable`) while the task goes on.
public final class CancellationFlag: Sendable {
    private static let running: UInt8 = 0, aborted: UInt8 = 1, cancelled: UInt8 = 2
    private let state = Atomic<UInt8>(CancellationFlag.running)
    private let parent: CancellationFlag?
    public init() { parent = nil }
    init(within parent: CancellationFlag) { self.parent = parent }
    /// Either cause: stop now.
    public var isCancelled: Bool { state.load(ordering: .acquiring) != Self.running || parent?.isCancelled == true }
    /// Somebody asked for the stop (not a failing stage).
    public var wasCancelledByRequest: Bool {
        state.load(ordering: .acquiring) == Self.cancelled || parent?.wasCancelledByRequest == true
    }
    public func cancel() { state.store(Self.cancelled, ordering: .releasing) }
    /// A stage failed; the others stop. Never overrides a request to cancel.
    func abort() { _ = state.compareExchange(expected: Self.running, desired: Self.aborted, ordering: .acquiringAndReleasing) }
}
