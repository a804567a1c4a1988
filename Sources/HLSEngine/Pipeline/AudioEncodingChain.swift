import CAV
import Foundation

/// One audio track from source to AAC: its decoder, a resampler to 48 kHz stereo, the
/// static loudness gain, and the AAC encoder, with the sample-counted timeline its packets
/// are stamped on. The decode stage drives one per track; `NormalisedAudio` drives a
/// second one per track over its own read of the source. Both place every sample with
/// these methods, so their packets carry the same timestamps and cut into the same
/// segments.
final class AudioEncodingChain {
    let streamIndex: Int32
    let decoder: Decoder
    let resampler: Resampler
    let encoder: Encoder
    let offset: Int64
    /// Which track of the ladder it encodes.
    var track: AudioTrack = .main
    /// Loudness: the static gain (linear) once the measurement is in; what the source measured.
    var gain: Float?
    var gainDecibels = 0.0
    var measured: Loudness.Measurement?
    var nextPTS: Int64?
    /// Where the audio timeline is anchored: a decoded pts (decoder time base) and the
    /// output sample it maps to. Later frames are placed relative to it (see `place`).
    var anchor: (pts: Int64, sample: Int64)?

    init(stream: UnsafeMutablePointer<AVStream>, startTime: Int64, bitrate: Int, maxPixels: Int64) throws {
        streamIndex = stream.pointee.index
        decoder = try Decoder(stream: stream, threads: 1, maxPixels: maxPixels)
        _ = try AudioFormat(sampleRate: decoder.context.pointee.sample_rate,
                            channels: decoder.context.pointee.ch_layout.nb_channels)
        let sampleRate: Int32 = 48_000
        encoder = try Encoder(codecName: "aac") { context in
            context.pointee.sample_rate = sampleRate
            context.pointee.ch_layout = cav_channel_layout_stereo()
            context.pointee.sample_fmt = AV_SAMPLE_FMT_FLTP
            context.pointee.bit_rate = Int64(bitrate)
            context.pointee.time_base = AVRational(num: 1, den: sampleRate)
            context.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER
        }
        resampler = try Resampler(decoder: decoder.context, sampleRate: sampleRate,
                                  layout: cav_channel_layout_stereo(), format: AV_SAMPLE_FMT_FLTP)
        offset = startTime == noPTS ? 0 : rescale(startTime, from: cav_time_base_q(), to: stream.pointee.time_base)
    }

    /// The encoder-time-base pts of the first audio sample: its offset from the input's
    /// start, kept only within 0...30 s (further means its timestamps are garbage).
    func firstPTS(_ pts: Int64) -> Int64 {
        guard pts != noPTS else { return 0 }
        let seconds = (Double(pts) - Double(offset)) * decoder.timeBase.doubleValue
        guard seconds.isFinite, seconds >= 0, seconds <= 30 else { return 0 }
        return Int64((seconds * Double(encoder.timeBase.den) / Double(max(1, encoder.timeBase.num))).rounded())
    }

    var frameSize: Int32 { max(encoder.context.pointee.frame_size, 1024) }

    /// Places `frame` on the timeline (the first frame starts it) and fills any gap
    /// before it; returns whether silence was added.
    ///
    /// Audio is timed by its sample count, so packets dropped as corrupt would pull every
    /// later sample early and drift the sync. Where a frame's timestamp says it starts
    /// more than 2 AAC frames after what is queued, the gap is filled with silence. A gap
    /// over 10 s, or a step back, is a discontinuity of the timestamps, not lost audio:
    /// the timeline is re-anchored there instead (as the video's is).
    func place(_ frame: Frame) throws -> Bool {
        let pts = frame.pointer.pointee.best_effort_timestamp
        if nextPTS == nil { nextPTS = firstPTS(pts) }
        guard pts != noPTS else { return false }
        let rate = Double(resampler.sampleRate)
        let queuedEnd = (nextPTS ?? 0) + Int64(resampler.bufferedSamples)
        guard let anchor else {
            self.anchor = (pts, queuedEnd)
            return false
        }
        let seconds = (Double(pts) - Double(anchor.pts)) * decoder.timeBase.doubleValue
        let expected = Double(anchor.sample) + seconds * rate
        let gap = expected - Double(queuedEnd)
        guard gap.isFinite, gap > -rate * 0.5, gap <= rate * 10 else {
            self.anchor = (pts, queuedEnd)
            return false
        }
        guard gap > 2 * Double(frameSize) else { return false }
        do {
            try resampler.pushSilence(Int32(gap.rounded()))
        } catch {
            throw error.code == AVError.outOfMemory ? TranscodeError.Reason.outOfMemory : TranscodeError.Reason.ffmpeg(error)
        }
        return true
    }

    /// The time of the next sample to be encoded, in seconds.
    var nextSampleTime: Double { Double(nextPTS ?? 0) / Double(encoder.context.pointee.sample_rate) }

    /// Resamples `frame`; false when the resampler cannot take it (an absurd format change).
    func resample(_ frame: Frame) throws -> Bool {
        do {
            try resampler.push(frame)
            return true
        } catch where error.code == AVError.outOfMemory {
            throw TranscodeError.Reason.outOfMemory
        } catch {
            return false
        }
    }

    /// The next encoder-sized block of resampled audio, stamped with its pts (`final`:
    /// the last, shorter one too).
    func nextBlock(final: Bool) throws -> Frame? {
        guard let block = try resampler.pop(count: frameSize, final: final) else { return nil }
        block.pts = nextPTS ?? 0
        nextPTS = block.pts + Int64(block.sampleCount)
        return block
    }

    /// Applies the gain (one multiplication per sample: no compressor, no limiter) and encodes.
    func encode(_ block: Frame, emit: (Packet) throws -> Void) throws {
        if let gain, gain != 1, let planes = block.pointer.pointee.extended_data {
            let samples = Int(block.sampleCount)
            for channel in 0..<Int(block.pointer.pointee.ch_layout.nb_channels) {
                planes[channel]?.withMemoryRebound(to: Float.self, capacity: samples) { values in
                    for index in 0..<samples { values[index] *= gain }
                }
            }
        }
        try encoder.encode(block, emit: emit)
    }
}
