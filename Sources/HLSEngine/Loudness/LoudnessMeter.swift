import Foundation
import CAV
import CEBUR128

/// An EBU R128 meter (libebur128) over 48 kHz stereo: integrated loudness, loudness range
/// and true peak. Owns its `ebur128_state`s. Fed the planar float blocks the audio chain
/// makes (`Resampler`'s output), which it interleaves as libebur128 wants.
final class LoudnessMeter {
    private var state: UnsafeMutablePointer<ebur128_state>?
    /// A span's meter (`primed`) keeps the true peak on a state of its own, which is also fed
    /// the samples before the span (`prime`): its oversampling filter then starts from them,
    /// not from silence, whose step to the first sample rings past the real peak.
    private var peakState: UnsafeMutablePointer<ebur128_state>?
    /// Per channel, the highest true peak of what `add` fed `peakState` (linear).
    private var primedPeaks: [Double]
    /// Per channel, the true peak once `finish` has run (linear; nil: it could not be read).
    private var finishedPeaks: [Double?]?
    private let channels: Int
    private var interleaved: [Float] = []

    /// nil when libebur128 cannot make a meter (out of memory).
    init?(channels: Int = 2, sampleRate: Int = 48_000, primed: Bool = false) {
        let loudness = EBUR128_MODE_I.rawValue | EBUR128_MODE_LRA.rawValue
        let peak = EBUR128_MODE_TRUE_PEAK.rawValue
        guard let state = ebur128_init(UInt32(channels), UInt(sampleRate), Int32(primed ? loudness : loudness | peak)) else { return nil }
        self.state = state
        if primed {
            guard let peakState = ebur128_init(UInt32(channels), UInt(sampleRate), Int32(peak)) else {
                ebur128_destroy(&self.state)
                return nil
            }
            self.peakState = peakState
        }
        self.channels = channels
        primedPeaks = Array(repeating: 0, count: channels)
    }

    deinit {
        ebur128_destroy(&state)
        if peakState != nil { ebur128_destroy(&peakState) }
    }

    /// Meters a block of planar float samples (`AV_SAMPLE_FMT_FLTP`, `channels` planes).
    func add(_ frame: Frame) {
        interleave(frame) { samples, count in
            _ = ebur128_add_frames_float(state, samples, count)
            guard let peakState else { return }
            _ = ebur128_add_frames_float(peakState, samples, count)
            for channel in 0..<channels {
                var peak = 0.0
                if ebur128_prev_true_peak(peakState, UInt32(channel), &peak) == EBUR128_SUCCESS.rawValue {
                    primedPeaks[channel] = max(primedPeaks[channel], peak)
                }
            }
        }
    }

    /// Feeds a block that comes before what is metered to the true peak's filter alone.
    /// Nothing for a meter that is not `primed`.
    func prime(_ frame: Frame) {
        guard let peakState else { return }
        interleave(frame) { samples, count in _ = ebur128_add_frames_float(peakState, samples, count) }
    }

    /// Ends the metering and frees what only the metering needed: a span's meter waits for
    /// the others to be merged with them, and its audio window (3 s of doubles a channel, for
    /// the loudness range) would hold 2.3 MB meanwhile. The peaks are kept here; libebur128
    /// keeps the blocks it measured across a change of parameters (only the unfinished block
    /// is lost, as at any end), and a 16 Hz state's window is 48 frames. Nothing may be added
    /// after.
    func finish() throws {
        guard finishedPeaks == nil else { return }
        finishedPeaks = (0..<channels).map { truePeak($0) }
        if peakState != nil { ebur128_destroy(&peakState) }
        let changed = ebur128_change_parameters(state, UInt32(channels), 16)
        // Only an allocation can fail here (the parameters are valid); the state is then unusable.
        guard changed == EBUR128_SUCCESS.rawValue || changed == EBUR128_ERROR_NO_CHANGE.rawValue else {
            throw TranscodeError.Reason.outOfMemory
        }
    }

    private func interleave(_ frame: Frame, _ body: (UnsafePointer<Float>?, Int) -> Void) {
        let samples = Int(frame.sampleCount)
        guard samples > 0, let planes = frame.pointer.pointee.extended_data else { return }
        if interleaved.count < samples * channels { interleaved = [Float](repeating: 0, count: samples * channels) }
        for channel in 0..<channels {
            guard let plane = planes[channel] else { return }
            plane.withMemoryRebound(to: Float.self, capacity: samples) { values in
                for index in 0..<samples { interleaved[index * channels + channel] = values[index] }
            }
        }
        interleaved.withUnsafeBufferPointer { body($0.baseAddress, samples) }
    }

    /// The highest true peak of `channel` (linear); nil when it cannot be read.
    private func truePeak(_ channel: Int) -> Double? {
        if let finishedPeaks { return finishedPeaks[channel] }
        if peakState != nil { return primedPeaks[channel] }
        var peak = 0.0
        return ebur128_true_peak(state, UInt32(channel), &peak) == EBUR128_SUCCESS.rawValue ? peak : nil
    }

    /// What was measured; a silent track has no integrated loudness (nil), as R128 gates it out.
    var measurement: Loudness.Measurement { Self.measurement(of: [self]) }

    /// What `meters`, each fed one span of the same track, measured together: R128's gates
    /// over all their blocks (libebur128's `_multiple` functions), and the highest peak.
    static func measurement(of meters: [LoudnessMeter]) -> Loudness.Measurement {
        var states = meters.map(\.state)
        var integrated = 0.0, range = 0.0
        let hasIntegrated = ebur128_loudness_global_multiple(&states, states.count, &integrated) == EBUR128_SUCCESS.rawValue
        let hasRange = ebur128_loudness_range_multiple(&states, states.count, &range) == EBUR128_SUCCESS.rawValue
        var peak = 0.0
        for meter in meters {
            for channel in 0..<meter.channels { peak = max(peak, meter.truePeak(channel) ?? 0) }
        }
        let truePeak = peak > 0 ? 20 * log10(peak) : nil
        return Loudness.Measurement(integrated: hasIntegrated && integrated.isFinite ? integrated : nil,
                                    range: hasRange && range.isFinite ? range : nil,
                                    truePeak: truePeak.flatMap { $0.isFinite ? $0 : nil })
    }
}
