import Foundation
import CAV
import CEBUR128

/// An EBU R128 meter (libebur128) over 48 kHz stereo: integrated loudness, loudness range
/// and true peak. Owns its `ebur128_state`. Fed the planar float blocks the audio chain
/// makes (`Resampler`'s output), which it interleaves as libebur128 wants.
final class LoudnessMeter {
    private var state: UnsafeMutablePointer<ebur128_state>?
    private let channels: Int
    private var interleaved: [Float] = []

    /// nil when libebur128 cannot make a meter (out of memory).
    init?(channels: Int = 2, sampleRate: Int = 48_000) {
        let mode = Int32(EBUR128_MODE_I.rawValue | EBUR128_MODE_LRA.rawValue | EBUR128_MODE_TRUE_PEAK.rawValue)
        guard let state = ebur128_init(UInt32(channels), UInt(sampleRate), mode) else { return nil }
        self.state = state
        self.channels = channels
    }

    deinit { ebur128_destroy(&state) }

    /// Adds a block of planar float samples (`AV_SAMPLE_FMT_FLTP`, `channels` planes).
    func add(_ frame: Frame) {
        let samples = Int(frame.sampleCount)
        guard samples > 0, let planes = frame.pointer.pointee.extended_data else { return }
        if interleaved.count < samples * channels { interleaved = [Float](repeating: 0, count: samples * channels) }
        for channel in 0..<channels {
            guard let plane = planes[channel] else { return }
            plane.withMemoryRebound(to: Float.self, capacity: samples) { values in
                for index in 0..<samples { interleaved[index * channels + channel] = values[index] }
            }
        }
        interleaved.withUnsafeBufferPointer { _ = ebur128_add_frames_float(state, $0.baseAddress, samples) }
    }

    /// What was measured; a silent track has no integrated loudness (nil), as R128 gates it out.
    var measurement: Loudness.Measurement {
        var integrated = 0.0, range = 0.0
        let hasIntegrated = ebur128_loudness_global(state, &integrated) == EBUR128_SUCCESS.rawValue
        let hasRange = ebur128_loudness_range(state, &range) == EBUR128_SUCCESS.rawValue
        var peak = 0.0
        for channel in 0..<channels {
            var channelPeak = 0.0
            if ebur128_true_peak(state, UInt32(channel), &channelPeak) == EBUR128_SUCCESS.rawValue { peak = max(peak, channelPeak) }
        }
        let truePeak = peak > 0 ? 20 * log10(peak) : nil
        return Loudness.Measurement(integrated: hasIntegrated && integrated.isFinite ? integrated : nil,
                                    range: hasRange && range.isFinite ? range : nil,
                                    truePeak: truePeak.flatMap { $0.isFinite ? $0 : nil })
    }
}
