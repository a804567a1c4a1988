import CAV
import Foundation

/// The audio task's tracks encoded in spans at once (`AudioSpans`), where the source allows.
extension AudioTaskRun {
    /// The spans of this task's audio, where it may be cut (`AudioSpans`); nil: one encoder.
    func spansIfSplittable(_ chains: [AudioEncodingChain]) -> [AudioSpans.Span]? {
        let options = pipeline.options
        guard !chains.isEmpty, options.segmentFormat == .fmp4, input.seeksToEverySample else { return nil }
        // A whole run stops placing samples past `--max-duration`; the spans would run on.
        if let limit = options.maxDurationSeconds,
           !(info.durationSeconds > 0 && info.durationSeconds + 10 < DecodeStage.audioAloneReference(maxDurationSeconds: limit)) {
            return nil
        }
        let spans = AudioSpans.spans(of: plan, seconds: options.audioSpanSeconds ?? AudioSpans.defaultSeconds)
        guard spans.count > 1 else { return nil }
        for chain in chains {
            guard let stream = input.stream(chain.streamIndex), AudioSpans.contiguousByIndex(stream) else { return nil }
        }
        return spans
    }

    /// Encodes every track's spans, span by span across the tracks (so the first segments
    /// of every track come first), on as many threads as the task has cores. Throws
    /// `AudioSpans.NotSplittable` when a span finds its track's timeline is not what the
    /// sample table said; what the spans wrote is gone then.
    func encodeInSpans(_ spans: [AudioSpans.Span], chains: [AudioEncodingChain],
                       loudness: (pass: LoudnessPass, target: Double, hold: LoudnessPass.Hold)?, videoTimeBase: AVRational,
                       shift: TimelineShift) throws -> Encoded {
        let options = pipeline.options
        // A span that fails stops the other spans, not the task: it may go on with one encoder.
        let cancellation = CancellationFlag(within: pipeline.cancellation)
        // Every span applies the track's one gain, so the whole measurement comes first (as
        // the one encoder waits for it too).
        var gains: [Int32: (measured: Loudness.Measurement?, decibels: Double)] = [:]
        if let loudness {
            guard let measurements = loudness.pass.wait() else { throw TranscodeError.Reason.cancelled }
            for chain in chains {
                let measured = measurements[Int(chain.streamIndex)]
                gains[chain.streamIndex] = (measured, measured.map { Loudness.gain(for: $0, target: loudness.target) } ?? 0)
            }
        }
        let anchors = try AudioSpans.anchors(of: chains, reading: source, name: input.path, cancellation: cancellation)
        let tracks = try chains.map { chain in
            guard let anchor = anchors[chain.streamIndex] else { throw AudioSpans.NotSplittable(description: "a track has no frame") }
            return AudioSpans.Track(streamIndex: chain.streamIndex, track: chain.track,
                                    gain: Float(pow(10, (gains[chain.streamIndex]?.decibels ?? 0) / 20)), anchor: anchor)
        }

        let staging = output.path + "/.spans"
        defer { try? FileManager.default.removeItem(atPath: staging) }
        let jobs = spans.flatMap { span in tracks.indices.map { (span: span, track: $0) } }
        let folders = try jobs.map { job in
            let folder = staging + "/\(job.track)-\(job.span.index)"
            // The reason stays out: Foundation's names the folder, an internal path.
            guard (try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)) != nil else {
                throw TranscodeError.Reason.io("cannot prepare the audio spans' folder")
            }
            return folder
        }
        let cores = options.cores ?? ProcessInfo.processInfo.activeProcessorCount
        let outcomes = PartsOnThreads.run(parts: jobs.count, threads: max(1, min(cores, AudioSpans.maximumThreads)), name: "audio-span",
                                          callerContext: source, helperContext: { source.concurrentReader() }) { index, reader in
            let job = jobs[index]
            return try AudioSpanEncode(span: job.span, track: tracks[job.track], name: input.path, options: options, videoTimeBase: videoTimeBase, shift: shift,
                                       folder: output.directory(for: tracks[job.track].track.folder), spanFolder: folders[index],
                                       reports: options.progressive ? pipeline.publish : nil, cancellation: cancellation)
                .run(reader)
        }
        do {
            return try merge(outcomes, jobs: jobs, folders: folders, tracks: tracks, spans: spans.count, gains: gains,
                             measured: loudness != nil)
        } catch let reason as AudioSpans.NotSplittable {
            // The one encoder writes every segment again; none of the spans' may be left.
            for track in tracks {
                let folder = output.directory(for: track.track.folder)
                for file in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
                    try? FileManager.default.removeItem(atPath: folder + "/" + file)
                }
            }
            throw reason
        }
    }

    /// Each track's segments in order, once every span has ended, and its `init.mp4` in
    /// place: every span's must be the same bytes (the same encoder settings), as the
    /// stitch requires of the chunks'.
    private func merge(_ outcomes: [Result<AudioSpanEncode.Outcome, any Error>?], jobs: [(span: AudioSpans.Span, track: Int)],
                       folders: [String], tracks: [AudioSpans.Track], spans: Int,
                       gains: [Int32: (measured: Loudness.Measurement?, decibels: Double)], measured: Bool) throws -> Encoded {
        // The first span to fail stopped the others, which then fail as cancelled: its
        // reason is the one to give.
        for case .failure(let reason as AudioSpans.NotSplittable)? in outcomes { throw reason }
        for case .failure(let error)? in outcomes where (error as? TranscodeError.Reason) != .cancelled { throw error }
        for case .failure(let error)? in outcomes { throw error }
        let done = try outcomes.map { outcome in
            guard let outcome else { throw TranscodeError.Reason.cancelled }
            return try outcome.get()
        }
        var audio: [ChunkManifest.Audio] = []
        for (position, track) in tracks.enumerated() {
            let mine = jobs.indices.filter { jobs[$0].track == position }
            guard let first = mine.first else { continue }
            let initialization = FileManager.default.contents(atPath: folders[first] + "/init.mp4")
            for index in mine where FileManager.default.contents(atPath: folders[index] + "/init.mp4") != initialization {
                throw AudioSpans.NotSplittable(description: "the spans of \(track.track.folder) wrote different init.mp4")
            }
            let target = output.directory(for: track.track.folder) + "/init.mp4"
            guard rename(folders[first] + "/init.mp4", target) == 0 else {
                throw TranscodeError.Reason.io("cannot move \(track.track.folder)/init.mp4 into place: \(String(cString: strerror(errno)))")
            }
            let outcome = done[first]
            audio.append(ChunkManifest.Audio(channels: outcome.channels, sampleRate: outcome.sampleRate, timescale: outcome.timescale,
                                             segments: mine.flatMap { done[$0].segments }, track: track.track))
        }
        let loudness = measured ? tracks.map { track in
            Loudness.Track(folder: track.track.folder, source: gains[track.streamIndex]?.measured ?? .init(),
                           gain: gains[track.streamIndex]?.decibels ?? 0)
        } : []
        return Encoded(tracks: audio, loudness: loudness, notes: [], corruptPackets: 0, spans: spans)
    }
}
