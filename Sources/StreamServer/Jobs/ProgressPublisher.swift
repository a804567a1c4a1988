import Foundation

/// Where a worker reports a video's progress: the in-process hub (embedded default) or
/// Redis (any API node then serves any video's events).
public protocol ProgressPublisher: Sendable {
    /// `make` receives the event's sequence id.
    func publish(_ video: UUID, _ make: @escaping @Sendable (Int) -> VideoEvent) async
}

extension ProgressHub: ProgressPublisher {
    public func publish(_ video: UUID, _ make: @escaping @Sendable (Int) -> VideoEvent) async {
        publishEvent(video, make)
    }
}
