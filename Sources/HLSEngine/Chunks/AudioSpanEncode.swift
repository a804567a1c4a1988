import CAV
import Foundation

/// One span of one audio track (`AudioSpans`): the track read from a seek before the span,
/// each decoded frame placed on the whole track's timeline by its timestamp, encoded from
/// a whole number of AAC frames before the span, and the packets of the span's segments
/// cut into them by a rendition of its own. Its segments are moved into the track's folder
/// as they close.
struct AudioSpanEncode {
    let span: AudioSpans.Span
    let track: AudioSpans.Track
    let name: String
    let options: TranscodeOptions
    let videoTimeBase: AVRational
    let shift: TimelineShift
    /// The track's folder, and this span's own (for its muxer's `init.mp4`).
    let folder: String
    let spanFolder: String
    let reports: (@Sendable (Publication) -> Void)?
    let cancellation: CancellationFlag

    /// What the span wrote: its segments, in the track's folder.
    struct Outcome {
        let segments: [SegmentedMuxer.Segment]
        let timescale: Int
        let channels: Int
        let sampleRate: Int
    }

    func run(_ reader: any ByteSource) throws -> Outcome {
        let input = try MediaProbe.open(reader, name: name, cancellation: cancellation)
        guard let stream = input.stream(track.streamIndex) else { throw AudioSpans.NotSplittable(description: "the track is missing") }
        for other in input.streams where other.pointee.index != track.streamIndex { other.pointee.discard = AVDISCARD_ALL }
        let chain = try AudioEncodingChain(stream: stream, startTime: input.context.pointee.start_time, bitrate: options.audioBitrate,
                                           maxPixels: SourceBounds.maxPixels)
        chain.track = track.track
        chain.gain = track.gain
        let worker = try AudioRenditionWorker(
            name: track.track.folder, audio: chain.encoder, videoTimeBase: videoTimeBase, directory: spanFolder,
            format: options.segmentFormat, segmentDuration: options.segmentDuration, queueDepth: options.queueDepth, shift: shift,
            progressive: nil, reports: reports, span: .init(folder: folder, firstSegment: span.firstSegment), cancellation: cancellation)
        for time in span.cuts { worker.queue.pushWithoutWaiting(.cut(time: time, startsSegment: true)) }
        if let closesAt = span.closesAt { worker.queue.pushWithoutWaiting(.cut(time: closesAt, startsSegment: false)) }
        worker.start()
        do {
            try encode(input, stream: stream, chain: chain, into: worker.queue)
            worker.queue.push(.audioEnd)
            worker.queue.push(.end)
        } catch {
            worker.queue.closeAndDiscard()
            worker.join()
            // A muxer that failed stopped this loop, which then read as cancelled.
            if let failure = worker.failure, (failure as? TranscodeError.Reason) != .cancelled { throw failure }
            throw error
        }
        worker.join()
        if let failure = worker.failure { throw failure }
        return Outcome(segments: worker.segments, timescale: worker.timescale,
                       channels: Int(chain.encoder.context.pointee.ch_layout.nb_channels),
                       sampleRate: Int(chain.encoder.context.pointee.sample_rate))
    }

    private func encode(_ input: InputFile, stream: UnsafeMutablePointer<AVStream>, chain: AudioEncodingChain,
                        into queue: BoundedQueue<RenditionInput>) throws {
        let frameSize = Int64(chain.frameSize)
        let anchor = track.anchor
        // The first AAC frame this span encodes: `prerollFrames` (and two for the encoder's
        // own delay) before the frame its first packet presents in, on the whole grid.
        let encodeFrom: Int64
        if let start = span.start {
            let wanted = Int64((start * Double(AudioSpans.sampleRate)).rounded(.down))
            encodeFrom = anchor.sample + max(0, (wanted - anchor.sample) / frameSize - AudioSpans.prerollFrames - 2) * frameSize
            try seek(input, stream: stream, toSample: encodeFrom)
        } else {
            encodeFrom = anchor.sample
        }
        let timeBase = stream.pointee.time_base
        let audioSeconds = chain.encoder.timeBase.doubleValue
        let reference = DecodeStage.audioAloneReference(maxDurationSeconds: options.maxDurationSeconds)
        var expected: Int64?
        var feeding = false
        var passedEnd = false
        var damaged = false

        let emit: (Packet) throws -> Void = { packet in
            let time = Double(packet.pts) * audioSeconds
            if let start = span.start, time < start { return }
            if let end = span.end, time >= end {
                passedEnd = true
                return
            }
            guard queue.push(.audio(packet)) else { throw TranscodeError.Reason.cancelled }
        }
        let take: (Frame) throws -> Void = { frame in
            let pts = frame.pointer.pointee.best_effort_timestamp
            guard pts != noPTS, frame.pointer.pointee.sample_rate == Int32(AudioSpans.sampleRate) else {
                throw AudioSpans.NotSplittable(description: "a frame has no timestamp or another rate")
            }
            let sample = try Self.sample(of: pts, anchor: anchor, timeBase: timeBase)
            if let expected, sample != expected {
                throw AudioSpans.NotSplittable(description: "the track's timestamps jump at sample \(sample) (expected \(expected))")
            }
            let count = Int64(frame.sampleCount)
            expected = sample + count
            // What a whole run drops past `--max-duration` it never places: the spans would not agree.
            if Double(sample) / Double(AudioSpans.sampleRate) > reference {
                throw AudioSpans.NotSplittable(description: "the track runs past the longest duration kept")
            }
            if !feeding {
                guard sample + count > encodeFrom else { return }  // before the pre-roll
                guard sample <= encodeFrom else { throw AudioSpans.NotSplittable(description: "the seek landed past the span") }
                guard try chain.resample(frame) else { throw AudioSpans.NotSplittable(description: "a frame the resampler refused") }
                try chain.resampler.discard(Int32(encodeFrom - sample))
                chain.nextPTS = encodeFrom
                feeding = true
            } else {
                guard try chain.resample(frame) else { throw AudioSpans.NotSplittable(description: "a frame the resampler refused") }
            }
            while let block = try chain.nextBlock(final: false) { try chain.encode(block, emit: emit) }
        }

        let packet = Packet()
        while !passedEnd, try input.read(into: packet) {
            if cancellation.isCancelled { throw TranscodeError.Reason.cancelled }
            guard packet.streamIndex == track.streamIndex else { continue }
            try chain.decoder.decodeSkippingDamage(packet, rejected: { damaged = true }, deliver: take)
            // A whole run goes on past a damaged packet, its count then behind the timestamps.
            if damaged { throw AudioSpans.NotSplittable(description: "a damaged packet") }
        }
        if span.end != nil {
            guard passedEnd else { throw AudioSpans.NotSplittable(description: "the track ends before its span does") }
            return
        }
        // The last span drains as a whole run does at the track's end.
        try chain.decoder.decodeSkippingDamage(nil, rejected: { damaged = true }, deliver: take)
        try chain.resampler.push(nil)
        while let block = try chain.nextBlock(final: true) { try chain.encode(block, emit: emit) }
        try chain.encoder.encode(nil, emit: emit)
    }

    /// The whole track's sample a timestamp falls on; exact, or not splittable.
    static func sample(of pts: Int64, anchor: AudioSpans.Anchor, timeBase: AVRational) throws -> Int64 {
        let (ticks, overflow) = pts.subtractingReportingOverflow(anchor.pts)
        let (scaled, overflowScaled) = ticks.multipliedReportingOverflow(by: Int64(timeBase.num) * AudioSpans.sampleRate)
        guard !overflow, !overflowScaled, timeBase.den > 0, scaled % Int64(timeBase.den) == 0 else {
            throw AudioSpans.NotSplittable(description: "a timestamp between samples")
        }
        return anchor.sample + scaled / Int64(timeBase.den)
    }

    /// Moves to the track's packet a second before `sample`, so the decoder has the frame
    /// before it to overlap with when the pre-roll begins.
    private func seek(_ input: InputFile, stream: UnsafeMutablePointer<AVStream>, toSample sample: Int64) throws {
        let seconds = Double(sample - track.anchor.sample) / Double(AudioSpans.sampleRate) - 1
        let ticks = (Double(track.anchor.pts) + seconds / max(stream.pointee.time_base.doubleValue, 1e-12)).rounded(.down)
        guard ticks.isFinite, abs(ticks) < 1e18 else { throw AudioSpans.NotSplittable(description: "the span's start is out of range") }
        do {
            try input.seek(stream: track.streamIndex, toKeyframeAtOrBefore: Int64(ticks))
        } catch {
            throw AudioSpans.NotSplittable(description: "the container could not seek (\(error.message))")
        }
    }
}
