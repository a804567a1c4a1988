import CAV
import Foundation

/// One read of the source's audio for the loudness measurement: each track asked for is
/// decoded, resampled as the AAC encoders' input is (48 kHz stereo, the same downmix), and
/// metered.
///
/// A read may cover one span of the timeline. A long source is measured in spans whose
/// meters are merged (`LoudnessMeter.measurement(of:)`), so that they can be read at once:
/// the audio task's encode waits for the whole measurement. Each decoded frame belongs to
/// exactly one span, by its timestamp, so no sample is metered twice or missed. Only R128's
/// 400 ms blocks that straddle a seam are lost, a few among thousands.
struct LoudnessRead {
    /// Seconds from the source's start that a read meters: `from` (nil: the start) up to
    /// `to` (nil: the end).
    struct Span: Equatable, Sendable {
        var from: Double?
        var to: Double?

        static let whole = Span()
        var isPart: Bool { from != nil || to != nil }
    }

    /// A read of one span whose frames cannot be placed on the timeline exactly: the source
    /// is then measured in one read.
    struct NotSplittable: Error, CustomStringConvertible {
        let description: String
    }

    /// A span is at least this long: its read's set-up (the index, a seek) is then noise.
    static let minimumSpanSeconds = 60.0
    static let maximumSpans = 8
    /// A span's read starts this early and discards what it decodes there: the AAC decoder
    /// needs the previous frame to overlap, so the span's first frame comes out whole.
    static let preRollSeconds = 0.25
    /// How far past its end a span's read goes, for the frames the decoders still hold.
    static let tailSeconds = 0.5

    /// The spans a source of `durationSeconds` is measured in: equal ones, the first from the
    /// start and the last to the end, whatever the declared length says. They depend on the
    /// length alone, never on the host, so the audio task of a source measures the same
    /// figures, and encodes the same bytes, on any worker; how many are read at once is the
    /// host's (`LoudnessPass.spansAtOnce`).
    static func spans(durationSeconds: Double?) -> [Span] {
        guard let durationSeconds, durationSeconds.isFinite, durationSeconds > 0 else { return [.whole] }
        let count = max(1, min(maximumSpans, Int(durationSeconds / minimumSpanSeconds)))
        guard count > 1 else { return [.whole] }
        let step = durationSeconds / Double(count)
        return (0..<count).map { index in
            Span(from: index == 0 ? nil : Double(index) * step, to: index == count - 1 ? nil : Double(index + 1) * step)
        }
    }

    let streams: [Int]
    let span: Span
    /// Samples past this many seconds a track are not metered (a lying length stays bounded).
    let maxDurationSeconds: Double?

    /// Reads `source` and returns a meter for each of `streams` it has. `progress` gets the
    /// seconds metered so far (the furthest track), about once a second.
    func run(_ source: any ByteSource, name: String, stop: CancellationFlag, isStopped: () -> Bool,
             progress: (Double) -> Void) throws -> [Int: LoudnessMeter] {
        let input = try MediaProbe.open(source, name: name, cancellation: stop)
        if span.isPart, !input.seeksToEverySample {
            throw NotSplittable(description: "the container cannot seek to a sample")
        }
        var chains: [Int32: Chain] = [:]
        for index in streams {
            guard let stream = input.stream(Int32(index)) else { continue }
            chains[Int32(index)] = try Chain(stream: stream, primed: span.from != nil)
        }
        // The demuxer skips every other stream's packets.
        for stream in input.streams where chains[stream.pointee.index] == nil { stream.pointee.discard = AVDISCARD_ALL }
        let origin = input.context.pointee.start_time == noPTS ? 0 : Double(input.context.pointee.start_time) / Double(AV_TIME_BASE)
        if let from = span.from { try seek(input, to: from + origin) }

        let packet = Packet()
        let limit = maxDurationSeconds.map { Int64($0 * 48_000) }
        var measured: [Int32: Int64] = [:]
        var reported = 0.0
        var pastTheEnd: Set<Int32> = []
        while try input.read(into: packet) {
            if isStopped() { throw TranscodeError.Reason.cancelled }
            guard let chain = chains[packet.streamIndex] else { continue }
            if span.isPart {
                let stamp = packet.pts == noPTS ? packet.dts : packet.pts
                if stamp != noPTS {
                    let seconds = Double(stamp) * chain.secondsPerTick - origin
                    if let from = span.from, seconds < from - Self.preRollSeconds { continue }
                    if let to = span.to, seconds >= to + Self.tailSeconds {
                        pastTheEnd.insert(packet.streamIndex)
                        if pastTheEnd.count == chains.count { break }
                        continue
                    }
                }
            }
            if let limit, measured[packet.streamIndex, default: 0] > limit { continue }
            measured[packet.streamIndex, default: 0] += try feed(packet, to: chain, origin: origin)
            let seconds = Double(measured[packet.streamIndex, default: 0]) / 48_000
            if seconds >= reported + 1 {
                reported = seconds
                progress(seconds)
            }
        }
        for chain in chains.values { _ = try feed(nil, to: chain, origin: origin) }
        // A span's meters wait for the others' to be merged: only their measurement is kept.
        if span.isPart { for chain in chains.values { try chain.meter.finish() } }
        return Dictionary(uniqueKeysWithValues: chains.map { (Int($0.key), $0.value.meter) })
    }

    /// A track's decoder, resampler and meter.
    private struct Chain {
        let decoder: Decoder
        let resampler: Resampler
        let meter: LoudnessMeter
        let secondsPerTick: Double

        init(stream: UnsafeMutablePointer<AVStream>, primed: Bool) throws {
            decoder = try Decoder(stream: stream, threads: 1, maxPixels: SourceBounds.maxPixels)
            resampler = try Resampler(decoder: decoder.context, sampleRate: 48_000, layout: cav_channel_layout_stereo(),
                                      format: AV_SAMPLE_FMT_FLTP)
            guard let meter = LoudnessMeter(primed: primed) else { throw TranscodeError.Reason.outOfMemory }
            self.meter = meter
            secondsPerTick = stream.pointee.time_base.doubleValue
        }
    }

    /// Seeks every measured track to its packet at or before the span's pre-roll.
    private func seek(_ input: InputFile, to seconds: Double) throws {
        guard let first = streams.first, let stream = input.stream(Int32(first)) else { return }
        let secondsPerTick = stream.pointee.time_base.doubleValue
        let ticks = ((seconds - Self.preRollSeconds - 1) / max(secondsPerTick, 1e-12)).rounded(.down)
        guard secondsPerTick > 0, ticks.isFinite, abs(ticks) < 1e18 else {
            throw NotSplittable(description: "the span's start is out of the track's range")
        }
        do {
            try input.seek(stream: Int32(first), toKeyframeAtOrBefore: Int64(ticks))
        } catch {
            throw NotSplittable(description: "the container could not seek (\(error.message))")
        }
    }

    /// Decodes `packet` (nil drains), resamples and meters the frames of the span; returns
    /// the samples metered. A packet the decoder rejects is skipped, as the decode stage
    /// skips it.
    private func feed(_ packet: Packet?, to chain: Chain, origin: Double) throws -> Int64 {
        var samples: Int64 = 0
        try chain.decoder.decodeSkippingDamage(packet) { frame in
            if span.isPart {
                let stamp = frame.pointer.pointee.best_effort_timestamp
                guard stamp != noPTS else { throw NotSplittable(description: "a decoded frame has no timestamp") }
                let seconds = Double(stamp) * chain.secondsPerTick - origin
                if let from = span.from, seconds < from {
                    // The pre-roll: through the resampler to the true peak's filter, unmetered.
                    do { try chain.resampler.push(frame) } catch { return }
                    while let block = try chain.resampler.pop(count: 4096, final: true) { chain.meter.prime(block) }
                    return
                }
                if let to = span.to, seconds >= to { return }
            }
            do { try chain.resampler.push(frame) } catch { return }  // a frame the resampler cannot take
            while let block = try chain.resampler.pop(count: 4096) {
                chain.meter.add(block)
                samples += Int64(block.sampleCount)
            }
        }
        if packet == nil {
            try chain.resampler.push(nil)
            while let block = try chain.resampler.pop(count: 4096, final: true) { chain.meter.add(block) }
        }
        return samples
    }
}
