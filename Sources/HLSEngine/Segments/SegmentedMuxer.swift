import CAV
import Foundation

/// One rendition's muxer, cut into HLS segment files.
///
/// A single `AVFormatContext` muxes the whole rendition so timestamps (tfdt in fMP4,
/// PTS in TS) run on continuously; its output goes through a custom `AVIOContext`
/// into `SegmentFile`, which is switched to a new file at each cut.
/// - fMP4: `movflags=frag_custom+empty_moov+default_base_moof`. The header
///   (ftyp+moov) becomes `init.mp4`; each cut flushes one fragment (moof+mdat), and
///   `default_base_moof` makes every fragment's offsets relative to itself, so it
///   stands alone as a file (CMAF).
/// - TS: PAT/PMT are re-sent at the start of every segment (`resend_headers`).
///
/// Timestamps. libavformat's default for fragmented MP4 moves each track's first
/// sample to 0, which erases a source's A/V offset (a video that starts 0.5 s after its
/// audio would play 0.5 s early; the ffmpeg CLI's own HLS muxer does exactly that). So
/// its shifting is disabled and every packet of both tracks is moved by one shift
/// instead: the AAC priming plus x264's reorder delay (pts - dts of the first video
/// packet). Nothing is then negative, each fragment's tfdt is its track's real start
/// (`frag_discont`), and audio and video keep the source's relative timing, with the
/// priming samples decoding just before the first real audio sample.
///
/// A muxer may hold video and audio (the muxed ladder), video alone, or audio alone (the
/// separate audio rendition of a DASH ladder). An audio-only muxer has no video packet to
/// fix its shift: it is handed the video's with `fixShift`, so both files share one
/// timeline.
final class SegmentedMuxer {
    struct Segment: Codable, Sendable, Equatable {
        var fileName: String
        var bytes: Int64
        /// Presentation time of the segment's first video frame (its IDR: with closed
        /// GOPs nothing in the segment presents earlier), and the end of its last one.
        var start: Double?
        var end: Double = 0
        var videoFrames = 0
        /// The fragment's place on its track's timeline, read back from the file (fMP4).
        var timing: FragmentTiming?
        var duration: Double { end - (start ?? end) }
    }

    private let context: UnsafeMutablePointer<AVFormatContext>
    private let firstSegmentNumber: Int
    private var io: UnsafeMutablePointer<AVIOContext>?
    private let file = SegmentFile()
    private let directory: String
    private let format: SegmentFormat
    private let videoTimeBase: AVRational
    private let audioTimeBase: AVRational?
    private let hasVideo: Bool
    /// One frame at the nominal rate, in the video time base: the duration of the last
    /// frame when the input had only one.
    private let nominalFrameDuration: Int64
    /// The latest video packet, held back until the next one gives its true duration
    /// (next dts - its dts). An fMP4 fragment's tfdt is the sum of the sample durations
    /// before it, so a guessed duration on a fragment's last frame would shift every
    /// later segment of a variable-frame-rate video.
    private var heldVideo: Packet?
    private var lastVideoDuration: Int64 = 0
    /// `startSegment` was called: the cut happens when the next video packet (the
    /// segment's IDR) arrives and the held packet has been written to the old segment.
    private var cutPending = false
    private(set) var initializationBytes: Int64 = 0
    private(set) var segments: [Segment] = []
    private var open = false
    private var finished = false
    /// AAC encoder delay in seconds (its `initial_padding`), known up front.
    private let audioPriming: Double
    /// The shift of every timestamp, in seconds; fixed by the first video packet
    /// handed to `write`, which `SegmentCutter` always sends before any audio (or, with
    /// no video stream, by `fixShift`).
    private(set) var shift: Double?
    /// Told the shift once the first video packet fixes it (for an audio-only muxer).
    var onShiftFixed: ((Double) -> Void)?
    /// The whole run's `pts - dts` of its first video packet, in ticks, for a chunk whose
    /// own first packet is not the whole run's (`WholeRunVideoTiming`); nil: the first
    /// packet's own.
    var wholeRunVideoDelay: Int64?
    /// The last video packet's duration, in ticks, when the packet after it is another
    /// run's (a chunk's last); nil: the previous packet's.
    var finalVideoDuration: Int64?
    /// `trex`'s default sample duration, for reading fragments back.
    private var defaultSampleDuration: UInt32 = 0
    /// The track's timescale (fMP4: what `tfdt` and `trun` count in).
    private(set) var timescale: Int = 0
    /// Read each closed fragment back for its `timing` (a DASH ladder needs it).
    var readsFragmentTiming = false

    /// Called as each segment's file is complete, with its index and its duration (until
    /// the next segment's first frame; the last: until its own last frame ends).
    var onSegmentClosed: ((_ segment: Segment, _ index: Int, _ duration: Double) throws -> Void)?

    let videoStreamIndex: Int32
    let audioStreamIndex: Int32

    /// - Parameter primingOf: the AAC encoder whose delay the shift includes, when `audio`
    ///   is not muxed here (a video-only muxer beside a separate audio rendition).
    /// - Parameter firstSegmentNumber: the first segment's number in its file name (a
    ///   chunk's segments carry the numbers a whole-file run gives them).
    init(directory: String, format: SegmentFormat, video: Encoder?, audio: Encoder?, primingOf: Encoder? = nil,
         firstSegmentNumber: Int = 0) throws {
        self.firstSegmentNumber = firstSegmentNumber
        guard let primary = video ?? audio else { throw TranscodeError.Reason.io("a muxer with no stream") }
        self.directory = directory
        self.format = format
        self.hasVideo = video != nil
        self.videoStreamIndex = video != nil ? 0 : -1
        self.audioStreamIndex = audio == nil ? -1 : (video != nil ? 1 : 0)
        self.videoTimeBase = primary.timeBase
        let rate = primary.context.pointee.framerate
        self.nominalFrameDuration = video != nil && rate.isValid ? max(1, av_rescale_q(1, av_inv_q(rate), primary.timeBase)) : 1
        self.audioTimeBase = audio?.timeBase
        self.audioPriming = (audio ?? primingOf).map { Double($0.context.pointee.initial_padding) / Double(max($0.context.pointee.sample_rate, 1)) } ?? 0
        var context: UnsafeMutablePointer<AVFormatContext>? = nil
        try check(avformat_alloc_output_context2(&context, nil, format.muxerName, nil), "avformat_alloc_output_context2(\(format.muxerName))")
        guard let context else { throw AVError(code: AVError.invalidData, operation: "avformat_alloc_output_context2") }
        self.context = context

        for encoder in [video, audio].compactMap({ $0 }) {
            guard let stream = avformat_new_stream(context, nil) else { fatalError("avformat_new_stream: out of memory") }
            try check(avcodec_parameters_from_context(stream.pointee.codecpar, encoder.context), "avcodec_parameters_from_context")
            stream.pointee.time_base = encoder.timeBase
            if video != nil, encoder === video { stream.pointee.avg_frame_rate = encoder.context.pointee.framerate }
        }

        let bufferSize: Int32 = 1 << 16
        guard let buffer = av_malloc(Int(bufferSize)) else { fatalError("av_malloc: out of memory") }
        io = avio_alloc_context(
            buffer.assumingMemoryBound(to: UInt8.self), bufferSize, 1,
            Unmanaged.passUnretained(file).toOpaque(), nil,
            { opaque, bytes, count in
                guard let opaque, let bytes else { return -1 }
                return Unmanaged<SegmentFile>.fromOpaque(opaque).takeUnretainedValue().write(bytes, count: Int(count))
            }, nil)
        guard let io else { av_free(buffer); fatalError("avio_alloc_context: out of memory") }
        io.pointee.seekable = 0
        context.pointee.pb = io
        context.pointee.flags |= AVFMT_FLAG_CUSTOM_IO
        context.pointee.avoid_negative_ts = AVFMT_AVOID_NEG_TS_DISABLED  // we shift, see above

        var options: OpaquePointer? = nil
        defer { av_dict_free(&options) }
        switch format {
        case .fmp4:
            av_dict_set(&options, "movflags", "+frag_custom+empty_moov+default_base_moof+frag_discont+skip_trailer", 0)
            av_dict_set(&options, "use_editlist", "0", 0)
            try file.open(path("init.mp4"))
        case .mpegts:
            break  // TS has no initialization segment; headers go into the first segment.
        }
        try check(avformat_write_header(context, &options), "avformat_write_header(\(format.muxerName))")
        avio_flush(io)
        if let stream = context.pointee.streams[0], stream.pointee.time_base.num == 1 {
            timescale = Int(stream.pointee.time_base.den)
        }
        if format == .fmp4 {
            initializationBytes = file.close()
            if let failure = file.failure { throw TranscodeError.Reason.io(failure) }
            if let bytes = FragmentTiming.head(ofFile: path("init.mp4")) {
                defaultSampleDuration = FragmentTiming.defaultSampleDuration(initialization: bytes)
            }
        }
    }

    /// Sets the shift of an audio-only muxer: the one its video's muxer chose.
    func fixShift(_ value: Double) {
        if shift == nil { shift = value }
    }

    deinit {
        if let io { freeCustomIO(io) }
        avformat_free_context(context)
    }

    private func path(_ name: String) -> String { directory + "/" + name }

    /// Closes the segment being written, if any, and opens the next one. The first
    /// segment opens at once; later cuts wait for the IDR (see `heldVideo`).
    func startSegment() throws {
        if heldVideo != nil {
            cutPending = true
            return
        }
        try openNextSegment()
    }

    private func openNextSegment() throws {
        // The held packet, if any, is the next segment's IDR: its time ends this segment.
        try closeSegment(nextStart: heldVideo.map { Double($0.pts) * videoTimeBase.doubleValue })
        let name = String(format: "segment_%05d.%@", firstSegmentNumber + segments.count, format.segmentExtension)
        try file.open(path(name))
        if format == .mpegts {
            av_opt_set(context.pointee.priv_data, "mpegts_flags", "+resend_headers", 0)
        }
        segments.append(Segment(fileName: name, bytes: 0))
        open = true
    }

    /// Writes one packet (not interleaved: `SegmentCutter` has ordered them). The
    /// muxer takes `packet` and rescales it in place, so pass a reference of a shared one.
    func write(_ packet: Packet, stream: Int32) throws {
        guard open else { throw TranscodeError.Reason.io("packet before the first segment") }
        guard hasVideo, stream == videoStreamIndex else { return try mux(packet, stream: stream) }
        if shift == nil {
            // The first video packet (the cutter writes it before any audio) fixes the shift.
            let delay = wholeRunVideoDelay ?? (packet.pts - packet.dts)
            let value = max(0, Double(delay) * videoTimeBase.doubleValue) + audioPriming
            shift = value
            onShiftFixed?(value)
        }
        if let held = heldVideo {
            lastVideoDuration = max(1, packet.dts - held.dts)
            held.pointer.pointee.duration = lastVideoDuration
            try mux(held, stream: videoStreamIndex)
        }
        heldVideo = packet
        if cutPending {
            cutPending = false
            try openNextSegment()
        }
    }

    /// Writes the held video packet, with the previous frame's duration.
    private func releaseHeldVideo() throws {
        guard let held = heldVideo else { return }
        heldVideo = nil
        held.pointer.pointee.duration = finalVideoDuration ?? (lastVideoDuration > 0 ? lastVideoDuration : nominalFrameDuration)
        try mux(held, stream: videoStreamIndex)
    }

    private func mux(_ packet: Packet, stream: Int32) throws {
        let from = stream == videoStreamIndex ? videoTimeBase : (audioTimeBase ?? videoTimeBase)
        if !hasVideo, let last = segments.indices.last {
            // Audio alone: the segment spans its own samples.
            let pts = Double(packet.pts) * from.doubleValue
            if segments[last].start == nil { segments[last].start = pts }
            segments[last].end = max(segments[last].end, pts + Double(packet.duration) * from.doubleValue)
        }
        if stream == videoStreamIndex {
            if let last = segments.indices.last {
                segments[last].videoFrames += 1
                let pts = Double(packet.pts) * from.doubleValue
                if segments[last].start == nil { segments[last].start = pts }
                segments[last].end = max(segments[last].end, pts + Double(packet.duration) * from.doubleValue)
            }
        }
        guard let target = context.pointee.streams[Int(stream)] else {
            throw TranscodeError.Reason.io("muxer has no stream \(stream)")
        }
        guard let shift else { throw TranscodeError.Reason.io("audio before the first video packet") }
        let offset = av_rescale_q(Int64((shift * 1_000_000).rounded(.up)), AVRational(num: 1, den: 1_000_000), from)
        packet.pointer.pointee.pts += offset
        packet.pointer.pointee.dts += offset
        packet.pointer.pointee.stream_index = stream
        av_packet_rescale_ts(packet.pointer, from, target.pointee.time_base)
        let status = av_write_frame(context, packet.pointer)
        // The file's own error first: libavformat only sees that the write failed.
        if let failure = file.failure { throw TranscodeError.Reason.io(failure) }
        try check(status, "av_write_frame")
    }

    /// Flushes the fragment in progress into the current file and closes it.
    private func closeSegment(nextStart: Double?) throws {
        guard open, let io else { return }
        let status = av_write_frame(context, nil)
        avio_flush(io)
        let last = segments.count - 1
        segments[last].bytes = file.close()
        if let failure = file.failure { throw TranscodeError.Reason.io(failure) }
        try check(status, "av_write_frame(flush)")
        open = false
        if readsFragmentTiming, format == .fmp4, let bytes = FragmentTiming.head(ofFile: path(segments[last].fileName)) {
            segments[last].timing = FragmentTiming.read(bytes, defaultSampleDuration: defaultSampleDuration)
        }
        let segment = segments[last]
        let duration = nextStart.flatMap { next in segment.start.map { next - $0 } } ?? segment.duration
        try onSegmentClosed?(segment, last, duration)
    }

    /// Closes the last segment. Anything the trailer writes is discarded: with
    /// `skip_trailer` and closed fragments there is nothing a player needs.
    func finish() throws {
        guard !finished else { return }
        finished = true
        try releaseHeldVideo()
        try closeSegment(nextStart: nil)
        try check(av_write_trailer(context), "av_write_trailer")
    }
}
