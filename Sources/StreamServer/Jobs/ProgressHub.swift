import HLSEngine
import Foundation

/// What SSE clients are told about a video.
public struct VideoEvent: Sendable, Codable, Equatable {
    /// `playable`: the progressive master is stored, `playbackUrl` plays while the
    /// transcode goes on; later progress events carry the same URL.
    public enum Kind: String, Sendable, Codable { case state, progress, playable, ready, failed }
    public var id: Int
    public var kind: Kind
    public var status: VideoLifecycle.Status
    public var stage: String?
    public var percent: Double
    public var framesDone: Int?
    public var framesTotal: Int?
    public var fps: Double?
    public var renditions: [String: Int]?
    public var playbackUrl: String?
    /// `ready` of a DASH ladder: its `manifest.mpd`.
    public var dashUrl: String?
    public var error: String?
    /// A video encoded as chunks (split and stitch): how many, and how many are stored.
    public var chunks: ChunkCount?

    public struct ChunkCount: Sendable, Codable, Equatable {
        public var total: Int
        public var done: Int
    }
}

extension VideoEvent {
    /// A `progress` event from the engine's exact count.
    init(transcoding event: TranscodeEvent, sequence: Int, playbackUrl: String?) {
        self.init(id: sequence, kind: .progress, status: .processing, stage: "transcoding", percent: event.percent,
                  framesDone: event.framesDone, framesTotal: event.framesTotal, fps: event.fps,
                  renditions: Dictionary(event.renditions.map { ($0.name, $0.framesEncoded) }, uniquingKeysWith: { $1 }),
                  playbackUrl: playbackUrl)
    }
}

/// The in-process progress channel (the embedded default; Redis pub/sub in production).
/// Keeps each video's latest event, throttles to at most 4 a second, and fans events
/// out to subscribers.
public actor ProgressHub {
    private var latest: [UUID: VideoEvent] = [:]
    private var throttle: ProgressThrottle
    private var subscribers: [UUID: [UUID: AsyncStream<VideoEvent>.Continuation]] = [:]
    private var sequence = 0

    public init(interval: Duration = .milliseconds(250)) { throttle = ProgressThrottle(interval: interval) }

    public func latestEvent(for video: UUID) -> VideoEvent? { latest[video] }

    /// Publishes an event; progress ticks closer together than `interval` are dropped,
    /// final events never are.
    func publishEvent(_ video: UUID, _ make: (Int) -> VideoEvent) {
        let candidate = make(sequence + 1)
        guard throttle.admits(candidate, for: video) else { return }
        sequence += 1
        deliver(video, candidate)
    }

    /// Fans an event out to this node's subscribers (events from Redis arrive here).
    public func deliver(_ video: UUID, _ candidate: VideoEvent) {
        latest[video] = candidate
        for continuation in subscribers[video, default: [:]].values { continuation.yield(candidate) }
        if candidate.kind == .ready || candidate.kind == .failed {
            for continuation in subscribers[video, default: [:]].values { continuation.finish() }
            subscribers[video] = nil
        }
    }

    /// Events for `video` from now on; ends after a final event.
    public func subscribe(_ video: UUID) -> AsyncStream<VideoEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: VideoEvent.self, bufferingPolicy: .bufferingNewest(16))
        let token = UUID()
        subscribers[video, default: [:]][token] = continuation
        continuation.onTermination = { _ in Task { await self.unsubscribe(video, token) } }
        return stream
    }

    private func unsubscribe(_ video: UUID, _ token: UUID) {
        subscribers[video]?[token] = nil
    }

    public func forget(_ video: UUID) {
        latest[video] = nil
        throttle.forget(video)
    }
}
