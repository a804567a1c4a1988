import Foundation
import Synchronization

/// Counts frames as rendition threads encode them and publishes `TranscodeEvent`s,
/// at most one every `interval` (stage changes always go out).
final class ProgressTracker: Sendable {
    private struct State {
        var stage: TranscodeEvent.Stage = .probing
        var framesTotal = 0
        var names: [String] = []
        var encoded: [Int] = []
        var lastSent: ContinuousClock.Instant?
        var sourceDuration: Double?
        var chunkPlan: TranscodeEvent.ChunkProgress?
    }

    private let state = Mutex(State())
    private let continuation: AsyncStream<TranscodeEvent>.Continuation
    private let started = ContinuousClock.now
    private let interval: Duration

    init(continuation: AsyncStream<TranscodeEvent>.Continuation, interval: Duration = .milliseconds(100)) {
        self.continuation = continuation
        self.interval = interval
    }

    func begin(framesTotal: Int, renditions: [String], sourceDuration: Double? = nil,
               chunkPlan: TranscodeEvent.ChunkProgress? = nil) {
        let event = state.withLock { state in
            state.stage = .transcoding
            state.chunkPlan = chunkPlan
            state.sourceDuration = sourceDuration
            state.framesTotal = framesTotal
            state.names = renditions
            state.encoded = Array(repeating: 0, count: renditions.count)
            return makeEvent(&state, force: true)
        }
        if let event { continuation.yield(event) }
    }

    /// Rendition `index` has encoded `count` more frames.
    func encoded(rendition index: Int, count: Int = 1) {
        let event = state.withLock { state -> TranscodeEvent? in
            guard state.encoded.indices.contains(index) else { return nil }
            state.encoded[index] += count
            return makeEvent(&state, force: false)
        }
        if let event { continuation.yield(event) }
    }

    func stage(_ stage: TranscodeEvent.Stage) {
        let event = state.withLock { state in
            state.stage = stage
            return makeEvent(&state, force: true)
        }
        if let event { continuation.yield(event) }
    }

    func finish() { continuation.finish() }

    private func makeEvent(_ state: inout State, force: Bool) -> TranscodeEvent? {
        let now = ContinuousClock.now
        if !force, let last = state.lastSent, now - last < interval { return nil }
        state.lastSent = now
        let elapsed = (now - started) / .seconds(1)
        let count = max(1, state.encoded.count)
        let sum = state.encoded.reduce(0, +)
        let slowest = state.encoded.min() ?? 0
        var percent = state.framesTotal > 0 ? 100 * Double(sum) / Double(count * state.framesTotal) : 0
        // 100% means the master playlist is written; until then stay below it.
        percent = state.stage == .done ? 100 : min(percent, 99.9)
        return TranscodeEvent(
            stage: state.stage,
            framesDone: sum / count,
            framesTotal: state.framesTotal,
            percent: (percent * 10).rounded() / 10,
            fps: elapsed > 0 ? Double(slowest) / elapsed : 0,
            elapsedSeconds: elapsed,
            renditions: zip(state.names, state.encoded).map { .init(name: $0, framesEncoded: $1) },
            sourceDurationSeconds: state.sourceDuration,
            chunkPlan: state.chunkPlan)
    }
}
