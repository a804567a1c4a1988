import CAV
import Foundation

/// Loudness normalisation for a run that publishes as it goes (`TranscodeOptions.progressive`)
/// with its audio in renditions of its own. The gain needs a measurement of the whole
/// source, and the first segment must not wait for that read, so the audio is encoded twice:
///
/// - The decode stage encodes each track at the source's level, and the early ladder
///   publishes it at once: a viewer who starts while it transcodes hears the upload as it is.
/// - `LoudnessPass`, once it has measured, reads the source once more on its own thread and
///   encodes each track again with its gain (`encode`), into a staging folder. These
///   renditions take the video's cuts from the decode stage (`segmentStarts`, `videoEnded`),
///   so they cut where the early ones did, and their packets are placed by the same
///   `AudioEncodingChain`. An audio-only encode outruns the video, so it waits when it is
///   `maxLeadSeconds` ahead: what waits to be cut stays a few hundred KiB per track.
/// - After the run, `adopt` checks each track's segments against the early ones (names,
///   `tfdt`, durations) and moves the files over them: the finished ladder (playlists, MPD,
///   `download.mp4`) is normalised. The result names the folders it replaced
///   (`TranscodeResult.republishedAudio`), so a service that stored the early files stores
///   them again.
///
/// The second encode costs about 1.3 s of CPU per minute per track (docs/performance.md),
/// and runs beside the video: it ends soon after the video does.
final class NormalisedAudio: @unchecked Sendable {
    // @unchecked: `outcome` is guarded by `lock`; the workers are thread-safe by their queues.
    private struct Track {
        let folder: String
        let streamIndex: Int32
        let worker: AudioRenditionWorker
        let staging: String
    }

    /// What the measurement said of one track, and whether its normalised encode ran to its end.
    private struct Outcome {
        var measured: Loudness.Measurement?
        var gain: Double
        var encoded = false
    }

    private let tracks: [Track]
    private let target: Double
    private let bitrate: Int
    private let format: SegmentFormat
    /// Where the decode stage stops keeping audio (`--max-duration`): the same here.
    private let audioReference: Double
    private let lock = NSLock()
    private var outcome: [Int32: Outcome] = [:]
    private var failure: String?
    /// How far the decode stage's video has come: the latest segment start, or the end.
    private let frontier = NSCondition()
    private var videoReached = -Double.infinity
    private var videoDone = false
    /// Seconds of audio the second encode may run ahead of the video.
    static let maxLeadSeconds = 30.0

    /// The staging folder of `folder`'s normalised segments (the output directory creates
    /// and, on failure, removes it).
    static func stagingFolder(_ folder: String) -> String { folder + ".normalised" }

    /// - Parameter chains: the decode stage's chains; only their track and encoder
    ///   parameters are read here, on the pipeline thread.
    init(chains: [AudioEncodingChain], output: OutputDirectory, options: TranscodeOptions, target: Double,
         videoTimeBase: AVRational, shift: TimelineShift, cancellation: CancellationFlag) throws {
        self.target = target
        bitrate = options.audioBitrate
        format = options.segmentFormat
        audioReference = DecodeStage.audioAloneReference(maxDurationSeconds: options.maxDurationSeconds)
        tracks = try chains.map { chain in
            let staging = output.directory(for: Self.stagingFolder(chain.track.folder))
            let worker = try AudioRenditionWorker(name: chain.track.folder, audio: chain.encoder, videoTimeBase: videoTimeBase,
                                                  directory: staging, format: options.segmentFormat,
                                                  segmentDuration: options.segmentDuration, queueDepth: options.queueDepth,
                                                  shift: shift, progressive: nil, cancellation: cancellation)
            return Track(folder: chain.track.folder, streamIndex: chain.streamIndex, worker: worker, staging: staging)
        }
    }

    var workers: [AudioRenditionWorker] { tracks.map(\.worker) }

    // MARK: The video's cuts, from the decode stage

    /// A segment starts at `time` (seconds on the output timeline). Never waits: a few
    /// elements per segment, and the encode may have filled the queues.
    func segmentStarts(at time: Double) {
        for track in tracks { track.worker.queue.pushWithoutWaiting(.cut(time: time, startsSegment: true)) }
        frontier.lock()
        videoReached = max(videoReached, time)
        frontier.broadcast()
        frontier.unlock()
    }

    /// The video has ended, its last frame at `lastFrame`: its cutters keep what audio
    /// follows in the last segment, up to their tail, and cut the rest alone.
    func videoEnded(lastFrame: Double?) {
        for track in tracks {
            if let lastFrame { track.worker.queue.pushWithoutWaiting(.cut(time: lastFrame, startsSegment: false)) }
            track.worker.queue.pushWithoutWaiting(.end)
        }
        frontier.lock()
        videoDone = true
        frontier.broadcast()
        frontier.unlock()
    }

    /// Waits until the video has come within `maxLeadSeconds` of `time`, or ended. Audio
    /// past the video's end is kept (its renditions cut it alone), so it never stops early.
    private func waitForVideo(_ time: Double, stop: CancellationFlag) throws {
        frontier.lock()
        defer { frontier.unlock() }
        while !videoDone && time > videoReached + Self.maxLeadSeconds {
            if stop.isCancelled { throw TranscodeError.Reason.cancelled }
            _ = frontier.wait(until: Date().addingTimeInterval(0.1))
        }
    }

    // MARK: The second encode, on the measurement's thread

    /// Encodes every track that needs a gain, over `reader` (the measurement's own read of
    /// the source). Never throws: a track it cannot encode keeps the early encode, with a
    /// note. Every rendition gets its `.audioEnd`, so the run never waits for it in vain.
    func encode(measurements: [Int: Loudness.Measurement]?, reader: any ByteSource, name: String, stop: CancellationFlag) {
        defer { for track in tracks { _ = track.worker.queue.push(.audioEnd, cost: 0) } }
        guard let measurements else { return }  // the pass's own note says why
        lock.lock()
        for track in tracks {
            let measured = measurements[Int(track.streamIndex)]
            outcome[track.streamIndex] = Outcome(measured: measured, gain: measured.map { Loudness.gain(for: $0, target: target) } ?? 0)
        }
        let gains = outcome
        lock.unlock()
        // A silent track, or one already at the target, keeps the early encode.
        let wanted = tracks.filter { abs(gains[$0.streamIndex]?.gain ?? 0) >= 0.01 }
        guard !wanted.isEmpty else { return }
        do {
            let done = try encode(wanted, gains: gains, reader: reader, name: name, stop: stop)
            lock.lock()
            for index in done { outcome[index]?.encoded = true }
            lock.unlock()
        } catch {
            lock.lock()
            failure = "\(error)"
            lock.unlock()
        }
    }

    private func encode(_ wanted: [Track], gains: [Int32: Outcome], reader: any ByteSource, name: String,
                        stop: CancellationFlag) throws -> [Int32] {
        let input = try MediaProbe.open(reader, name: name, cancellation: stop)
        var chains: [Int32: (encoder: AudioTrackEncoder, emit: (Packet) throws -> Void)] = [:]
        for track in wanted {
            guard let stream = input.stream(track.streamIndex) else { continue }
            let chain = try AudioEncodingChain(stream: stream, startTime: input.context.pointee.start_time, bitrate: bitrate,
                                               maxPixels: SourceBounds.maxPixels)
            chain.gain = Float(pow(10, (gains[track.streamIndex]?.gain ?? 0) / 20))
            // The decode stage keeps every sample of a track in a rendition of its own, up to
            // `--max-duration`, as this encode does.
            let queue = track.worker.queue
            let rate = Double(chain.encoder.context.pointee.sample_rate)
            chains[track.streamIndex] = (AudioTrackEncoder(chain: chain, loudness: nil, onlyTrackMeasured: false, cancellation: stop),
                                         { [self] packet in
                                             // Once the video is near enough.
                                             try waitForVideo(Double(packet.pts) / max(rate, 1), stop: stop)
                                             queue.push(.audio(packet), cost: 0)
                                         })
        }
        for stream in input.streams where chains[stream.pointee.index] == nil { stream.pointee.discard = AVDISCARD_ALL }
        let packet = Packet()
        while try input.read(into: packet) {
            if stop.isCancelled { throw TranscodeError.Reason.cancelled }
            guard let (encoder, emit) = chains[packet.streamIndex] else { continue }
            try encoder.take(packet, videoTime: audioReference, emit: emit)
        }
        for (encoder, emit) in chains.values {
            try encoder.finish(videoTime: audioReference, emit: emit)
        }
        return Array(chains.keys)
    }

    // MARK: After the run

    /// What the finished ladder's audio is, once `adopt` has run.
    struct Adoption {
        /// Each track's segments, by folder: the normalised ones where they replaced the early ones.
        var segments: [String: [SegmentedMuxer.Segment]] = [:]
        var loudness: [Loudness.Track] = []
        /// Folders whose files changed after the early ladder published them.
        var replaced: [String] = []
        var notes: [String] = []
    }

    /// Moves each normalised track over the early one, where its segments line up (always,
    /// unless a damaged packet decoded differently); call once every stage has joined. The
    /// staging folders are gone afterwards.
    func adopt(_ early: [AudioRenditionWorker], output: OutputDirectory) throws -> Adoption {
        lock.lock()
        let outcome = self.outcome
        let failure = self.failure
        lock.unlock()
        var adoption = Adoption()
        defer { for track in tracks { try? FileManager.default.removeItem(atPath: track.staging) } }
        for (track, live) in zip(tracks, early) {
            let result = outcome[track.streamIndex]
            let normalised = track.worker.segments
            guard let result, result.encoded, Self.lineUp(normalised, live.segments, format: format) else {
                adoption.segments[track.folder] = live.segments
                adoption.loudness.append(Loudness.Track(folder: track.folder, source: result?.measured ?? .init(), gain: 0))
                if let result, abs(result.gain) >= 0.01 {
                    let why = failure.map { "the normalised encode failed (\($0))" }
                        ?? (result.encoded ? "the normalised encode did not line up with the published one" : "the run ended first")
                    adoption.notes.append("\(track.folder): loudness left as it is: \(why)")
                }
                continue
            }
            let folder = output.directory(for: track.folder)
            for file in [format.initializationName].compactMap({ $0 }) + normalised.map(\.fileName) {
                guard rename(track.staging + "/" + file, folder + "/" + file) == 0 else {
                    throw TranscodeError.Reason.io("cannot move the normalised \(track.folder)/\(file) into place: \(String(cString: strerror(errno)))")
                }
            }
            adoption.segments[track.folder] = normalised
            adoption.loudness.append(Loudness.Track(folder: track.folder, source: result.measured ?? .init(), gain: result.gain))
            adoption.replaced.append(track.folder)
        }
        return adoption
    }

    /// The same files at the same places on the timeline: names, and each fragment's `tfdt`
    /// and durations read back (fMP4), or the times the muxer gave its packets (TS, which has
    /// no fragment header to read).
    static func lineUp(_ normalised: [SegmentedMuxer.Segment], _ early: [SegmentedMuxer.Segment], format: SegmentFormat) -> Bool {
        guard !early.isEmpty, normalised.count == early.count else { return false }
        return zip(normalised, early).allSatisfy { new, old in
            guard new.fileName == old.fileName else { return false }
            switch format {
            case .fmp4: return new.timing != nil && new.timing == old.timing
            case .mpegts: return new.start != nil && new.start == old.start && new.end == old.end
            }
        }
    }
}
