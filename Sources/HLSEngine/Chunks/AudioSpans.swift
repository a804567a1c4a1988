import CAV
import Foundation

/// The audio task's encode cut into spans of whole segments and encoded at once, on as
/// many cores as the host gives the task (issue 21).
///
/// Why: one AAC encoder takes about 1.3 s a minute of sound, and FFmpeg's encoder is most
/// of that (docs/performance.md), so a 2-hour film's audio took longer than its video on
/// 20 hosts. Joining separately encoded files, as av1an and SVT Encore do, leaves a
/// priming gap at each seam. Here nothing is joined: every span's encoder starts a whole
/// number of AAC frames (`prerollFrames`) before its span, on the whole track's frame grid,
/// and its packets before the span are thrown away. The packets that remain carry the
/// timestamps a run of the whole track gives them, so the track has the same segments,
/// sample for sample and `tfdt` for `tfdt`; only the bits of the frames differ slightly
/// from a whole run's (the encoder's rate control has another past). The decoder
/// crossfades the two encoders' frames at a seam, as it does any two frames
/// (`bench/aac_splice.py` measures what a seam costs, and why 10 s of pre-roll).
///
/// A span's samples are placed by their timestamps, where a whole run counts them, so the
/// spans are used only where the two agree: an MP4 or MOV whose track's sample table says
/// each packet follows the last (`contiguousByIndex`), at 48 kHz (no resampling, whose
/// filter would start afresh at each span), in fMP4 segments. Each span checks this again
/// as it decodes, and one that finds otherwise (a damaged packet, a timestamp jump) sends
/// the task back to one encoder (`NotSplittable`).
enum AudioSpans {
    /// The span length: its 10 s of pre-roll are then a sixth more to encode. The spans
    /// depend on the source alone, never on the host, so every worker encodes the same.
    static let defaultSeconds = 60.0
    /// AAC frames each span's encoder runs before its span (10 s). FFmpeg's AAC encoder
    /// steers its bit allocation slowly: encoders started 0.7 s early coded their spans of an
    /// AAC source 3.5 dB worse than a run of the whole track (brought down 1.75 dB by the
    /// loudness gain); from 10 s early, as well (`bench/aac_splice.py`). Ten seconds a
    /// minute is a sixth more audio to encode, on cores that were idle.
    static let prerollFrames: Int64 = 470
    static let sampleRate: Int64 = 48_000
    /// Spans encoded at once, at most: each holds a read of the source with its demuxer's
    /// index (a 2-hour MP4's runs to tens of MB) beside a decoder and an encoder.
    static let maximumThreads = 8

    /// What a span covers, in the whole track's segments and its output timeline (seconds).
    struct Span: Equatable {
        var index: Int
        var firstSegment: Int
        /// Packets from here (nil: from the track's start, as chunk 0's first segment takes
        /// the audio before the first frame) up to `end` (nil: the track's end).
        var start: Double?
        var end: Double?
        /// The video's cuts the span's rendition is given: its segments' starts, and the next
        /// span's first (its last segment then ends there).
        var cuts: [Double]
        /// The last span closes the last segment's video at the whole video's last frame,
        /// as the audio task's one encoder does.
        var closesAt: Double?
    }

    /// Spans of `seconds` (rounded to whole segments) over the plan's segments; none (no
    /// split) when the plan has too few segments for two. The first span covers chunk 0 at
    /// least: its encoder is a whole run's from the start, so the audio chunk 0 previews
    /// (`ChunkSelection.AudioWork.preview`) stays byte for byte the task's.
    static func spans(of plan: ChunkPlan, seconds: Double) -> [Span] {
        let starts = plan.segmentStarts
        guard seconds > 0, seconds.isFinite, plan.segmentDuration > 0 else { return [] }
        let perSpan = max(1, Int((seconds / plan.segmentDuration).rounded()))
        let firstSpan = max(perSpan, plan.chunks.first?.segmentCount ?? 0)
        guard starts.count >= firstSpan + perSpan else { return [] }
        var spans: [Span] = []
        var first = 0
        // The last span takes the remainder, so none is shorter than `seconds`.
        while first < starts.count {
            let length = first == 0 ? firstSpan : perSpan
            let last = starts.count - first < length + perSpan
            let end = last ? starts.count : first + length
            spans.append(Span(index: spans.count, firstSegment: first, start: first == 0 ? nil : starts[first],
                              end: last ? nil : starts[end],
                              cuts: Array(starts[first..<min(end + 1, starts.count)]), closesAt: last ? plan.lastFrameTime : nil))
            first = end
        }
        return spans
    }

    /// A reason the task's audio is encoded by one encoder after all.
    struct NotSplittable: Error, CustomStringConvertible {
        let description: String
    }

    /// Where a track's timeline is anchored: its first decoded frame's timestamp and the
    /// sample a whole run places it at (`AudioEncodingChain.place`).
    struct Anchor {
        let pts: Int64
        let sample: Int64
    }

    /// One track to encode in spans: which stream, its gain, and its anchor.
    struct Track {
        let streamIndex: Int32
        let track: AudioTrack
        let gain: Float
        let anchor: Anchor
    }

    /// Whether `stream` is 48 kHz and its sample table puts every packet one packet's length
    /// after the last (a whole number of samples): then a whole run's sample count and the
    /// timestamps agree throughout. Each span checks the decoded frames again.
    static func contiguousByIndex(_ stream: UnsafeMutablePointer<AVStream>) -> Bool {
        let timeBase = stream.pointee.time_base
        guard stream.pointee.codecpar.pointee.sample_rate == Int32(sampleRate), timeBase.num > 0, timeBase.den > 0 else { return false }
        let count = avformat_index_get_entries_count(stream)
        guard count >= 2, let first = avformat_index_get_entry(stream, 0)?.pointee.timestamp,
              let second = avformat_index_get_entry(stream, 1)?.pointee.timestamp else { return false }
        let step = second - first
        // The step in samples must be whole: ticks * num * rate / den.
        let (scaled, overflow) = step.multipliedReportingOverflow(by: Int64(timeBase.num) * sampleRate)
        guard step > 0, !overflow, scaled % Int64(timeBase.den) == 0 else { return false }
        var previous = second
        for position in 2..<count {
            guard let timestamp = avformat_index_get_entry(stream, position)?.pointee.timestamp, timestamp - previous == step else {
                return false
            }
            previous = timestamp
        }
        return true
    }

    /// Each track's anchor: its first decoded frame, read from the source's start with a
    /// decoder of its own, where a whole run anchors the track's timeline.
    static func anchors(of chains: [AudioEncodingChain], reading source: any ByteSource, name: String,
                        cancellation: CancellationFlag) throws -> [Int32: Anchor] {
        let input = try MediaProbe.open(source, name: name, cancellation: cancellation)
        var decoders: [Int32: (chain: AudioEncodingChain, decoder: Decoder)] = [:]
        for chain in chains {
            guard let stream = input.stream(chain.streamIndex) else { continue }
            decoders[chain.streamIndex] = (chain, try Decoder(stream: stream, threads: 1, maxPixels: SourceBounds.maxPixels))
        }
        for stream in input.streams where decoders[stream.pointee.index] == nil { stream.pointee.discard = AVDISCARD_ALL }
        var anchors: [Int32: Anchor] = [:]
        let packet = Packet()
        while anchors.count < decoders.count, try input.read(into: packet) {
            if cancellation.isCancelled { throw TranscodeError.Reason.cancelled }
            guard anchors[packet.streamIndex] == nil, let (chain, decoder) = decoders[packet.streamIndex] else { continue }
            var first: Int64?
            try decoder.decodeSkippingDamage(packet) { frame in
                if first == nil { first = frame.pointer.pointee.best_effort_timestamp }
            }
            guard let first else { continue }
            guard first != noPTS else { throw NotSplittable(description: "a track's first frame has no timestamp") }
            anchors[packet.streamIndex] = Anchor(pts: first, sample: chain.firstPTS(first))
        }
        return anchors
    }
}
