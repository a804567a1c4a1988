import CAV
import Foundation

/// The separate audio rendition of a DASH ladder (`TranscodeOptions.dash`), on its own
/// thread: the shared AAC packets cut into `audio/segment_N.m4s` at the same times as
/// the video's segments, for a CMAF ladder with one track per file.
///
/// It takes the rungs' input stream: each video frame tells it where segments start (the
/// frame itself is dropped at once), and `SegmentCutter` applies the muxed ladder's rule
/// to the audio packets, so audio segment k holds what video segment k would have muxed.
/// Its timestamps are shifted as the video's are (`TimelineShift`), which is known only
/// once the first rung emits a packet: until then its actions wait here, so it never
/// blocks the decode thread that feeds the rungs.
final class AudioRenditionWorker: @unchecked Sendable {
    // @unchecked: as `RenditionWorker`, every mutable member belongs to its thread.
    static let name = "audio"

    /// Its folder: "audio", or another track's ("audio-2").
    let name: String
    let queue: BoundedQueue<RenditionInput>
    private let muxer: SegmentedMuxer
    private let shift: TimelineShift
    private let videoTimeBase: AVRational
    private let audioTimeBase: AVRational
    private let cancellation: CancellationFlag
    private let done = DispatchSemaphore(value: 0)
    /// Audio past the video's end is cut into segments of its own (`audioOnlySegments`).
    private var cutter: SegmentCutter<Item>
    private var waiting: [SegmentCutter<Item>.Action] = []
    /// A cut came: the next audio packet opens a segment (no segment is ever empty).
    private var segmentDue = false
    /// `.audioEnd` came; `.end` came first and waits for it.
    private var audioEnded = false
    private var endPending = false
    /// Segments past this many are not written (chunk 0's audio preview): the packets that
    /// follow the last one only let the encoder finish it as a whole-file encode does.
    private let segmentLimit: Int?
    private var pastLimit = false
    private(set) var failure: Error?

    /// A frame's time marks the video's cuts; only packets are muxed.
    private enum Item {
        case frame
        case packet(Packet)
    }

    var segments: [SegmentedMuxer.Segment] { muxer.segments }
    var initializationBytes: Int64 { muxer.initializationBytes }
    var timescale: Int { muxer.timescale }

    /// Where one span of the audio task's encode (`AudioSpans`) puts its segments: its
    /// muxer writes in a folder of its own (every span's muxer writes an `init.mp4`), and
    /// each segment is moved into the track's folder as it closes, numbered as a run of the
    /// whole track numbers it.
    struct SpanDestination {
        let folder: String
        let firstSegment: Int
    }

    init(name: String = AudioRenditionWorker.name, audio: Encoder, videoTimeBase: AVRational, directory: String,
         format: SegmentFormat, segmentDuration: Double, queueDepth: Int, shift: TimelineShift, progressive: ProgressiveWriter?,
         segmentLimit: Int? = nil, reports: (@Sendable (Publication) -> Void)? = nil, span: SpanDestination? = nil,
         cancellation: CancellationFlag) throws {
        self.name = name
        self.segmentLimit = segmentLimit
        cutter = SegmentCutter(hasAudio: true, audioOnlySegments: segmentDuration)
        self.queue = BoundedQueue(capacity: max(1, queueDepth))
        self.shift = shift
        self.videoTimeBase = videoTimeBase
        self.audioTimeBase = audio.timeBase
        self.cancellation = cancellation
        muxer = try SegmentedMuxer(directory: directory, format: format, video: nil, audio: audio,
                                   firstSegmentNumber: span?.firstSegment ?? 0)
        muxer.readsFragmentTiming = true
        if let span {
            muxer.onSegmentClosed = { segment, index, duration in
                guard rename(directory + "/" + segment.fileName, span.folder + "/" + segment.fileName) == 0 else {
                    throw TranscodeError.Reason.io("cannot move \(name)/\(segment.fileName) into place: \(String(cString: strerror(errno)))")
                }
                reports?(.segment(PublishedSegment(rendition: name, index: span.firstSegment + index, uri: segment.fileName,
                                                   duration: duration, bytes: segment.bytes)))
            }
        } else if let progressive {
            muxer.onSegmentClosed = { segment, index, duration in
                try progressive.segmentClosed(
                    PublishedSegment(rendition: name, index: index, uri: segment.fileName, duration: duration, bytes: segment.bytes),
                    codecs: nil)
            }
        } else if let reports {
            // The audio task's segments, each once closed: no playlist is written here.
            muxer.onSegmentClosed = { segment, index, duration in
                reports(.segment(PublishedSegment(rendition: name, index: index, uri: segment.fileName, duration: duration,
                                                  bytes: segment.bytes)))
            }
        }
    }

    func start() {
        // A light stage: it yields to the encoders.
        StageThread.start(name: "vstream.rendition.\(name)", lowersPriority: true, queue: queue, done: done,
                          cancellation: cancellation, body: { [self] in try run() }, failed: { [self] in failure = $0 })
    }

    func join() { done.wait() }

    private func run() throws {
        while let input = queue.pop() {
            if cancellation.isCancelled { throw TranscodeError.Reason.cancelled }
            switch input {
            case .video(let frame, let startsSegment):
                let time = Double(frame.pts) * videoTimeBase.doubleValue
                try perform(cutter.video(.frame, time: time, startsSegment: startsSegment))
            case .cut(let time, let startsSegment):
                try perform(cutter.video(.frame, time: time, startsSegment: startsSegment))
            case .audio(let packet):
                let own = try packet.reference()  // the muxer rescales timestamps in place
                try perform(cutter.audio(.packet(own), time: Double(own.pts) * audioTimeBase.doubleValue))
            case .videoEnd:
                // A still picture's picture is over: what sound follows is cut alone now,
                // not once it runs `SegmentCutter.videoEndedLead` past the picture.
                try perform(cutter.videoFinished())
            case .audioEnd:
                audioEnded = true
                try perform(cutter.audioFinished())
                if endPending { return try end() }
            case .end:
                // A normalised track's audio comes from another thread than the cuts: its
                // end may still be on the way.
                guard audioEnded else {
                    endPending = true
                    continue
                }
                return try end()
            }
        }
        throw TranscodeError.Reason.cancelled
    }

    private func end() throws {
        let rest = cutter.finish()
        // Every rung has its `.end` too, so the first one to emit a packet fixes the shift.
        guard let value = shift.wait(cancellation: cancellation) else {
            if cancellation.isCancelled { throw TranscodeError.Reason.cancelled }
            return  // no rung encoded a frame: the pipeline reports that
        }
        muxer.fixShift(value)
        try perform(rest)
        try muxer.finish()
    }

    private func perform(_ actions: [SegmentCutter<Item>.Action]) throws {
        waiting.append(contentsOf: actions)
        guard let value = shift.value else { return }
        muxer.fixShift(value)
        for action in waiting {
            switch action {
            case .startSegment: segmentDue = true
            case .writeVideo: break
            case .writeAudio(.packet(let packet)):
                if segmentDue, let segmentLimit, muxer.segments.count >= segmentLimit { pastLimit = true }
                if pastLimit { continue }
                if segmentDue {
                    try muxer.startSegment()
                    segmentDue = false
                }
                try muxer.write(packet, stream: muxer.audioStreamIndex)
            case .writeAudio(.frame): break
            }
        }
        waiting.removeAll(keepingCapacity: true)
    }
}

/// The timestamp shift the video muxers chose (see `SegmentedMuxer`), handed to the audio
/// rendition's muxer so both tracks keep the source's A/V timing. Each rung also says when
/// it has finished, so a run in which no rung encodes a frame (a file whose video cannot be
/// decoded) ends instead of waiting for a shift that never comes.
final class TimelineShift: @unchecked Sendable {
    // @unchecked: every member is guarded by `condition`.
    private let condition = NSCondition()
    private var stored: Double?
    private var unfinishedRungs: Int

    init(rungs: Int) { unfinishedRungs = rungs }

    var value: Double? {
        condition.lock()
        defer { condition.unlock() }
        return stored
    }

    /// The first call wins: every rung chooses the same shift.
    func set(_ value: Double) {
        condition.lock()
        if stored == nil { stored = value }
        condition.broadcast()
        condition.unlock()
    }

    /// A rung has written its last packet (or failed).
    func rungFinished() {
        condition.lock()
        unfinishedRungs -= 1
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for the shift; nil if the run is cancelled first, or every rung finished
    /// without one.
    func wait(cancellation: CancellationFlag) -> Double? {
        condition.lock()
        defer { condition.unlock() }
        while stored == nil {
            if cancellation.isCancelled || unfinishedRungs <= 0 { return nil }
            _ = condition.wait(until: Date().addingTimeInterval(0.1))
        }
        return stored
    }
}
