// The transcode pipeline: decode once, encode the ladder in parallel.
//
//                                 ┌─ queue ─▶ rendition thread 360p:  scale ─▶ rotate ─▶ x264 ─▶ cutter ─▶ muxer ─▶ 360p/*
//   pipeline thread               │
//   demux ─▶ video decode ─▶ fan ─┼─ queue ─▶ rendition thread 720p:  (same)                                      720p/*
//        └─▶ audio decode ─▶      │
//            resample ─▶ AAC ─▶ ──┴─ queue ─▶ rendition thread 1080p: (same)                                      1080p/*
//
// - The pipeline thread (the one `Transcoder.run` starts) demuxes and decodes video
//   and audio exactly once, libavcodec threading the video decoder. It encodes audio
//   once to AAC; the same packets are muxed into every variant.
// - Each decoded video frame is one refcounted AVFrame (`Frame`) pushed to every
//   rendition's `BoundedQueue`: shared by reference, never copied. A rendition that
//   needs another size scales into a new frame on its own thread; one whose size and
//   format already match takes a reference (av_frame_ref), again with no copy.
// - The `SegmentClock` on the pipeline thread decides once per source frame whether it
//   starts a segment; every rendition forces an IDR on exactly those frames, so all
//   renditions cut at the same timestamps.
// - Queues are bounded: a slow rendition stalls the decoder instead of letting frames
//   pile up, so memory is flat in the input's length.
// - Scheduling (`ThreadPlan`): the largest rung is the critical path, so its thread
//   keeps the normal priority and every other stage thread lowers its own. They fill
//   whatever core time the largest rung leaves, instead of sharing its core fairly.
// - Ownership: the decode stage creates each Frame and Packet; after `push` it only
//   drops its reference. Rendition threads read shared frames and never modify them;
//   the muxer rescales timestamps in place, so a rendition muxes its own packet
//   reference (av_packet_ref) of a shared AAC packet.
// - One place coordinates: this file. Stages never call each other across threads;
//   they share only queues, the `CancellationFlag` and the `ProgressTracker`.
// - Failure or cancellation anywhere sets the flag; queues are closed, threads are
//   joined, and everything written under the output directory is removed. The master
//   playlist is written last and atomically, so its presence means a complete ladder.
import CAV
import Foundation

struct TranscodePipeline {
    /// The input's name in messages (its path, for a file).
    let inputPath: String
    /// Where its bytes come from; nil opens `inputPath` as a local file.
    let source: (any ByteSource)?
    let outputDirectory: String
    let options: TranscodeOptions
    let cancellation: CancellationFlag
    let progress: ProgressTracker
    /// Where a progressive transcode reports its segments and its early master.
    var publish: @Sendable (Publication) -> Void = { _ in }

    /// Runs the whole transcode on the calling thread (a dedicated one).
    func run() throws(TranscodeError) -> TranscodeResult {
        let started = ContinuousClock.now
        var output: OutputDirectory?
        do {
            progress.stage(.probing)
            let bytes = try source ?? FileByteSource(path: inputPath)
            let probeInput = try MediaProbe.open(bytes, name: inputPath, cancellation: cancellation)
            let info = try MediaProbe.describe(probeInput, countPackets: true, maxDurationSeconds: options.maxDurationSeconds)
            // Counting packets reads the input to its end; only then is a second open needed.
            let input = info.video.frameCountSource == "packets"
                ? try MediaProbe.open(bytes, name: inputPath, cancellation: cancellation) : probeInput
            let renditions = Ladder.renditions(for: info.video.geometry, rungs: options.rungs)
            // The plan reads an input of its own to its end: the transcode's stays at its start.
            let chunk = try options.chunk.map {
                try Self.scope($0, input: MediaProbe.open(bytes, name: inputPath, cancellation: cancellation), info: info, options: options,
                               cancellation: cancellation)
            }
            // The source's text subtitles join the sidecar captions; in chunks, chunk 0 reads
            // them, and the stitch writes them.
            let audioTask = options.chunk?.audio == .only
            let readsSubtitles = !audioTask && (chunk.map { $0.chunk.index == 0 } ?? true)
            // Read through an input of their own: rewinding the transcode's (a seek to 0) can
            // land past the first audio packets (Matroska), which then cost a frame of sound
            // and kept the normalised encode from lining up with the early one.
            let sourceSubtitles = readsSubtitles && info.tracks.contains(where: { $0.kind == .subtitle })
                ? try SourceSubtitles.read(MediaProbe.open(bytes, name: inputPath, cancellation: cancellation), tracks: info.tracks,
                                           cancellation: cancellation)
                : (captions: [], notes: [])
            let captions = readsSubtitles ? SidecarCaptions.uniquelyNamed(options.captions + sourceSubtitles.captions) : []
            // A chunked run's audio is chunk 0's or the audio task's (`ChunkSelection.audio`).
            let carriesAudio = options.chunk?.encodesAudio ?? true
            let audio = audioTracks(info)
            // A chunk 0 that previews the audio leaves its notes to the audio task's (the stitch joins both).
            let previewsAudio = chunk.map { ChunkRun.previewsAudio(options.chunk, scope: $0, hasAudio: info.audio != nil) } ?? false
            let notes = sourceSubtitles.notes + (carriesAudio && !previewsAudio ? audio.notes : [])
            let audioFolder = (separatesAudio(tracks: audio.tracks.count, input: input, info: info) || chunk != nil) && carriesAudio ? audio.tracks.map(\.folder) : []
            // Normalised after publishing: each track's second encode has a staging folder.
            let staging = normalisesAfterPublishing(separateAudio: !audioFolder.isEmpty) && !previewsAudio && !audioTask
                ? audioFolder.map(NormalisedAudio.stagingFolder) : []
            output = try OutputDirectory(path: outputDirectory,
                                         renditions: (audioTask ? [] : renditions.map(\.name)) + audioFolder + staging
                                             + (options.writeStoryboard && !audioTask ? [Storyboard.folder] : [])
                                             // A chunk 0 publishing as it goes writes the early captions.
                                             + (captions.isEmpty || (chunk != nil && !options.progressive) ? [] : [SubtitleRendition.folder]))
            guard let output else { throw TranscodeError.Reason.io("no output directory") }
            if let chunk, audioTask {
                return try AudioTaskRun(pipeline: self, input: input, info: info, renditions: renditions, output: output,
                                        plan: chunk.plan, notes: notes, audioTracks: audio.tracks, source: bytes,
                                        started: started).run()
            }
            if let chunk {
                return try ChunkRun(pipeline: self, input: input, info: info, renditions: renditions, output: output,
                                    scope: chunk, captions: captions, notes: notes, audioTracks: audio.tracks, source: bytes,
                                    started: started).run()
            }
            let result = try transcode(input: input, source: bytes, info: info, renditions: renditions, output: output,
                                       captions: captions, audioTracks: audio.tracks)
            let wall = (ContinuousClock.now - started) / .seconds(1)
            progress.stage(.done)
            return TranscodeResult(
                masterPlaylist: output.masterPath, durationSeconds: result.duration,
                sourceFrames: info.video.frameCount, hasAudio: info.audio != nil,
                segmentFormat: options.segmentFormat, renditions: result.renditions,
                poster: FileManager.default.fileExists(atPath: output.posterPath) ? "poster.jpg" : nil,
                storyboard: FileManager.default.fileExists(atPath: output.storyboardPath) ? Storyboard.indexName : nil,
                wallSeconds: wall,
                corruptPackets: result.corruptPackets, filledAudioGaps: result.filledAudioGaps, download: result.download,
                dashManifest: result.dash, captions: result.captions.isEmpty ? nil : result.captions,
                timelineShift: result.shift, notes: (notes + result.notes).isEmpty ? nil : notes + result.notes,
                audioTracks: separatesAudio(tracks: audio.tracks.count, input: input, info: info) && !audio.tracks.isEmpty ? audio.tracks : nil,
                loudness: result.loudness, republishedAudio: result.republished.isEmpty ? nil : result.republished)
        } catch {
            output?.removeEverythingWritten()
            throw TranscodeError(input: inputPath, reason: Self.reason(for: error, cancelledByRequest: cancellation.wasCancelledByRequest))
        }
    }

    /// The video stream and its decoder, and the audio chain (decoder, resampler, the one
    /// AAC encoder) when the source has audio: what a whole run and a chunk run both open.
    /// `alternates` are the chains of `tracks` after the first (the source's other audio).
    static func openDecoders(_ input: InputFile, info: MediaInfo, options: TranscodeOptions, tracks: [AudioTrack] = []) throws
        -> (video: UnsafeMutablePointer<AVStream>, decoder: Decoder, audio: DecodeStage.AudioChain?, alternates: [DecodeStage.AudioChain]) {
        let maxPixels = SourceBounds.maxPixels
        guard let videoStream = input.stream(Int32(info.video.streamIndex)) else { throw TranscodeError.Reason.noVideoStream }
        let decoder = try Decoder(stream: videoStream, threads: Int32(options.decoderThreads), maxPixels: maxPixels)
        let audio = try info.audio.flatMap { audioInfo in
            try input.stream(Int32(audioInfo.streamIndex)).map {
                let chain = try DecodeStage.AudioChain(stream: $0, startTime: input.context.pointee.start_time,
                                                       bitrate: options.audioBitrate, maxPixels: maxPixels)
                if let main = tracks.first { chain.track = main }
                return chain
            }
        }
        // Another track that cannot be opened (an undecodable codec) fails the run: a
        // dub silently missing is worse than a clear error.
        let alternates = try tracks.dropFirst().map { track in
            guard let stream = input.stream(Int32(track.streamIndex)) else { throw TranscodeError.Reason.io("audio stream \(track.streamIndex) vanished") }
            let chain = try DecodeStage.AudioChain(stream: stream, startTime: input.context.pointee.start_time,
                                                   bitrate: options.audioBitrate, maxPixels: maxPixels)
            chain.track = track
            return chain
        }
        return (videoStream, decoder, audio, alternates)
    }

    /// The early ladder's audio tracks: the chains' tracks, with their output channels.
    static func earlyAudio(_ chains: [DecodeStage.AudioChain]) -> [ProgressiveWriter.SeparateAudio] {
        chains.map { .init(track: $0.track, channels: Int($0.encoder.context.pointee.ch_layout.nb_channels)) }
    }

    /// The rendition of one audio track (`chain`'s), in its own folder.
    func audioWorker(for chain: DecodeStage.AudioChain, output: OutputDirectory, videoTimeBase: AVRational, shift: TimelineShift,
                     progressive: ProgressiveWriter?, segmentLimit: Int? = nil,
                     reports: (@Sendable (Publication) -> Void)? = nil) throws -> AudioRenditionWorker {
        try AudioRenditionWorker(name: chain.track.folder, audio: chain.encoder, videoTimeBase: videoTimeBase,
                                 directory: output.directory(for: chain.track.folder), format: options.segmentFormat,
                                 segmentDuration: options.segmentDuration, queueDepth: options.queueDepth, shift: shift, progressive: progressive,
                                 segmentLimit: segmentLimit, reports: reports, cancellation: cancellation)
    }

    /// Whether the audio is normalised after the early ladder has published it
    /// (`NormalisedAudio`): a progressive run whose audio is in renditions of its own. A
    /// muxed ladder's audio is inside the video segments, so it waits for the gain instead.
    func normalisesAfterPublishing(separateAudio: Bool) -> Bool {
        options.progressive && options.loudness != nil && separateAudio
    }

    /// The second, normalised encode of `chains`' tracks, when this run publishes its
    /// audio before the gain can be known (`normalisesAfterPublishing`).
    func normalisedAudio(_ chains: [DecodeStage.AudioChain], separateAudio: Bool, output: OutputDirectory, videoTimeBase: AVRational,
                         shift: TimelineShift?) throws -> NormalisedAudio? {
        guard normalisesAfterPublishing(separateAudio: separateAudio), let target = options.loudness, let shift, !chains.isEmpty else {
            return nil
        }
        return try NormalisedAudio(chains: chains, output: output, options: options, target: target, videoTimeBase: videoTimeBase,
                                   shift: shift, cancellation: cancellation)
    }

    /// Starts measuring the loudness of `chains`' tracks, when the options ask for it; with
    /// `normalised`, the pass then makes its encode, and nothing waits for the gains.
    func startLoudnessPass(source: any ByteSource, name: String, chains: [DecodeStage.AudioChain], durationSeconds: Double?,
                           normalised: NormalisedAudio? = nil)
        -> (pass: LoudnessPass, target: Double, hold: LoudnessPass.Hold)? {
        guard let target = options.loudness, !chains.isEmpty else { return nil }
        let pass = LoudnessPass(source: source, name: name, streams: chains.map { Int($0.streamIndex) },
                                maxDurationSeconds: options.maxDurationSeconds, durationSeconds: durationSeconds,
                                cancellation: cancellation)
        if let normalised {
            pass.startsAfterPlayable = true
            pass.then = { measurements, reader, stop in
                normalised.encode(measurements: measurements, reader: reader, name: name, stop: stop)
            }
        }
        // The audio task's encode waits for the whole measurement: it reads a long source's
        // spans at once. Elsewhere the pass overlaps the video's encode, in one read.
        if options.chunk?.audio == .only {
            pass.spansAtOnce = min(options.cores ?? ProcessInfo.processInfo.activeProcessorCount, LoudnessPass.maximumThreads)
        }
        pass.start()
        // The audio task's segments are the normalised ones even when it publishes as it
        // goes: a viewer waits for no segment of it (chunk 0's preview plays first).
        let waitsForTheGain = !options.progressive || options.chunk?.audio == .only
        return (pass, target, waitsForTheGain ? .whole : .progressive(segmentDuration: options.segmentDuration))
    }

    /// `publish`, which also lets a measurement that waits for the early ladder begin once
    /// the ladder is out (`LoudnessPass.startsAfterPlayable`).
    static func publish(_ publish: @escaping @Sendable (Publication) -> Void, thenBegin pass: LoudnessPass?)
        -> @Sendable (Publication) -> Void {
        guard let pass, pass.startsAfterPlayable else { return publish }
        return { publication in
            publish(publication)
            if case .playable = publication { pass.begin() }
        }
    }

    /// The audio tracks this run writes, and a note for each stream it leaves out.
    private func audioTracks(_ info: MediaInfo) -> (tracks: [AudioTrack], notes: [String]) {
        // A stream no decoder of this build reads (an exotic codec) is left out, not fatal.
        let undecodable = info.tracks.filter { track in
            track.kind == .audio && track.streamIndex != info.audio?.streamIndex
                && avcodec_descriptor_get_by_name(track.codec).flatMap { avcodec_find_decoder($0.pointee.id) } == nil
        }
        var described = info
        described.tracks.removeAll { track in undecodable.contains { $0.streamIndex == track.streamIndex } }
        let plan = AudioTrack.plan(described)
        var notes = undecodable.map { "audio stream \($0.streamIndex) (\($0.codec)): no decoder, left out" }
        notes += plan.left.map { "audio stream \($0.streamIndex): more than \(AudioTrack.maxTracks) audio tracks, left out" }
        return (plan.tracks, notes)
    }

    /// Whether the audio gets renditions of its own (the CMAF layout, or TS segments of audio
    /// alone): for DASH, for more than one track, and for a source whose audio plays on past
    /// its video (a still picture with long audio), which muxed segments would have to drop.
    private func separatesAudio(tracks: Int, input: InputFile, info: MediaInfo) -> Bool {
        dash || tracks > 1 || Self.audioOutlastsVideo(input, info: info)
    }

    /// A muxed ladder ends with its video's last segment, so sound that plays on past the
    /// picture (by more than the cutter's tail) is left out: say so, and how much, where the
    /// container did not declare it (which would have chosen renditions of audio alone).
    private static func droppedSoundNote(_ decode: DecodeStage, separateAudio: Bool, hasAudio: Bool) -> String? {
        let past = decode.audioEnd - decode.videoEnd - SegmentCutter<Packet>.defaultMaxAudioTail
        guard hasAudio, !separateAudio, decode.decodedFrames > 0, past > 0.5 else { return nil }
        return "audio: the last \(String(format: "%.1f", past)) s play past the picture and were left out: "
            + "a muxed ladder ends with its video (--dash keeps them)"
    }

    /// A still picture's rungs may end before its sound (`DecodeStage.endVideoIfOnlySoundRemains`)
    /// where the sound has renditions of its own (muxed segments need the video to carry it),
    /// after the video's frames: those its container counts (an MP4's sample table), or, where
    /// it counts none (Matroska), the video packets the probe counted reading the same bytes to
    /// their end, exactly as the decode stage counts them.
    static func declaredFrames(info: MediaInfo, separateAudio: Bool) -> Int? {
        guard separateAudio, info.audio != nil, ["container", "packets"].contains(info.video.frameCountSource),
              info.video.frameCount > 0 else { return nil }
        return info.video.frameCount
    }

    /// Video the container did not declare, past the still picture's early end, was left out.
    private static func undeclaredFramesNote(_ decode: DecodeStage) -> String? {
        guard decode.videoPacketsPastDeclaredEnd > 0 else { return nil }
        return "video: \(decode.videoPacketsPastDeclaredEnd) frames past the \(decode.decodedFrames) the container declares, "
            + "more than \(Int(DecodeStage.stillPictureLeadSeconds)) s after them, were left out"
    }

    /// The container says the audio ends more than the cutter's tail after the video.
    private static func audioOutlastsVideo(_ input: InputFile, info: MediaInfo) -> Bool {
        let declared = { (index: Int) in input.stream(Int32(clamping: index)).flatMap { DeclaredLength.of($0, in: input.context) } }
        guard let audio = info.audio, let audioLength = declared(audio.streamIndex),
              let videoLength = declared(info.video.streamIndex) ?? info.video.durationSeconds else { return false }
        let audioEnd = audio.startSeconds + audioLength
        return audioEnd.isFinite && audioEnd > info.video.startSeconds + videoLength + SegmentCutter<Packet>.defaultMaxAudioTail
    }

    /// Starts the rungs and the audio rendition, decodes on this thread, and joins them.
    /// Throws the first real failure: a stage stopped by another's failure says `.cancelled`.
    /// - Parameter decoded: called once the decode has ended (however it ended).
    static func runStages(decode: DecodeStage, workers: [RenditionWorker], audio: [AudioRenditionWorker], plan: ThreadPlan,
                          cancellation: CancellationFlag, decoded: () -> Void = {}) throws {
        workers.forEach { $0.start() }
        audio.forEach { $0.start() }
        // After starting the workers: threads inherit their creator's priority.
        if plan.lowersDecoderPriority { ThreadPriority.lowerCurrentThread() }
        var decodeError: Error?
        do { try decode.run() } catch {
            decodeError = error
            cancellation.abort()
        }
        decoded()
        if decodeError != nil {
            workers.forEach { $0.queue.closeAndDiscard() }
            audio.forEach { $0.queue.closeAndDiscard() }
        }
        workers.forEach { $0.join() }
        audio.forEach { $0.join() }
        if let decodeError, (decodeError as? TranscodeError.Reason) != .cancelled { throw decodeError }
        let failures = workers.compactMap(\.failure) + audio.compactMap(\.failure)
        if let failure = failures.first(where: { ($0 as? TranscodeError.Reason) != .cancelled }) {
            throw failure
        }
        if let decodeError { throw decodeError }
        if cancellation.isCancelled { throw TranscodeError.Reason.cancelled }
    }

    /// A DASH ladder needs CMAF segments.
    private var dash: Bool { options.dash && options.segmentFormat == .fmp4 }

    /// The chunk `selection` names, in the plan made from this very source.
    private static func scope(_ selection: ChunkSelection, input: InputFile, info: MediaInfo, options: TranscodeOptions,
                              cancellation: CancellationFlag) throws -> (plan: ChunkPlan, chunk: ChunkPlan.Chunk) {
        guard options.segmentFormat == .fmp4 else { throw TranscodeError.Reason.chunking("chunks need fMP4 segments (CMAF)") }
        switch try ChunkPlanner.plan(input, info: info, segmentDuration: options.segmentDuration, chunkSeconds: selection.seconds,
                                     maxDurationSeconds: options.maxDurationSeconds, cancellation: cancellation) {
        case .failure(.timestampsNeedRepair(let why)):
            throw TranscodeError.Reason.chunking("this source cannot be cut into chunks (\(why)); transcode it whole")
        case .success(let plan):
            guard plan.chunks.indices.contains(selection.index) else {
                throw TranscodeError.Reason.chunking("chunk \(selection.index) does not exist: \(selection.seconds) s chunks give \(plan.chunks.count)")
            }
            return (plan, plan.chunks[selection.index])
        }
    }

    /// "cancelled" only when somebody cancelled: a stage that failed stops the others
    /// with `abort()`, and its own error is the one reported.
    private static func reason(for error: Error, cancelledByRequest: Bool) -> TranscodeError.Reason {
        if cancelledByRequest { return .cancelled }
        if let reason = error as? TranscodeError.Reason { return reason }
        if let error = error as? TranscodeError { return error.reason }
        if let error = error as? AVError { return error.code == AVError.outOfMemory ? .outOfMemory : .ffmpeg(error) }
        return .io(String(describing: error))
    }

    private func transcode(input: InputFile, source: any ByteSource, info: MediaInfo, renditions: [Rendition],
                           output: OutputDirectory, captions: [SidecarCaptions], audioTracks: [AudioTrack]) throws
        -> (duration: Double, renditions: [TranscodeResult.RenditionResult], corruptPackets: Int, filledAudioGaps: Int,
            download: TranscodeResult.Download?, dash: String?, captions: [TranscodeResult.Caption], shift: Double?,
            loudness: [Loudness.Track]?, notes: [String], republished: [String]) {
        let (videoStream, decoder, audio, alternates) = try TranscodePipeline.openDecoders(input, info: info, options: options,
                                                                                          tracks: audioTracks)
        let chains = [audio].compactMap { $0 } + alternates
        let separate = separatesAudio(tracks: audioTracks.count, input: input, info: info)
        let frameRate = try FrameRate.choose(videoStream)

        // Separate audio: the rungs tell the audio renditions their timestamp shift.
        let shift = separate ? TimelineShift(rungs: renditions.count) : nil
        let videoTimeBase = try TimeBase(videoStream.pointee.time_base).rational
        let normalised = try normalisedAudio(chains, separateAudio: separate, output: output, videoTimeBase: videoTimeBase, shift: shift)
        let loudness = startLoudnessPass(source: source, name: input.path, chains: chains, durationSeconds: info.durationSeconds,
                                         normalised: normalised)
        defer { loudness?.pass.stopAndJoin() }
        let progressive = options.progressive
            ? ProgressiveWriter(output: output, renditions: renditions, format: options.segmentFormat,
                                segmentDuration: options.segmentDuration, frameRate: frameRate.rational.doubleValue,
                                audioBitrate: audio != nil ? options.audioBitrate : nil,
                                separateAudio: separate ? Self.earlyAudio([audio].compactMap { $0 } + alternates) : [],
                                captions: captions, provisional: normalised == nil ? [] : Set(chains.map(\.track.folder)),
                                publish: Self.publish(publish, thenBegin: loudness?.pass))
            : nil
        let audioRendition = try shift.flatMap { shift in
            try audio.map { try audioWorker(for: $0, output: output, videoTimeBase: videoTimeBase, shift: shift, progressive: progressive) }
        }
        // Every track is in the early ladder: a viewer who watches while it transcodes may
        // pick the dub.
        let alternateRenditions = try shift.map { shift in
            try alternates.map { try audioWorker(for: $0, output: output, videoTimeBase: videoTimeBase, shift: shift, progressive: progressive) }
        } ?? []
        let plan = ThreadPlan.make(for: renditions, cores: options.cores ?? ProcessInfo.processInfo.activeProcessorCount,
                                   encoderThreads: options.encoderThreads,
                                   prioritizeLargestRung: options.prioritizeLargestRung)
        let downloadRung = options.downloadRung.flatMap { Ladder.downloadRendition(renditions, preferred: $0) }
        let workers = try renditions.enumerated().map { index, rendition in
            try RenditionWorker(
                index: index, rendition: rendition,
                configuration: .init(source: info.video, timeBase: try TimeBase(videoStream.pointee.time_base).rational, frameRate: frameRate.rational,
                                     options: options, encoderThreads: plan.encoderThreads[index],
                                     lowersPriority: plan.lowersPriority(ofRendition: index),
                                     directory: output.directory(for: rendition.name), audio: audio?.encoder,
                                     progressive: progressive,
                                     downloadDirectory: rendition == downloadRung ? output.path : nil,
                                     separateAudio: shift),
                progress: progress, cancellation: cancellation)
        }
        progress.begin(framesTotal: info.video.frameCount, renditions: renditions.map(\.name),
                       sourceDuration: info.video.durationSeconds ?? info.durationSeconds)

        let posterSize = PosterWriter.size(for: renditions)
        let poster = options.writePoster
            ? (writer: PosterWriter(width: posterSize.width, height: posterSize.height, rotation: info.video.geometry.rotation),
               path: output.posterPath, frameIndex: PosterWriter.frameIndex(frameCount: info.video.frameCount))
            : nil
        // The storyboard's tiles have the top rung's upright shape.
        let storyboard = options.writeStoryboard
            ? try? StoryboardWriter(layout: Storyboard(pictureWidth: renditions.last?.width ?? 16, pictureHeight: renditions.last?.height ?? 9,
                                                      interval: options.storyboardInterval),
                                    rotation: info.video.geometry.rotation, output: output)
            : nil
        let decode = DecodeStage(input: input, info: info, video: decoder, audio: audio,
                                 queues: workers.map(\.queue) + [audioRendition?.queue].compactMap { $0 },
                                 frameRate: frameRate, segmentDuration: options.segmentDuration,
                                 maxDurationSeconds: options.maxDurationSeconds, maxFrames: options.maxFrames,
                                 poster: poster, storyboard: storyboard,
                                 alternateAudio: zip(alternates, alternateRenditions).map { ($0, $1.queue) },
                                 // Normalised later: the early encode takes the source's level at once.
                                 loudness: normalised == nil ? loudness : nil, normalised: normalised,
                                 keepsAudioPastVideo: separate,
                                 declaredFrames: Self.declaredFrames(info: info, separateAudio: separate),
                                 cancellation: cancellation)
        let earlyAudio = [audioRendition].compactMap { $0 } + alternateRenditions
        try Self.runStages(decode: decode, workers: workers, audio: earlyAudio + (normalised?.workers ?? []),
                           plan: plan, cancellation: cancellation, decoded: { loudness?.pass.begin() })

        // A container that declares more frames than could be read is a cut-off file.
        if !decode.stoppedAtFrameLimit, info.video.isCutOff(framesRead: decode.decodedFrames) {
            throw TranscodeError.Reason.truncated(decodedFrames: decode.decodedFrames, declaredFrames: info.video.frameCount)
        }
        guard decode.decodedFrames > 0 else { throw TranscodeError.Reason.notMedia("no video frame could be decoded") }

        progress.stage(.finalizing)
        // A nicety: a storyboard that cannot be written is left out, never the video.
        if let storyboard = decode.storyboard {
            do { try storyboard.finish(duration: decode.videoDuration) } catch {
                try? FileManager.default.removeItem(atPath: output.storyboardPath)
            }
        }
        if decode.storyboard == nil, options.writeStoryboard {
            try? FileManager.default.removeItem(atPath: output.directory(for: Storyboard.folder))  // half a storyboard
        }
        // The EVENT playlists end before the VOD master appears; the audio they name is
        // normalised from here on.
        try progressive?.finish()
        let adoption = try normalised?.adopt(earlyAudio, output: output)
        let rate = frameRate.rational
        let nominalRate = rate.den == 1 ? "\(rate.num)" : "\(rate.num)/\(rate.den)"
        let separateAudio = zip(chains, earlyAudio)
            .map { chain, worker in
                PlaylistWriter.Audio(segments: adoption?.segments[worker.name] ?? worker.segments, channels: Int(chain.encoder.context.pointee.ch_layout.nb_channels),
                                     sampleRate: Int(chain.encoder.context.pointee.sample_rate), timescale: worker.timescale,
                                     track: chain.track)
            }
        // Caption tracks, cut on the first rung's segments (every rung cuts at the same times).
        let subtitles = try SubtitleRendition.writeAll(captions, segments: SubtitleRendition.timeline(workers.first?.segments ?? []),
                                                       shift: workers.first?.timelineShiftApplied ?? 0, output: output)
        let written = try PlaylistWriter(output: output, format: options.segmentFormat, hasAudio: audio != nil)
            .write(workers.map { worker in
                PlaylistWriter.Variant(
                    rendition: worker.rendition, segments: worker.segments,
                    initializationBytes: worker.initializationBytes,
                    codecs: worker.codecs ?? "avc1.640028", frames: worker.framesEncoded,
                    timescale: worker.timescale, nominalFrameRate: nominalRate)
            }, audio: separateAudio, dash: dash, segmentDuration: options.segmentDuration, subtitles: subtitles)
        var download = workers.first { $0.rendition == downloadRung }.flatMap { worker in
            worker.downloadBytes.map { TranscodeResult.Download(file: TranscodeResult.Download.fileName, rendition: worker.rendition.name, bytes: $0) }
        }
        // download.mp4 carries the default track: remuxed with it once it is normalised.
        if let adoption, let main = separateAudio.first, adoption.replaced.contains(main.track.folder),
           let rung = workers.first(where: { $0.rendition == downloadRung }), download != nil {
            let bytes = try StitchedDownload.write(to: output.path, video: (output.directory(for: rung.rendition.name), rung.segments.map(\.fileName)),
                                                   audio: (output.directory(for: main.track.folder), main.segments.map(\.fileName)),
                                                   shift: rung.timelineShiftApplied ?? 0, format: options.segmentFormat)
            download?.bytes = bytes
        }
        let published = SubtitleRendition.published(subtitles)
        let tracks = adoption?.loudness ?? decode.loudnessTracks
        return (written.duration, written.renditions, decode.corruptPackets, decode.filledAudioGaps, download, written.dash, published,
                workers.first?.timelineShiftApplied, tracks.isEmpty ? nil : tracks,
                [loudness?.pass.note].compactMap { $0 } + decode.loudnessNotes + (adoption?.notes ?? [])
                    + [Self.droppedSoundNote(decode, separateAudio: separate, hasAudio: audio != nil),
                       Self.undeclaredFramesNote(decode)].compactMap { $0 },
                adoption?.replaced ?? [])
    }
}
