import Foundation

/// At most one progress tick per `interval` per video. Final events, and the first
/// event of each stage (downloading → transcoding → uploading), always pass: a client
/// must never miss a change of stage because it came right after a tick.
struct ProgressThrottle: Sendable {
    let interval: Duration
    private var last: [UUID: (at: ContinuousClock.Instant, stage: String?)] = [:]

    init(interval: Duration) { self.interval = interval }

    mutating func admits(_ event: VideoEvent, for video: UUID, now: ContinuousClock.Instant = .now) -> Bool {
        if event.kind == .ready || event.kind == .failed {
            last[video] = nil
            return true
        }
        if event.kind == .progress, let previous = last[video], previous.stage == event.stage, now - previous.at < interval {
            return false
        }
        last[video] = (now, event.stage)
        return true
    }

    mutating func forget(_ video: UUID) { last[video] = nil }
}
