import CAV
import Foundation

/// Demuxes and decodes the source once, on the pipeline's own thread, and fans the
/// result out: every decoded video frame (by reference) and every AAC packet (encoded
/// once here) go to each rendition's queue.
final class DecodeStage {
    private let input: InputFile
    private let info: MediaInfo
    /// Every stage fed by the decode: each rung's queue, and the audio rendition's.
    private let queues: [BoundedQueue<RenditionInput>]
    private let cancellation: CancellationFlag
    private let video: Decoder
    private let audio: AudioChain?
    /// The default track's encoder, run on this thread: the rungs mux its packets with the video.
    private let audioEncoder: AudioTrackEncoder?
    /// The source's other audio tracks, each encoded once on a thread of its own and sent
    /// to its own rendition's queue alone (the rungs carry the default track at most).
    private let alternateAudio: [(chain: AudioChain, queue: BoundedQueue<RenditionInput>)]
    private let alternateThreads: [AudioTrackThread]
    /// The normalised audio renditions (`NormalisedAudio`), whose packets come from their
    /// own read of the source: they take each segment's first frame and, at the end, the last
    /// frame, all `SegmentCutter` needs to place audio.
    private let normalised: NormalisedAudio?
    /// The latest video frame's time, for `normalised`'s end.
    private var lastFrameTime: Double?
    /// Loudness normalisation: the measurement running beside this stage, and the target.
    private let loudness: (pass: LoudnessPass, target: Double, hold: LoudnessPass.Hold)?
    /// Tracks whose measurement came too late for a progressive run's first segment.
    var loudnessNotes: [String] { allEncoders.flatMap(\.notes) }
    private var clock: SegmentClock
    /// Source timestamps, made strictly increasing and gap-bounded, start on the output
    /// timeline at the input's start (the earliest stream's first timestamp), keeping any
    /// A/V offset.
    private var timestamps: TimestampRepair
    /// The latest video frame's time on the output timeline, in seconds.
    private var videoTime = 0.0
    /// Where the default audio track's latest packet ends, on the same timeline: how far the
    /// sound runs past the picture, for the note a muxed ladder leaves when it drops that.
    private(set) var audioEnd = 0.0
    /// What `noteAudioEnd` adds to the default track's timestamps since their last jump, and
    /// where its previous packet ended in the source's own time.
    private var audioEndRepair = (shift: 0.0, lastSourceEnd: Double?.none)
    /// The input's start, in seconds: where the output timeline's zero is.
    private let inputStart: Double
    /// Stop once decoding passes this (the container may have lied about the duration).
    private let maxDurationSeconds: Double?
    private let maxFrames: Int?
    /// True when `maxFrames` ended the input early (not a truncated file).
    private(set) var stoppedAtFrameLimit = false
    /// Audio muxed with the video that runs this far ahead of the latest video frame is
    /// dropped: a real file interleaves within a second or two, and a file whose video
    /// stopped (one frame, then half an hour of audio) must not make the rungs' segmenters
    /// buffer all of it. Renditions of audio alone keep it (`keepsAudioPastVideo`).
    static let maxAudioLeadSeconds = 30.0
    /// The poster: written from the frame with this index (about 10% in).
    private let poster: (writer: PosterWriter, path: String, frameIndex: Int)?
    /// Takes the storyboard's tiles; dropped after a failure (a nicety, like the poster).
    private(set) var storyboard: StoryboardWriter?
    /// The first video frame's time: the storyboard's times start there.
    private(set) var firstVideoTime: Double?
    /// The end of the latest video frame, from the first frame (the video's duration so far).
    var videoDuration: Double {
        guard let firstVideoTime else { return 0 }
        return max(0, videoTime - firstVideoTime) + 1 / max(frameRate, 1)
    }
    private let frameRate: Double
    /// The audio is in renditions of its own, which keep every sample (they cut what
    /// follows the video alone); muxed with the video, audio far ahead of it is dropped.
    private let keepsAudioPastVideo: Bool
    /// The video time the audio's lead is measured against (`DecodeStage.maxAudioLeadSeconds`):
    /// audio alone is kept up to `--max-duration`, as the video is.
    private var audioLeadReference: Double {
        keepsAudioPastVideo ? Self.audioAloneReference(maxDurationSeconds: maxDurationSeconds) : videoTime
    }

    /// The lead reference of audio in renditions of its own: dropped only past `--max-duration`
    /// (`NormalisedAudio`'s second encode drops the same samples, so the two line up).
    static func audioAloneReference(maxDurationSeconds: Double?) -> Double {
        maxDurationSeconds.map { $0 - maxAudioLeadSeconds } ?? .infinity
    }

    /// Split and stitch: the chunk this run encodes (nil: the whole file).
    private let chunk: (plan: ChunkPlan, chunk: ChunkPlan.Chunk)?
    /// After a chunk's seek, until its first keyframe.
    private var awaitingKeyframe = false
    /// Where chunk 0 sends the cuts of the frames it does not encode (the audio rendition).
    private let cutQueue: BoundedQueue<RenditionInput>?
    /// The chunk's last frame has been seen: the rest of the video is not decoded.
    private var chunkVideoEnded = false
    /// `endChunkVideo` has run.
    private var chunkVideoClosed = false
    /// The audio task of a chunked run (`AudioTaskRun`): no video is decoded, and the audio
    /// renditions are cut on every one of the plan's segment starts, as chunk 0 cuts them.
    private let audioTask: Bool
    /// Chunk 0's audio preview (`ChunkSelection.AudioWork.preview`) ends at this segment
    /// start: its tracks are read this far and `previewMarginSeconds` more, so the encoder
    /// ends the last segment as a whole-file encode does, and no further.
    private let audioPreviewEnd: Double?
    static let previewMarginSeconds = 2.0

    /// A still picture's early end (`endVideoIfOnlySoundRemains`): the frames its container
    /// declares (nil: the video ends with the input).
    private let declaredFrames: Int?
    /// How far the sound must run past the last of the declared frames before the video is
    /// taken to be over: a file's streams interleave within a second or two.
    static let stillPictureLeadSeconds = 10.0
    private var videoPackets = 0
    /// The rungs were told `.videoEnd` before the input ended.
    private(set) var videoEndedEarly = false
    /// Video packets after the early end (a container that declared too few frames): left out.
    private(set) var videoPacketsPastDeclaredEnd = 0
    /// `normalised` has been told the video's end.
    private var normalisedToldVideoEnd = false

    private(set) var decodedFrames = 0
    private var corruptVideoPackets = 0
    /// Counted over the video and every track; read once `run` has returned.
    var corruptPackets: Int { corruptVideoPackets + allEncoders.reduce(0) { $0 + $1.corruptPackets } }
    var droppedAudioFrames: Int { allEncoders.reduce(0) { $0 + $1.droppedFrames } }
    var filledAudioGaps: Int { allEncoders.reduce(0) { $0 + $1.filledGaps } }
    private var allEncoders: [AudioTrackEncoder] { [audioEncoder].compactMap { $0 } + alternateThreads.map(\.encoder) }

    /// One audio track's chain (`AudioEncodingChain`), driven from this thread.
    typealias AudioChain = AudioEncodingChain

    init(input: InputFile, info: MediaInfo, video: Decoder, audio: AudioChain?, queues: [BoundedQueue<RenditionInput>],
         frameRate: FrameRate, segmentDuration: Double, maxDurationSeconds: Double?, maxFrames: Int? = nil,
         poster: (writer: PosterWriter, path: String, frameIndex: Int)?, storyboard: StoryboardWriter? = nil,
         chunk: (plan: ChunkPlan, chunk: ChunkPlan.Chunk)? = nil, cutQueue: BoundedQueue<RenditionInput>? = nil,
         alternateAudio: [(chain: AudioChain, queue: BoundedQueue<RenditionInput>)] = [],
         loudness: (pass: LoudnessPass, target: Double, hold: LoudnessPass.Hold)? = nil,
         normalised: NormalisedAudio? = nil, keepsAudioPastVideo: Bool = false, audioTask: Bool = false,
         audioPreviewEnd: Double? = nil, declaredFrames: Int? = nil, cancellation: CancellationFlag) {
        self.declaredFrames = declaredFrames
        self.keepsAudioPastVideo = keepsAudioPastVideo
        self.audioPreviewEnd = audioPreviewEnd
        self.audioTask = audioTask
        self.alternateAudio = alternateAudio
        self.normalised = normalised
        let measured = [audio].compactMap { $0 }.count + alternateAudio.count
        audioEncoder = audio.map { AudioTrackEncoder(chain: $0, loudness: loudness, onlyTrackMeasured: measured == 1, cancellation: cancellation) }
        alternateThreads = alternateAudio.map { alternate in
            AudioTrackThread(encoder: AudioTrackEncoder(chain: alternate.chain, loudness: loudness, onlyTrackMeasured: false,
                                                        cancellation: cancellation),
                             rendition: alternate.queue, cancellation: cancellation)
        }
        self.loudness = loudness
        self.chunk = chunk
        self.cutQueue = cutQueue
        // A chunk's storyboard times count from the whole video's first frame.
        self.firstVideoTime = chunk?.plan.origin
        self.poster = poster
        self.storyboard = storyboard
        self.frameRate = frameRate.perSecond
        self.input = input
        self.info = info
        self.video = video
        self.audio = audio
        self.queues = queues
        self.cancellation = cancellation
        self.clock = chunk.map { SegmentClock(segmentDuration: segmentDuration, origin: $0.plan.origin) }
            ?? SegmentClock(segmentDuration: segmentDuration)
        self.maxDurationSeconds = maxDurationSeconds
        self.maxFrames = maxFrames
        let start = input.context.pointee.start_time
        self.inputStart = start == noPTS ? 0 : Double(start) / Double(AV_TIME_BASE)
        let ticksPerSecond = 1 / max(video.timeBase.doubleValue, 1e-12)
        self.timestamps = TimestampRepair(
            frameDuration: Int64(min(max(1, (ticksPerSecond / frameRate.perSecond).rounded()), 1e12)),
            maxGap: Int64(min(max(1, (10 * ticksPerSecond).rounded()), 1e15)),
            origin: start == noPTS ? 0 : rescale(start, from: cav_time_base_q(), to: video.timeBase),
            resuming: chunk != nil)
    }

    /// Runs to the end of the input. A read error part-way (a cut-off file) ends the
    /// input like EOF; the pipeline then compares frame counts to call it truncated.
    func run() throws {
        // The other tracks' threads inherit this one's priority.
        alternateThreads.forEach { $0.start() }
        do {
            try demuxAndDecode()
        } catch {
            alternateThreads.forEach { $0.queue.closeAndDiscard() }
            alternateThreads.forEach { $0.join() }
            // A track's own failure, rather than the `cancelled` it made of this one.
            if let failure = alternateThreads.compactMap(\.failure).first(where: { ($0 as? TranscodeError.Reason) != .cancelled }) {
                throw failure
            }
            throw error
        }
    }

    private func demuxAndDecode() throws {
        let packet = Packet()
        let videoIndex = Int32(info.video.streamIndex)
        // Chunk 0 reads from the file's start, as a whole run does: a seek to its first
        // keyframe can land past the first audio packets (Matroska), and chunk 0 carries the
        // whole file's audio.
        if let chunk, chunk.chunk.index > 0 { try seek(to: chunk.chunk) }
        // The audio task's cuts are all known from the plan: its video has "ended" at once.
        if audioTask { try endChunkVideo() }
        while true {
            if cancellation.isCancelled { throw TranscodeError.Reason.cancelled }
            if let maxFrames, decodedFrames >= maxFrames {
                stoppedAtFrameLimit = true
                break
            }
            let more: Bool
            do { more = try input.read(into: packet) } catch {
                if error.code == AVError.outOfMemory { throw TranscodeError.Reason.outOfMemory }
                if let failure = input.sourceFailure { throw failure }  // the source, not the file
                break
            }
            guard more else { break }
            if packet.streamIndex == videoIndex {
                if videoEndedEarly {
                    videoPacketsPastDeclaredEnd += 1
                    continue
                }
                if chunkVideoEnded { continue }  // chunk 0 reads on for the audio alone
                videoPackets += 1
                if awaitingKeyframe {
                    guard packet.isKeyframe else { continue }  // no reference to decode it from
                    awaitingKeyframe = false
                }
                try decode(packet, with: video, deliver: deliverVideo)
                if chunkVideoEnded, !chunkVideoClosed {
                    try endChunkVideo()
                    if audio == nil { break }
                }
            } else if let audioEncoder, packet.streamIndex == audioEncoder.chain.streamIndex {
                noteAudioEnd(packet, timeBase: audioEncoder.chain.decoder.timeBase)
                try audioEncoder.take(packet, videoTime: audioLeadReference, emit: broadcastAudio)
                if let end = audioPreviewEnd, chunkVideoClosed, audioEnd > end + Self.previewMarginSeconds { break }
                try endVideoIfOnlySoundRemains()
            } else if let track = alternateThreads.first(where: { $0.encoder.chain.streamIndex == packet.streamIndex }) {
                guard track.queue.push(.packet(try packet.reference(), videoTime: audioLeadReference)) else {
                    throw TranscodeError.Reason.cancelled  // the track's thread has stopped: its failure says why
                }
            }
        }
        if !chunkVideoEnded, !videoEndedEarly { try decode(nil, with: video, deliver: deliverVideo) }
        if chunk != nil, !chunkVideoClosed { try endChunkVideo() }
        for track in alternateThreads { track.queue.push(.end(videoTime: audioLeadReference)) }
        if let audioEncoder {
            try audioEncoder.finish(videoTime: audioLeadReference, emit: broadcastAudio)
            broadcast(.audioEnd)
        }
        // Each track's rendition ends once it has both its `.audioEnd` and this `.end`.
        alternateThreads.forEach { $0.join() }
        if let failure = alternateThreads.compactMap(\.failure).first { throw failure }
        broadcast(.end)
    }

    /// A still picture (or a picture that stops long before its sound): once every frame
    /// the container declares is read and the sound has run `stillPictureLeadSeconds` past
    /// the last, the rungs close their segments at once. Before, they closed only once the
    /// whole sound was read and encoded, so one picture with an hour of sound was playable
    /// only after a minute or more. Nothing else changes: the same frames, segments and bytes.
    private func endVideoIfOnlySoundRemains() throws {
        guard let declaredFrames, !videoEndedEarly, declaredFrames > 0, videoPackets >= declaredFrames,
              audioEnd >= videoEnd + Self.stillPictureLeadSeconds else { return }
        try decode(nil, with: video, deliver: deliverVideo)
        videoEndedEarly = true
        // The rungs close their segments; the audio renditions cut what follows alone.
        for queue in queues + alternateAudio.map(\.queue) { queue.push(.videoEnd, cost: 0) }
        // The normalised encode need not wait for video that will not come.
        tellNormalisedTheVideoEnded()
    }

    private func tellNormalisedTheVideoEnded() {
        guard let normalised, !normalisedToldVideoEnd else { return }
        normalisedToldVideoEnd = true
        normalised.videoEnded(lastFrame: lastFrameTime)
    }

    /// The video's packet (nil drains), every frame delivered; a damaged one is counted.
    /// Too many lost frames end as `truncated`.
    private func decode(_ packet: Packet?, with decoder: Decoder, deliver: (Frame) throws -> Void) throws {
        try decoder.decodeSkippingDamage(packet, rejected: { corruptVideoPackets += 1 }, deliver: deliver)
    }

    /// Moves to a keyframe before the chunk: its first frame then decodes with every
    /// reference it needs. The target is a second early, as demuxers index keyframes by
    /// their decode time, which B-frames put before their presentation time; it is the
    /// plan's keyframe when there is one, as a demuxer without an index (MPEG-TS) lands on
    /// the timestamp, keyframe or not. The packets before the first keyframe are skipped.
    private func seek(to chunk: ChunkPlan.Chunk) throws {
        let seconds = video.timeBase.doubleValue
        let start = input.context.pointee.start_time
        let origin = start == noPTS ? 0 : rescale(start, from: cav_time_base_q(), to: video.timeBase)
        // The plan's keyframe exactly (its decode time can precede the first presentation
        // time: B-frames), else a second early.
        let ticks = chunk.seekTime.map { ($0 / max(seconds, 1e-12)).rounded() }
            ?? (max(0, chunk.start - ChunkPlan.seekLeadSeconds) / max(seconds, 1e-12)).rounded(.down)
        guard ticks.isFinite, abs(ticks) < 1e18, case (let target, false) = origin.addingReportingOverflow(Int64(ticks)) else {
            throw TranscodeError.Reason.chunking("cannot seek to chunk \(chunk.index) (its time is out of range)")
        }
        // Skipped to the first keyframe only where the planner saw keyframes: a source that
        // flags none (every frame stands alone, or the demuxer cannot tell) decodes as before.
        awaitingKeyframe = chunk.seekTime != nil
        do {
            try input.seek(stream: Int32(info.video.streamIndex), toKeyframeAtOrBefore: target)
        } catch {
            throw TranscodeError.Reason.chunking("cannot seek to chunk \(chunk.index) (\(error.message))")
        }
        video.flush()
    }

    /// The chunk's video is done. Chunk 0 then tells the audio rendition where the rest
    /// of the whole file's segments start, and where its last frame is, so the audio is
    /// cut as a whole-file run cuts it. The audio task tells it every segment's start.
    private func endChunkVideo() throws {
        chunkVideoEnded = true
        chunkVideoClosed = true
        guard let chunk else { return }
        guard decodedFrames > 0 || audioTask else {
            throw TranscodeError.Reason.chunking("chunk \(chunk.chunk.index) has no frame where the plan puts one")
        }
        guard let cutQueue else { return }
        let all = chunk.plan.segmentStarts[(audioTask ? 0 : chunk.chunk.endSegment)...]
        // A preview cuts once more, where the audio task's segments take over.
        let remaining = audioPreviewEnd != nil ? all.prefix(1) : all
        // The last frame's time closes the last segment's video, where no frame of this run did.
        let closesLastFrame = audioPreviewEnd == nil && (audioTask || chunk.chunk.end != nil)
        for queue in [cutQueue] + alternateAudio.map(\.queue) {
            for time in remaining { queue.push(.cut(time: time, startsSegment: true), cost: 0) }
            if closesLastFrame { queue.push(.cut(time: chunk.plan.lastFrameTime, startsSegment: false), cost: 0) }
        }
        for time in remaining { normalised?.segmentStarts(at: time) }
        lastFrameTime = closesLastFrame ? chunk.plan.lastFrameTime : lastFrameTime
        // The audio's lead is measured against the whole file's video from here on.
        videoTime = chunk.plan.lastFrameTime
    }

    private func deliverVideo(_ frame: Frame) throws {
        if cancellation.isCancelled { throw TranscodeError.Reason.cancelled }
        let decoded = frame.pointer.pointee.best_effort_timestamp
        // x264 needs strictly increasing timestamps; repeats and jumps are re-based.
        let pts = timestamps.next(decoded == noPTS ? nil : decoded)
        frame.pts = pts
        let time = Double(pts) * video.timeBase.doubleValue
        if let chunk {
            // Frames before the chunk are decoded only as references; the first after it ends it.
            if chunkVideoEnded || time + ChunkPlan.tolerance < chunk.chunk.start { return }
            if let end = chunk.chunk.end, time + ChunkPlan.tolerance >= end {
                chunkVideoEnded = true
                return
            }
            if decodedFrames == 0, abs(time - chunk.chunk.start) > ChunkPlan.tolerance {
                throw TranscodeError.Reason.chunking(
                    "chunk \(chunk.chunk.index) should start at \(chunk.chunk.start) s but its first frame is at \(time) s")
            }
        }
        videoTime = time
        if let limit = maxDurationSeconds, videoTime > limit {
            throw TranscodeError.Reason.tooLong(seconds: videoTime, limit: limit)
        }
        let startsSegment = clock.startsSegment(at: videoTime)
        // The poster is a nicety: a frame it cannot encode (a corrupt one) costs the poster, not the video.
        if let poster, decodedFrames == poster.frameIndex { try? poster.writer.write(frame, to: poster.path) }
        if firstVideoTime == nil { firstVideoTime = videoTime }
        do { try storyboard?.offer(frame, at: videoTime - (firstVideoTime ?? 0)) } catch { storyboard = nil }
        decodedFrames += 1
        broadcast(.video(frame, startsSegment: startsSegment))
    }

    /// What loudness normalisation did to each track (empty without it).
    var loudnessTracks: [Loudness.Track] {
        guard loudness != nil else { return [] }
        return ([audio].compactMap { $0 } + alternateAudio.map(\.chain)).map { chain in
            Loudness.Track(folder: chain.track.folder, source: chain.measured ?? .init(), gain: chain.gainDecibels)
        }
    }

    private func broadcastAudio(_ packet: Packet) throws { broadcast(.audio(packet)) }

    /// The latest end of the default track's packets, from the input's start (bounded: a
    /// timestamp from the file is only a claim). A jump of the timestamps (a step back, or
    /// forward by more than 10 s, as in a transport stream spliced an hour apart) is taken
    /// out, as `AudioEncodingChain.place` takes it out of the samples: the sound goes on
    /// where it was, and a note must not call the hour "past the picture".
    private func noteAudioEnd(_ packet: Packet, timeBase: AVRational) {
        guard packet.pts != noPTS else { return }
        let start = Double(packet.pts) * timeBase.doubleValue - inputStart
        let sourceEnd = start + Double(max(packet.duration, 0)) * timeBase.doubleValue
        guard sourceEnd.isFinite, abs(sourceEnd) < 1e7 else { return }
        if let last = audioEndRepair.lastSourceEnd, !(-0.5...10).contains(start - last) {
            audioEndRepair.shift += last - start
        }
        audioEndRepair.lastSourceEnd = sourceEnd
        let end = sourceEnd + audioEndRepair.shift
        if end.isFinite, end < 1e7 { audioEnd = max(audioEnd, end) }
    }

    /// The end of the latest video frame on the output timeline.
    var videoEnd: Double { videoTime + 1 / max(frameRate, 1) }

    /// Hands `input` to every rendition, blocking on a full queue (back-pressure).
    private func broadcast(_ input: RenditionInput) {
        // After a chunk's video, the rungs are done: only the audio rendition reads on.
        if chunkVideoEnded, case .audio = input, let cutQueue {
            cutQueue.push(input, cost: 0)
            return
        }
        var cost = 0
        if case .video(let frame, _) = input { cost = frame.pictureBytes }
        for queue in queues { queue.push(input, cost: cost) }
        // The other tracks' renditions cut where the video does; their audio is their own.
        switch input {
        case .video, .cut, .end: for alternate in alternateAudio { alternate.queue.push(input, cost: cost) }
        case .audio, .audioEnd, .videoEnd: break
        }
        // The normalised renditions need the segments' first frames alone (no picture is
        // held for them), and the last frame at the end.
        guard let normalised else { return }
        switch input {
        case .video(let frame, let startsSegment):
            let time = Double(frame.pts) * video.timeBase.doubleValue
            lastFrameTime = time
            if startsSegment { normalised.segmentStarts(at: time) }
        case .end: tellNormalisedTheVideoEnded()
        case .cut, .audio, .audioEnd, .videoEnd: break
        }
    }
}
