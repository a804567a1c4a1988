import CAV
import Foundation

/// One chunk of a split-and-stitch transcode (`TranscodeOptions.chunk`): the rungs'
/// segments of the chunk's range, named and timed as a whole-file run names and times
/// them, and for chunk 0 the whole file's audio, encoded once, unless the audio task
/// encodes it (`ChunkSelection.AudioWork.apart`, `AudioTaskRun`). It writes `chunk.json`
/// for `LadderStitcher`, and no playlist: a chunk alone is not a ladder.
///
/// The differences from a whole-file run, all in the decode stage: it seeks to a
/// keyframe before the chunk, decodes from there, drops the frames before the chunk,
/// stops at the next chunk's first frame, and cuts on a segment clock that starts at
/// the whole file's first frame. Every chunk makes the AAC encoder (fed only by the run
/// that encodes the audio), since its priming is part of the timestamp shift every muxer applies.
struct ChunkRun {
    let pipeline: TranscodePipeline
    let input: InputFile
    let info: MediaInfo
    let renditions: [Rendition]
    let output: OutputDirectory
    let scope: (plan: ChunkPlan, chunk: ChunkPlan.Chunk)
    /// Chunk 0's: carried in its manifest for the stitch; empty in the others.
    let captions: [SidecarCaptions]
    /// Chunk 0's: what of the source was left out (`TranscodeResult.notes`).
    let notes: [String]
    /// The audio tracks chunk 0 encodes (every chunk opens their encoders: see above).
    let audioTracks: [AudioTrack]
    /// The source once more, for chunk 0's loudness measurement.
    let source: any ByteSource
    let started: ContinuousClock.Instant

    /// The whole run's storyboard layout: tiles of the top rung's upright shape.
    static func storyboardLayout(_ renditions: [Rendition], _ options: TranscodeOptions) -> Storyboard {
        Storyboard(pictureWidth: renditions.last?.width ?? 16, pictureHeight: renditions.last?.height ?? 9,
                   interval: options.storyboardInterval)
    }

    /// The whole run's number of the chunk's first tile: tile k is the first frame at or
    /// after k intervals, so the tiles before the chunk are those at or before the frame
    /// just before it (the plan's; one frame at the nominal rate in an older plan).
    static func firstTile(_ scope: (plan: ChunkPlan, chunk: ChunkPlan.Chunk), interval: Double, frameDuration: Double) -> Int {
        guard scope.chunk.index > 0 else { return 0 }
        let previous = (scope.chunk.leadIn?.times.last ?? scope.chunk.start - frameDuration) - scope.plan.origin
        return Int(((previous + ChunkPlan.tolerance) / interval).rounded(.down)) + 1
    }

    /// Chunk 0 encodes a preview of the audio (`ChunkSelection.AudioWork.preview`): asked
    /// for, and the plan allows the audio task that encodes the whole.
    static func previewsAudio(_ selection: ChunkSelection?, scope: (plan: ChunkPlan, chunk: ChunkPlan.Chunk), hasAudio: Bool) -> Bool {
        selection?.audio == .preview && scope.chunk.index == 0 && hasAudio && scope.plan.allowsAudioTask
    }

    private static func allNotes(_ notes: [String]) -> [String]? { notes.isEmpty ? nil : notes }

    func run() throws -> TranscodeResult {
        let options = pipeline.options
        let cancellation = pipeline.cancellation
        let (videoStream, decoder, audio, alternates) = try TranscodePipeline.openDecoders(input, info: info, options: options,
                                                                                          tracks: audioTracks)
        let frameRate = try FrameRate.choose(videoStream)
        let videoTimeBase = try TimeBase(videoStream.pointee.time_base).rational
        let shift = TimelineShift(rungs: renditions.count)
        let encodesAudio = options.chunk?.encodesAudio == true
        if options.progressive, scope.chunk.index == 0, !encodesAudio {
            // Its early master would name audio that no run of this process publishes.
            throw TranscodeError.Reason.chunking("a chunk 0 that publishes as it goes encodes the audio itself")
        }
        let preview = Self.previewsAudio(options.chunk, scope: scope, hasAudio: audio != nil)
        // Chunk 0 encodes the whole file's audio, so it measures its loudness; publishing as
        // it goes, it normalises the audio after publishing it (`NormalisedAudio`). A
        // preview is published at the source's level: the audio task normalises the whole.
        let chains = encodesAudio && !preview ? [audio].compactMap { $0 } + alternates : []
        let normalised = try pipeline.normalisedAudio(chains, separateAudio: true, output: output, videoTimeBase: videoTimeBase, shift: shift)
        let loudness = pipeline.startLoudnessPass(source: source, name: input.path, chains: chains, durationSeconds: info.durationSeconds,
                                                  normalised: normalised)
        defer { loudness?.pass.stopAndJoin() }
        // Chunk 0 may publish as it goes (a service makes the video playable from it): its
        // segments are the whole run's first ones. Its EVENT playlists never end here; the
        // next chunks extend them, so `finish()` is not called. Audio at the source's level
        // is provisional when a normalised encode replaces it: its own, or the audio task's.
        let tracks = [audio].compactMap { $0 } + alternates
        let replaced = normalised != nil || (preview && options.loudness != nil)
        let progressive = options.progressive && scope.chunk.index == 0
            ? ProgressiveWriter(output: output, renditions: renditions, format: options.segmentFormat,
                                segmentDuration: options.segmentDuration, frameRate: frameRate.rational.doubleValue,
                                audioBitrate: audio != nil ? options.audioBitrate : nil,
                                separateAudio: TranscodePipeline.earlyAudio(tracks), captions: captions,
                                provisional: replaced ? Set(tracks.map(\.track.folder)) : [],
                                publish: TranscodePipeline.publish(pipeline.publish, thenBegin: loudness?.pass))
            : nil
        // A preview's tracks stop at the chunk's end: the segments after it are the audio task's.
        let segmentLimit = preview ? scope.chunk.endSegment : nil
        let audioRendition = try encodesAudio ? audio.map {
            try pipeline.audioWorker(for: $0, output: output, videoTimeBase: videoTimeBase, shift: shift, progressive: progressive,
                                     segmentLimit: segmentLimit)
        } : nil
        let alternateRenditions = try encodesAudio ? alternates.map {
            try pipeline.audioWorker(for: $0, output: output, videoTimeBase: videoTimeBase, shift: shift, progressive: progressive,
                                     segmentLimit: segmentLimit)
        } : []
        let plan = ThreadPlan.make(for: renditions, cores: options.cores ?? ProcessInfo.processInfo.activeProcessorCount,
                                   encoderThreads: options.encoderThreads, prioritizeLargestRung: options.prioritizeLargestRung)
        let workers = try renditions.enumerated().map { index, rendition in
            try RenditionWorker(
                index: index, rendition: rendition,
                configuration: .init(source: info.video, timeBase: videoTimeBase, frameRate: frameRate.rational, options: options,
                                     encoderThreads: plan.encoderThreads[index], lowersPriority: plan.lowersPriority(ofRendition: index),
                                     directory: output.directory(for: rendition.name), audio: audio?.encoder, progressive: progressive,
                                     downloadDirectory: nil, separateAudio: shift, firstSegmentNumber: scope.chunk.firstSegment,
                                     wholeRunTiming: WholeRunVideoTiming(plan: scope.plan, chunk: scope.chunk,
                                                                         secondsPerTick: videoTimeBase.doubleValue)),
                progress: pipeline.progress, cancellation: cancellation)
        }
        pipeline.progress.begin(framesTotal: scope.chunk.frames, renditions: renditions.map(\.name),
                                sourceDuration: info.video.durationSeconds ?? info.durationSeconds,
                                chunkPlan: .init(index: scope.chunk.index, count: scope.plan.chunks.count,
                                                 framesInPlan: scope.plan.chunks.reduce(0) { $0 + $1.frames },
                                                 audioTask: preview ? .init(previewSegments: scope.chunk.endSegment) : nil))
        // The poster is the whole run's frame (about 10% in): the chunk that holds it writes it.
        let framesBefore = scope.plan.chunks[..<scope.chunk.index].reduce(0) { $0 + $1.frames }
        let posterFrame = PosterWriter.frameIndex(frameCount: scope.plan.chunks.reduce(0) { $0 + $1.frames })
        let posterSize = PosterWriter.size(for: renditions)
        let poster = options.writePoster && (framesBefore..<(framesBefore + scope.chunk.frames)).contains(posterFrame)
            ? (writer: PosterWriter(width: posterSize.width, height: posterSize.height, rotation: info.video.geometry.rotation),
               path: output.posterPath, frameIndex: posterFrame - framesBefore)
            : nil
        // Its storyboard tiles, numbered as the whole run numbers them; the stitch packs the sheets.
        let storyboard = options.writeStoryboard
            ? try? StoryboardWriter(layout: Self.storyboardLayout(renditions, options), rotation: info.video.geometry.rotation, output: output,
                                    firstTile: Self.firstTile(scope, interval: options.storyboardInterval,
                                                              frameDuration: 1 / max(frameRate.perSecond, 1)),
                                    keepsTiles: true)
            : nil
        let decode = DecodeStage(input: input, info: info, video: decoder, audio: audioRendition != nil ? audio : nil,
                                 queues: workers.map(\.queue) + [audioRendition?.queue].compactMap { $0 },
                                 frameRate: frameRate, segmentDuration: options.segmentDuration,
                                 maxDurationSeconds: options.maxDurationSeconds, maxFrames: nil, poster: poster, storyboard: storyboard,
                                 chunk: scope, cutQueue: audioRendition?.queue,
                                 alternateAudio: zip(alternates, alternateRenditions).map { ($0, $1.queue) },
                                 loudness: normalised == nil ? loudness : nil, normalised: normalised,
                                 keepsAudioPastVideo: true,
                                 audioPreviewEnd: preview ? scope.plan.segmentStarts[scope.chunk.endSegment] : nil,
                                 cancellation: cancellation)
        let earlyAudio = [audioRendition].compactMap { $0 } + alternateRenditions
        try TranscodePipeline.runStages(decode: decode, workers: workers, audio: earlyAudio + (normalised?.workers ?? []),
                                        plan: plan, cancellation: cancellation, decoded: { loudness?.pass.begin() })
        let planned = scope.chunk.frames
        if decode.decodedFrames != planned {
            // Frames the container's index promised, lost where the decoder met damaged
            // packets: the media's fault, judged as a whole run judges it (a few frames are
            // let go, more are a truncated file), never a split problem to retry or to
            // transcode whole. Any other difference is the split's (a seek gone wrong).
            guard decode.decodedFrames < planned, decode.corruptPackets > 0 else {
                throw TranscodeError.Reason.chunking("chunk \(scope.chunk.index) decoded \(decode.decodedFrames) frames where the plan has \(planned)")
            }
            if decode.decodedFrames < planned - max(2, planned / 100) {
                throw TranscodeError.Reason.truncated(decodedFrames: decode.decodedFrames, declaredFrames: planned)
            }
        }
        let segmentCount = scope.chunk.segmentCount
        for worker in workers where worker.segments.count != segmentCount {
            throw TranscodeError.Reason.chunking("chunk \(scope.chunk.index) wrote \(worker.segments.count) \(worker.rendition.name) segments where the plan has \(segmentCount)")
        }
        let adoption = try normalised?.adopt(earlyAudio, output: output)
        let audioSegments = { (worker: AudioRenditionWorker) in adoption?.segments[worker.name] ?? worker.segments }
        let loudnessTracks = adoption?.loudness ?? decode.loudnessTracks
        let rate = frameRate.rational
        let audioTrack = audioRendition.map { worker in
            ChunkManifest.Audio(channels: Int(audio?.encoder.context.pointee.ch_layout.nb_channels ?? 2),
                                sampleRate: Int(audio?.encoder.context.pointee.sample_rate ?? 0),
                                timescale: worker.timescale, segments: audioSegments(worker), track: audio?.track)
        }
        let otherTracks = zip(alternates, alternateRenditions).map { chain, worker in
            ChunkManifest.Audio(channels: Int(chain.encoder.context.pointee.ch_layout.nb_channels),
                                sampleRate: Int(chain.encoder.context.pointee.sample_rate),
                                timescale: worker.timescale, segments: audioSegments(worker), track: chain.track)
        }
        // The same notes in chunk.json (the service's) and in the result (the command line's).
        let allNotes = Self.allNotes(notes + [loudness?.pass.note].compactMap { $0 } + decode.loudnessNotes + (adoption?.notes ?? []))
        let manifest = ChunkManifest(
            chunk: scope.chunk, chunkCount: scope.plan.chunks.count, segmentCount: scope.plan.segmentStarts.count,
            segmentDuration: options.segmentDuration, segmentFormat: options.segmentFormat,
            nominalFrameRate: rate.den == 1 ? "\(rate.num)" : "\(rate.num)/\(rate.den)", sourceFrames: info.video.frameCount,
            hasAudio: info.audio != nil,
            rungs: workers.map {
                ChunkManifest.Rung(rendition: $0.rendition, codecs: $0.codecs ?? "avc1.640028", frames: $0.framesEncoded,
                                   timescale: $0.timescale, initializationBytes: $0.initializationBytes, segments: $0.segments)
            },
            audio: preview ? nil : audioTrack,
            corruptPackets: decode.corruptPackets,
            poster: FileManager.default.fileExists(atPath: output.posterPath),
            storyboardTiles: decode.storyboard.map { $0.tiles - Self.firstTile(scope, interval: options.storyboardInterval,
                                                                                 frameDuration: 1 / max(frameRate.perSecond, 1)) },
            storyboardInterval: options.storyboardInterval,
            videoDuration: scope.plan.lastFrameTime - scope.plan.origin + 1 / max(frameRate.perSecond, 1),
            downloadRung: options.downloadRung, timelineShift: workers.first?.timelineShiftApplied ?? 0,
            captions: captions.isEmpty ? nil : captions,
            notes: allNotes,
            alternateAudio: preview || otherTracks.isEmpty ? nil : otherTracks,
            loudness: loudnessTracks.isEmpty ? nil : loudnessTracks,
            audioApart: scope.chunk.index == 0 && (!encodesAudio || preview) && info.audio != nil ? true : nil,
            previewAudio: preview ? [audioTrack].compactMap { $0 } + otherTracks : nil)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: (try? encoder.encode(manifest)) ?? Data(), as: UTF8.self)
        try output.writeAtomically(json, to: ChunkManifest.fileName)
        pipeline.progress.stage(.done)
        let duration = workers.first.map { PlaylistWriter.segmentDurations($0.segments).reduce(0, +) } ?? 0
        return TranscodeResult(
            masterPlaylist: output.path + "/" + ChunkManifest.fileName, durationSeconds: duration,
            sourceFrames: scope.chunk.frames, hasAudio: audioRendition != nil, segmentFormat: options.segmentFormat,
            renditions: workers.map { worker in
                let bytes = worker.segments.reduce(worker.initializationBytes) { $0 + $1.bytes }
                return TranscodeResult.RenditionResult(
                    rendition: worker.rendition, playlist: "", codecs: worker.codecs ?? "", peakBandwidth: 0,
                    averageBandwidth: Int(Double(bytes * 8) / max(duration, 0.001)), frameCount: worker.framesEncoded,
                    segmentCount: worker.segments.count, totalBytes: bytes, durationSeconds: duration,
                    frameRate: frameRate.rational.doubleValue)
            },
            poster: nil, wallSeconds: (ContinuousClock.now - started) / .seconds(1), corruptPackets: decode.corruptPackets,
            chunkManifest: ChunkManifest.fileName, notes: allNotes,
            republishedAudio: adoption.map(\.replaced).flatMap { $0.isEmpty ? nil : $0 })
    }
}
