import CAV
import Foundation

/// One rung of the ladder on its own thread: scale, rotate, encode with libx264,
/// cut into segments. It owns its scaler, encoder and muxer, and talks to the rest
/// of the pipeline only through its input queue and the progress tracker.
final class RenditionWorker: @unchecked Sendable {
    // @unchecked: after `start`, every mutable member is touched only by the worker's
    // own thread; the pipeline reads the results after `join` (a happens-before edge).
    let index: Int
    let rendition: Rendition
    let queue: BoundedQueue<RenditionInput>
    private let encoder: Encoder
    private let muxer: SegmentedMuxer
    private let audioTimeBase: AVRational?
    private let rotation: Int
    private let progress: ProgressTracker
    private let cancellation: CancellationFlag
    private let done = DispatchSemaphore(value: 0)
    private let lowersPriority: Bool
    private var scaler: Scaler?
    /// Reused buffers for the scaler's output and the rotator's output.
    private let scaledFrames: FramePool
    private let rotatedFrames: FramePool
    private var cutter: SegmentCutter<Packet>
    /// Presentation times of the frames we forced to IDR; their packets start segments.
    private var forcedKeyframes: Set<Int64> = []
    /// The audio goes to `download.mp4` alone, uncut (a rung beside separate audio renditions).
    private let downloadTakesAudioAsItComes: Bool
    /// A chunk's: the whole run's timing of its first and last packets.
    private let wholeRunTiming: WholeRunVideoTiming?
    /// x264's reorder delay in frames (`has_b_frames`: 0, 1 or 2).
    private let reorderDelay: Int

    private(set) var failure: Error?
    private(set) var framesEncoded = 0
    private(set) var codecs: String?
    var segments: [SegmentedMuxer.Segment] { muxer.segments }
    var initializationBytes: Int64 { muxer.initializationBytes }
    var timescale: Int { muxer.timescale }
    /// The seconds its muxer moved every timestamp by (see `SegmentedMuxer`).
    var timelineShiftApplied: Double? { muxer.shift }
    /// `download.mp4`, when this is its rung; `downloadBytes` once it is complete.
    private let download: DownloadMuxer?
    private(set) var downloadBytes: Int64?
    /// A DASH ladder's: told when this rung is done, so the audio never waits past it.
    private let timelineShift: TimelineShift?
    private let progressive: ProgressiveWriter?
    /// `.videoEnd` closed the segments: only the download's audio is left.
    private var videoFinished = false

    struct Configuration {
        var source: MediaInfo.Video
        var timeBase: AVRational
        var frameRate: AVRational
        var options: TranscodeOptions
        var encoderThreads: Int
        /// Whether this rung's thread yields to the critical one (see `ThreadPlan`).
        var lowersPriority: Bool
        var directory: String
        var audio: Encoder?
        /// Publishes each closed segment (progressive transcodes only).
        var progressive: ProgressiveWriter?
        /// Where `download.mp4` goes, when this rung is the one it holds.
        var downloadDirectory: String?
        /// Set for a DASH ladder: the audio is a rendition of its own, so this rung's
        /// segments carry video alone, and its muxer tells the audio one its shift.
        var separateAudio: TimelineShift?
        /// The number of this rung's first segment: 0, or a chunk's first (split and stitch).
        var firstSegmentNumber = 0
        /// A chunk's: where its packets' timing is the whole run's, not its own.
        var wholeRunTiming: WholeRunVideoTiming?
    }

    init(index: Int, rendition: Rendition, configuration: Configuration,
         progress: ProgressTracker, cancellation: CancellationFlag) throws {
        self.index = index
        self.rendition = rendition
        self.progress = progress
        self.cancellation = cancellation
        self.rotation = configuration.source.geometry.rotation
        self.lowersPriority = configuration.lowersPriority
        let quarterTurn = rotation == 90 || rotation == 270
        guard let width = Int32(exactly: rendition.width), let height = Int32(exactly: rendition.height),
              width > 0, height > 0, width <= 4 * SourceBounds.maxDimension, height <= 4 * SourceBounds.maxDimension else {
            throw TranscodeError.Reason.outOfRange("rendition size \(rendition.width)x\(rendition.height)")
        }
        // Scaling happens in the source's orientation; rotation then turns the picture upright.
        self.scaledFrames = FramePool(width: quarterTurn ? height : width, height: quarterTurn ? width : height,
                                      format: AV_PIX_FMT_YUV420P)
        self.rotatedFrames = FramePool(width: width, height: height, format: AV_PIX_FMT_YUV420P)
        self.queue = BoundedQueue(capacity: max(1, configuration.options.queueDepth),
                                  byteCapacity: configuration.options.queueBytes)
        // With a separate audio rendition, a rung needs the audio only for its MP4.
        let separate = configuration.separateAudio != nil
        let usesAudio = configuration.audio != nil && (!separate || configuration.downloadDirectory != nil)
        self.audioTimeBase = usesAudio ? configuration.audio?.timeBase : nil
        // With separate audio, the download takes the audio as it comes, all of it (past
        // the video's end too): only audio muxed into the segments is placed by the cutter.
        self.downloadTakesAudioAsItComes = separate && usesAudio
        self.cutter = SegmentCutter(hasAudio: usesAudio && !separate)
        self.encoder = try VideoEncoderSettings(
            rendition: rendition, timeBase: configuration.timeBase, frameRate: configuration.frameRate,
            options: configuration.options, threads: configuration.encoderThreads,
            constantFrameRate: !configuration.source.isVariableFrameRate
        ).makeEncoder()
        self.muxer = try SegmentedMuxer(
            directory: configuration.directory, format: configuration.options.segmentFormat,
            video: encoder, audio: separate ? nil : configuration.audio, primingOf: configuration.audio,
            firstSegmentNumber: configuration.firstSegmentNumber)
        reorderDelay = encoder.reorderDelay
        wholeRunTiming = configuration.wholeRunTiming
        muxer.wholeRunVideoDelay = wholeRunTiming?.firstPacketDelay(reorderDelay: reorderDelay)
        muxer.finalVideoDuration = wholeRunTiming?.lastPacketDuration(reorderDelay: reorderDelay)
        timelineShift = configuration.separateAudio
        progressive = configuration.progressive
        if let shift = configuration.separateAudio {
            muxer.readsFragmentTiming = true
            muxer.onShiftFixed = { shift.set($0) }
        }
        let encoder = self.encoder
        self.download = try configuration.downloadDirectory.map {
            try DownloadMuxer(directory: $0, video: encoder, audio: configuration.audio)
        }
        if let progressive = configuration.progressive {
            let name = rendition.name
            // Weak: the worker owns the muxer that holds this closure.
            muxer.onSegmentClosed = { [weak self] segment, index, duration in
                try progressive.segmentClosed(
                    PublishedSegment(rendition: name, index: index, uri: segment.fileName, duration: duration, bytes: segment.bytes,
                                     start: segment.start),
                    codecs: self?.codecs, shift: self?.timelineShiftApplied)
            }
        }
    }

    func start() {
        StageThread.start(name: "vstream.rendition.\(rendition.name)", lowersPriority: lowersPriority, queue: queue, done: done,
                          cancellation: cancellation,
                          body: { [self] in
                              defer { timelineShift?.rungFinished() }
                              try run()
                          },
                          failed: { [self] in failure = $0 })
    }

    func join() { done.wait() }

    private func run() throws {
        while let input = queue.pop() {
            if cancellation.isCancelled { throw TranscodeError.Reason.cancelled }
            switch input {
            case .video(let frame, let startsSegment):
                guard !videoFinished else { continue }
                try encode(frame, startsSegment: startsSegment)
            case .audio(let packet):
                guard let timeBase = audioTimeBase else { continue }
                let own = try packet.reference()  // the muxer rescales timestamps in place
                if downloadTakesAudioAsItComes {
                    if let download { try download.write(own, stream: download.audioStreamIndex) }
                    continue
                }
                try perform(cutter.audio(own, time: Double(own.pts) * timeBase.doubleValue))
            case .cut:
                continue  // the audio rendition's alone
            case .audioEnd:
                guard audioTimeBase != nil else { continue }
                try perform(cutter.audioFinished())
            case .videoEnd:
                // A still picture: its segment is published now, not after all of its sound.
                try finishVideo()
                try progressive?.renditionEnded(rendition.name)
            case .end:
                try finishVideo()
                downloadBytes = try download?.finish()
                return
            }
        }
        throw TranscodeError.Reason.cancelled  // the queue closed before `.end`
    }

    /// Drains the encoder and closes the last segment, once.
    private func finishVideo() throws {
        guard !videoFinished else { return }
        videoFinished = true
        try encoder.encode(nil) { try self.encoded($0) }
        try perform(cutter.finish())
        try muxer.finish()
    }

    /// Scales (only when the size or format differs), rotates, and encodes one frame.
    private func encode(_ frame: Frame, startsSegment: Bool) throws {
        let width = scaledFrames.width, height = scaledFrames.height
        var picture: Frame
        var pooled: [(Frame, FramePool)] = []
        if frame.width == width, frame.height == height, frame.pixelFormat == AV_PIX_FMT_YUV420P {
            picture = try frame.reference()  // the source is already this rung: no pixel copy
        } else {
            if scaler?.matches(frame) != true {
                scaler = try Scaler(from: (frame.width, frame.height, frame.pixelFormat),
                                    to: (width, height, AV_PIX_FMT_YUV420P))
            }
            guard let scaler else { return }
            picture = try scaledFrames.take()
            try scaler.scale(frame, into: picture)
            pooled.append((picture, scaledFrames))
        }
        if rotation != 0 {
            let upright = try rotatedFrames.take()
            FrameRotator.rotate(picture, clockwise: rotation, into: upright)
            picture = upright
            pooled.append((upright, rotatedFrames))
        }
        picture.pts = frame.pts
        picture.pointer.pointee.sample_aspect_ratio = AVRational(num: 1, den: 1)
        // I + libx264's forced-idr makes this frame an IDR; NONE lets x264 decide (never
        // a keyframe, as scenecut is off and keyint is beyond any segment).
        picture.pointer.pointee.pict_type = startsSegment ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE
        if startsSegment { forcedKeyframes.insert(frame.pts) }
        try encoder.encode(picture) { try self.encoded($0) }
        for (used, pool) in pooled { pool.recycle(used) }
    }

    /// One packet out of x264.
    private func encoded(_ packet: Packet) throws {
        if let dts = wholeRunTiming?.decodeTime(ofPacket: framesEncoded, reorderDelay: reorderDelay), dts <= packet.pts {
            packet.pointer.pointee.dts = dts
        }
        framesEncoded += 1
        progress.encoded(rendition: index)
        if codecs == nil {
            // fMP4: the SPS is in the global header; TS: in the first keyframe.
            let extradata = encoder.context.pointee.extradata
            let size = Int(encoder.context.pointee.extradata_size)
            codecs = extradata.flatMap { size > 0 ? CodecString.avc1(fromH264: UnsafeBufferPointer(start: $0, count: size)) : nil }
                ?? CodecString.avc1(fromH264: packet.bytes)
        }
        let startsSegment = packet.isKeyframe && forcedKeyframes.remove(packet.pts) != nil
        let time = Double(packet.pts) * encoder.timeBase.doubleValue
        try perform(cutter.video(packet, time: time, startsSegment: startsSegment))
    }

    private func perform(_ actions: [SegmentCutter<Packet>.Action]) throws {
        for action in actions {
            switch action {
            case .startSegment: try muxer.startSegment()
            case .writeVideo(let packet):
                // A reference of its own, first: the segment muxer rescales the packet later.
                if let download { try download.write(try packet.reference(), stream: download.videoStreamIndex) }
                try muxer.write(packet, stream: muxer.videoStreamIndex)
            case .writeAudio(let packet):
                if let download { try download.write(try packet.reference(), stream: download.audioStreamIndex) }
                if muxer.audioStreamIndex >= 0 { try muxer.write(packet, stream: muxer.audioStreamIndex) }
            }
        }
    }
}
