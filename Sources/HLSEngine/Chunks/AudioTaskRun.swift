import CAV
import Foundation

/// The audio task of a split-and-stitch transcode (`ChunkSelection.audioTask`): every
/// audio track of the whole file, encoded once, cut on the plan's segment starts and
/// shifted as the rungs are, so its segments are byte for byte what chunk 0 writes when it
/// carries the audio. It writes `audio.json` for `LadderStitcher`.
///
/// Why a task of its own: chunk 0 carrying the audio (and its loudness pass) finishes
/// long after the other chunks of a long video on a many-core host, and the stitch waits
/// for it; apart, the audio runs beside the chunks from the start.
///
/// What a rung would tell it, it computes: the timeline shift is x264's reorder delay on
/// the whole file's first frames (`WholeRunVideoTiming`, as every chunk's rungs compute it)
/// plus the AAC priming. The reorder delay is read from an encoder opened with the first
/// rung's settings and never fed.
struct AudioTaskRun {
    let pipeline: TranscodePipeline
    let input: InputFile
    let info: MediaInfo
    let renditions: [Rendition]
    let output: OutputDirectory
    let plan: ChunkPlan
    /// What of the source's audio was left out (`TranscodeResult.notes`).
    let notes: [String]
    let audioTracks: [AudioTrack]
    /// The source once more, for the loudness measurement.
    let source: any ByteSource
    let started: ContinuousClock.Instant

    func run() throws -> TranscodeResult {
        let options = pipeline.options
        // The video decoder is opened for its time base alone, and never fed: one thread.
        var unfedVideo = options
        unfedVideo.decoderThreads = 1
        let (videoStream, decoder, audio, alternates) = try TranscodePipeline.openDecoders(input, info: info, options: unfedVideo,
                                                                                          tracks: audioTracks)
        let frameRate = try FrameRate.choose(videoStream)
        let videoTimeBase = try TimeBase(videoStream.pointee.time_base).rational
        let chains = [audio].compactMap { $0 } + alternates
        let shift = TimelineShift(rungs: 0)
        if let primary = audio {
            shift.set(try rungsShift(videoTimeBase: videoTimeBase, frameRate: frameRate.rational, audio: primary.encoder))
        }
        let loudness = pipeline.startLoudnessPass(source: source, name: input.path, chains: chains, durationSeconds: info.durationSeconds)
        defer { loudness?.pass.stopAndJoin() }
        pipeline.progress.begin(framesTotal: 0, renditions: [], sourceDuration: info.video.durationSeconds ?? info.durationSeconds)
        var encoded: Encoded?
        var declined: String?
        if let spans = spansIfSplittable(chains) {
            do {
                encoded = try encodeInSpans(spans, chains: chains, loudness: loudness, videoTimeBase: videoTimeBase, shift: shift)
            } catch let reason as AudioSpans.NotSplittable {
                declined = reason.description
            }
        }
        let result = try encoded ?? encodeWhole(input: input, decoder: decoder, chains: chains, primary: audio, alternates: alternates,
                                               loudness: loudness, frameRate: frameRate, videoTimeBase: videoTimeBase, shift: shift,
                                               replacingSpans: declined != nil)
        let allNotes = notes + [loudness?.pass.note].compactMap { $0 } + result.notes
        let manifest = AudioTaskManifest(
            chunkCount: plan.chunks.count, segmentCount: plan.segmentStarts.count, segmentDuration: options.segmentDuration,
            timelineShift: shift.value ?? 0, tracks: result.tracks,
            loudness: result.loudness.isEmpty ? nil : result.loudness, notes: allNotes.isEmpty ? nil : allNotes,
            corruptPackets: result.corruptPackets, spans: result.spans > 1 ? result.spans : nil, spansDeclined: declined)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try output.writeAtomically(String(decoding: try encoder.encode(manifest), as: UTF8.self), to: AudioTaskManifest.fileName)
        pipeline.progress.stage(.done)
        let duration = result.tracks.first.map { $0.segments.reduce(0) { $0 + $1.duration } } ?? 0
        return TranscodeResult(
            masterPlaylist: output.path + "/" + AudioTaskManifest.fileName, durationSeconds: duration, sourceFrames: 0,
            hasAudio: !chains.isEmpty, segmentFormat: options.segmentFormat, renditions: [], poster: nil,
            wallSeconds: (ContinuousClock.now - started) / .seconds(1), corruptPackets: result.corruptPackets,
            chunkManifest: AudioTaskManifest.fileName, notes: allNotes.isEmpty ? nil : allNotes,
            audioTracks: chains.isEmpty ? nil : chains.map(\.track), loudness: result.loudness.isEmpty ? nil : result.loudness)
    }

    /// What the task encoded, one way or the other.
    struct Encoded {
        var tracks: [ChunkManifest.Audio]
        var loudness: [Loudness.Track]
        var notes: [String]
        var corruptPackets: Int
        /// How many spans each track was encoded in (1: one encoder, from the start).
        var spans: Int
    }

    /// Every track from the source's start by one encoder each, as the decode stage runs them.
    /// `replacingSpans`: spans were abandoned, and may have reported some of the same names.
    private func encodeWhole(input: InputFile, decoder: Decoder, chains: [AudioEncodingChain], primary audio: AudioEncodingChain?,
                             alternates: [AudioEncodingChain], loudness: (pass: LoudnessPass, target: Double, hold: LoudnessPass.Hold)?,
                             frameRate: FrameRate, videoTimeBase: AVRational, shift: TimelineShift,
                             replacingSpans: Bool) throws -> Encoded {
        let options = pipeline.options
        let cancellation = pipeline.cancellation
        // Publishing as it goes (a service's), it reports each segment once closed: the
        // service stores it and extends the audio's EVENT playlists. No playlist is its own.
        // After abandoned spans, each report says it replaces: the spans' files of the same
        // names had their timing (a jump, a damaged packet) placed otherwise, and a store
        // that kept them would mix two encodes.
        let publish = pipeline.publish
        let replacing: @Sendable (Publication) -> Void = { publication in
            guard case .segment(var segment) = publication else { return publish(publication) }
            segment.replaces = true
            publish(.segment(segment))
        }
        let reports = options.progressive ? (replacingSpans ? replacing : publish) : nil
        let workers = try chains.map {
            try pipeline.audioWorker(for: $0, output: output, videoTimeBase: videoTimeBase, shift: shift, progressive: nil,
                                     reports: reports)
        }
        let decode = DecodeStage(input: input, info: info, video: decoder, audio: audio, queues: workers.prefix(audio == nil ? 0 : 1).map(\.queue),
                                 frameRate: frameRate, segmentDuration: options.segmentDuration,
                                 maxDurationSeconds: options.maxDurationSeconds, poster: nil, chunk: (plan, plan.chunks[0]),
                                 cutQueue: audio == nil ? nil : workers.first?.queue,
                                 alternateAudio: zip(alternates, workers.dropFirst(audio == nil ? 0 : 1)).map { ($0, $1.queue) },
                                 loudness: loudness, keepsAudioPastVideo: true, audioTask: true, cancellation: cancellation)
        try TranscodePipeline.runStages(decode: decode, workers: [], audio: workers,
                                        plan: ThreadPlan.make(for: [], cores: 1, encoderThreads: nil, prioritizeLargestRung: false),
                                        cancellation: cancellation, decoded: { loudness?.pass.begin() })
        return Encoded(
            tracks: zip(chains, workers).map { chain, worker in
                ChunkManifest.Audio(channels: Int(chain.encoder.context.pointee.ch_layout.nb_channels),
                                    sampleRate: Int(chain.encoder.context.pointee.sample_rate),
                                    timescale: worker.timescale, segments: worker.segments, track: chain.track)
            },
            loudness: decode.loudnessTracks, notes: decode.loudnessNotes, corruptPackets: decode.corruptPackets, spans: 1)
    }

    /// The shift every rung of every chunk applies (`SegmentedMuxer.write`): the whole run's
    /// first packet's `pts - dts`, from the plan, plus the AAC priming.
    private func rungsShift(videoTimeBase: AVRational, frameRate: AVRational, audio: Encoder) throws -> Double {
        guard let rung = renditions.first else { throw TranscodeError.Reason.chunking("the ladder has no rung") }
        let reorderDelay = try VideoEncoderSettings(rendition: rung, timeBase: videoTimeBase, frameRate: frameRate,
                                                    options: pipeline.options, threads: 1,
                                                    constantFrameRate: !info.video.isVariableFrameRate)
            .makeEncoder().reorderDelay
        let timing = WholeRunVideoTiming(plan: plan, chunk: plan.chunks[0], secondsPerTick: videoTimeBase.doubleValue)
        guard let delay = timing.firstPacketDelay(reorderDelay: reorderDelay) else {
            throw TranscodeError.Reason.chunking("the video is too short for its audio to be encoded apart")
        }
        let priming = Double(audio.context.pointee.initial_padding) / Double(max(audio.context.pointee.sample_rate, 1))
        return max(0, Double(delay) * videoTimeBase.doubleValue) + priming
    }
}
