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
            let chunk = try options.chunk.map { try Self.scope($0, input: input, info: info, options: options, cancellation: cancellation) }
            // The source's text subtitles join the sidecar captions; in chunks, chunk 0 reads
            // them, and the stitch writes them.
            let readsSubtitles = chunk.map { $0.chunk.index == 0 } ?? true
            let sourceSubtitles = readsSubtitles
                ? try SourceSubtitles.read(input, tracks: info.tracks, cancellation: cancellation) : (captions: [], notes: [])
            let captions = readsSubtitles ? options.captions + sourceSubtitles.captions : []
            let notes = sourceSubtitles.notes
            // A chunk's audio, if any, is chunk 0's; a chunk has no storyboard (the stitch's).
            let carriesAudio = chunk.map { $0.chunk.index == 0 } ?? true
            let audioFolder = (dash || chunk != nil) && info.audio != nil && carriesAudio ? [AudioRenditionWorker.name] : []
            output = try OutputDirectory(path: outputDirectory,
                                         renditions: renditions.map(\.name) + audioFolder
                                             + (options.writeStoryboard ? [Storyboard.folder] : [])
                                             + (captions.isEmpty || chunk != nil ? [] : [SubtitleRendition.folder]))
            guard let output else { throw TranscodeError.Reason.io("no output directory") }
            if let chunk {
                return try ChunkRun(pipeline: self, input: input, info: info, renditions: renditions, output: output,
                                    scope: chunk, captions: captions, notes: notes, started: started).run()
            }
            let result = try transcode(input: input, info: info, renditions: renditions, output: output, captions: captions)
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
                timelineShift: result.shift, notes: notes.isEmpty ? nil : notes)
        } catch {
            output?.removeEverythingWritten()
            throw TranscodeError(input: inputPath, reason: Self.reason(for: error, cancelledByRequest: cancellation.wasCancelledByRequest))
        }
    }

    /// The video stream and its decoder, and the audio chain (decoder, resampler, the one
    /// AAC encoder) when the source has audio: what a whole run and a chunk run both open.
    static func openDecoders(_ input: InputFile, info: MediaInfo, options: TranscodeOptions) throws
        -> (video: UnsafeMutablePointer<AVStream>, decoder: Decoder, audio: DecodeStage.AudioChain?) {
        let maxPixels = SourceBounds.maxPixels
        guard let videoStream = input.stream(Int32(info.video.streamIndex)) else { throw TranscodeError.Reason.noVideoStream }
        let decoder = try Decoder(stream: videoStream, threads: Int32(options.decoderThreads), maxPixels: maxPixels)
        let audio = try info.audio.flatMap { audioInfo in
            try input.stream(Int32(audioInfo.streamIndex)).map {
                try DecodeStage.AudioChain(stream: $0, startTime: input.context.pointee.start_time,
                                           bitrate: options.audioBitrate, maxPixels: maxPixels)
            }
        }
        return (videoStream, decoder, audio)
    }

    /// Starts the rungs and the audio rendition, decodes on this thread, and joins them.
    /// Throws the first real failure: a stage stopped by another's failure says `.cancelled`.
    static func runStages(decode: DecodeStage, workers: [RenditionWorker], audio: AudioRenditionWorker?, plan: ThreadPlan,
                          cancellation: CancellationFlag) throws {
        workers.forEach { $0.start() }
        audio?.start()
        // After starting the workers: threads inherit their creator's priority.
        if plan.lowersDecoderPriority { ThreadPriority.lowerCurrentThread() }
        var decodeError: Error?
        do { try decode.run() } catch {
            decodeError = error
            cancellation.abort()
        }
        if decodeError != nil {
            workers.forEach { $0.queue.closeAndDiscard() }
            audio?.queue.closeAndDiscard()
        }
        workers.forEach { $0.join() }
        audio?.join()
        if let decodeError, (decodeError as? TranscodeError.Reason) != .cancelled { throw decodeError }
        let failures = workers.compactMap(\.failure) + [audio?.failure].compactMap { $0 }
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
                                     cancellation: cancellation) {
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

    private func transcode(input: InputFile, info: MediaInfo, renditions: [Rendition],
                           output: OutputDirectory, captions: [SidecarCaptions]) throws
        -> (duration: Double, renditions: [TranscodeResult.RenditionResult], corruptPackets: Int, filledAudioGaps: Int,
            download: TranscodeResult.Download?, dash: String?, captions: [TranscodeResult.Caption], shift: Double?) {
        let (videoStream, decoder, audio) = try TranscodePipeline.openDecoders(input, info: info, options: options)
        let frameRate = try FrameRate.choose(videoStream)

        let channels = audio.map { Int($0.encoder.context.pointee.ch_layout.nb_channels) }
        let progressive = options.progressive
            ? ProgressiveWriter(output: output, renditions: renditions, format: options.segmentFormat,
                                segmentDuration: options.segmentDuration, frameRate: frameRate.rational.doubleValue,
                                audioBitrate: audio != nil ? options.audioBitrate : nil,
                                separateAudioChannels: dash ? channels : nil, publish: publish)
            : nil
        // A DASH ladder: the rungs tell the audio rendition their timestamp shift.
        let shift = dash ? TimelineShift(rungs: renditions.count) : nil
        let audioRendition = try shift.flatMap { shift in
            try audio.map {
                try AudioRenditionWorker(audio: $0.encoder, videoTimeBase: try TimeBase(videoStream.pointee.time_base).rational,
                                         directory: output.directory(for: AudioRenditionWorker.name),
                                         format: options.segmentFormat, queueDepth: options.queueDepth, shift: shift,
                                         progressive: progressive, cancellation: cancellation)
            }
        }
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
                                 poster: poster, storyboard: storyboard, cancellation: cancellation)
        try Self.runStages(decode: decode, workers: workers, audio: audioRendition, plan: plan, cancellation: cancellation)

        // A container that declares more frames than could be read is a cut-off file.
        let declared = info.video.frameCount
        if info.video.frameCountSource == "container", declared > 0, !decode.stoppedAtFrameLimit,
           decode.decodedFrames < declared - max(2, declared / 100) {
            throw TranscodeError.Reason.truncated(decodedFrames: decode.decodedFrames, declaredFrames: declared)
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
        // The EVENT playlists end before the VOD master appears.
        try progressive?.finish()
        let rate = frameRate.rational
        let nominalRate = rate.den == 1 ? "\(rate.num)" : "\(rate.num)/\(rate.den)"
        let separateAudio = audioRendition.map { worker in
            PlaylistWriter.Audio(segments: worker.segments, channels: channels ?? 2,
                                 sampleRate: Int(audio?.encoder.context.pointee.sample_rate ?? 0), timescale: worker.timescale)
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
        let download = workers.first { $0.rendition == downloadRung }.flatMap { worker in
            worker.downloadBytes.map { TranscodeResult.Download(file: TranscodeResult.Download.fileName, rendition: worker.rendition.name, bytes: $0) }
        }
        let published = SubtitleRendition.published(subtitles)
        return (written.duration, written.renditions, decode.corruptPackets, decode.filledAudioGaps, download, written.dash, published,
                workers.first?.timelineShiftApplied)
    }
}
