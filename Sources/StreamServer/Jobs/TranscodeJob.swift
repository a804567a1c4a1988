import Foundation
import HLSEngine
import Logging
import Synchronization

/// One attempt at one video's transcode, the same on every kind of worker:
///
///     read the source → run the engine → store every object, the master last
///     → set READY (a conditional update) → delete the original → publish `ready`
///
/// Fetching, transcoding and storing overlap: local storage's upload is read in place;
/// an S3 upload through a `StreamingSource`, which the engine reads while it is fetched;
/// and a progressive job stores each segment as it completes.
///
/// It decides nothing about retries: it reports a `JobOutcome`, and the queue's
/// `RetryPolicy` says what happens next. Cancelling the task that runs it stops the
/// engine within a second (and, if the video was deleted, removes what it stored).
///
/// Idempotent by construction, so a redelivered job is harmless:
/// - output keys are fixed per video (`hlsPrefix`), so a second attempt overwrites;
/// - the manifest (`vstream.json`) and then the master playlist are stored last, so a
///   master in storage means a complete ladder. A redelivery that finds them (the worker
///   died between storing and READY) sets READY from the manifest without transcoding;
/// - READY is set by an update conditional on PROCESSING: only one attempt wins;
/// - the original is deleted only after READY is committed.
public struct TranscodeJob: Sendable {
    /// Where the engine runs.
    public enum EngineHost: Sendable {
        /// In this process: for apps and tests that embed the service. A trap in the
        /// engine is a trap here.
        case inProcess(maxDurationSeconds: Double?)
        /// In a supervised child process (`vstream serve` and `vstream worker`).
        case childProcess(SupervisedTranscoder)
    }

    let storage: any ObjectStorage
    let store: any MetadataStore
    let publisher: any ProgressPublisher
    let scratch: URL
    let playbackBase: String
    let engine: EngineHost
    /// Attempts a video gets, counted in its row across restarts (`VSTREAM_MAX_ATTEMPTS`).
    let maxAttempts: Int
    /// Publish while transcoding (`VSTREAM_PROGRESSIVE`, on): segments are stored as they
    /// complete and the video plays from `live.m3u8` before it is READY.
    let progressive: Bool
    /// The rung of `download.mp4` (`VSTREAM_MP4_RENDITION`, 720); nil: none.
    let downloadRung: Int?
    /// A DASH ladder and `manifest.mpd` (`VSTREAM_DASH`, on).
    let dash: Bool
    let logger: Logger

    public init(storage: any ObjectStorage, store: any MetadataStore, publisher: any ProgressPublisher, scratch: URL,
                playbackBase: String, engine: EngineHost = .inProcess(maxDurationSeconds: nil), maxAttempts: Int = 3,
                progressive: Bool = true, downloadRung: Int? = 720, dash: Bool = true,
                logger: Logger = Logger(label: "vstream.job")) {
        self.engine = engine
        self.dash = dash
        self.downloadRung = downloadRung
        self.progressive = progressive
        self.maxAttempts = max(1, maxAttempts)
        self.storage = storage
        self.store = store
        self.publisher = publisher
        self.scratch = scratch
        self.playbackBase = playbackBase
        self.logger = logger
    }

    static let manifestName = "vstream.json"

    public func run(_ id: UUID, attempt: Int = 1) async -> JobOutcome {
        var logger = self.logger
        logger[metadataKey: "video"] = "\(id.uuidString.lowercased())"
        logger[metadataKey: "attempt"] = "\(attempt)"
        let record: VideoRecord
        switch await start(id, countingAttempt: true, logger: logger) {
        case .proceed(let found): record = found
        case .stop(let outcome): return outcome
        }
        return await runWhole(record, logger: logger)
    }

    /// Whether an attempt goes ahead: the video is PROCESSING (and, for a video's job,
    /// has attempts left).
    enum Start {
        case proceed(VideoRecord)
        case stop(JobOutcome)
    }

    func start(_ id: UUID, countingAttempt: Bool, logger: Logger) async -> Start {
        do {
            guard let found = try await store.video(id), found.status == .processing else {
                logger.info("job skipped: the video is gone or not PROCESSING")
                return .stop(.skipped)
            }
            guard countingAttempt else { return .proceed(found) }
            // Counted before the attempt runs: an attempt that takes the process down
            // (before supervision, or a crash of the server itself) still counts.
            let attempts = try await store.recordAttempt(id)
            if attempts > maxAttempts {
                logger.warning("attempts exhausted", metadata: ["attempts": "\(attempts - 1)"])
                return .stop(.rejected(reason: "the transcode did not finish after \(maxAttempts) attempts"))
            }
            return .proceed(found)
        } catch {
            logger.warning("metadata unavailable", metadata: ["error": "\(error)"])
            return .stop(.failed(reason: "the metadata store is unavailable"))
        }
    }

    /// The whole file in one engine run (or, if an earlier attempt stored everything,
    /// straight to READY).
    func runWhole(_ record: VideoRecord, logger: Logger) async -> JobOutcome {
        let work = scratch.appendingPathComponent(Housekeeping.scratchName(for: record.id))
        defer { Housekeeping.removeScratch(work) }
        do {
            let result: TranscodeManifest
            if let stored = await storedManifest(record) {
                logger.info("outputs already stored by an earlier attempt: finishing without transcoding")
                result = stored
            } else {
                result = try await transcodeAndStore(record, work: work, logger: logger)
            }
            return try await finish(record, result, logger: logger)
        } catch {
            return await outcome(of: error, record: record, logger: logger)
        }
    }

    /// What an attempt that threw means for the queue.
    func outcome(of error: any Error, record: VideoRecord, logger: Logger) async -> JobOutcome {
        if error is CancellationError { return await cancelled(record, logger: logger) }
        if let error = error as? TranscodeError {
            if error.reason == .cancelled { return await cancelled(record, logger: logger) }
            if error.isBadMedia {
                logger.warning("bad media", metadata: ["error": "\(error.reason)"])
                return .rejected(reason: error.reason.userMessage)
            }
        }
        if Task.isCancelled { return await cancelled(record, logger: logger) }
        if let failure = error as? TranscoderMessage.Failure {
            // The supervised child's own words for the user; the detail (paths, stderr) is for the log.
            logger.warning(failure.isBadMedia ? "bad media" : "attempt failed", metadata: ["error": "\(failure.detail)"])
            return failure.isBadMedia ? .rejected(reason: failure.userMessage) : .failed(reason: failure.userMessage)
        }
        logger.warning("attempt failed", metadata: ["error": "\(error)"])
        // Users see a reason, not hosts, keys or paths.
        let reason = (error as? TranscodeError)?.reason.userMessage ?? "a storage or database error interrupted the transcode"
        return .failed(reason: reason)
    }

    /// The last attempt failed, or the media is bad: FAILED, with a readable reason. The
    /// original is kept for inspection; partial outputs are removed.
    public func markFailed(_ id: UUID, reason: String) async {
        var logger = self.logger
        logger[metadataKey: "video"] = "\(id.uuidString.lowercased())"
        guard var record = try? await store.video(id) else { return }
        var lifecycle = VideoLifecycle(status: record.status)
        guard let actions = try? lifecycle.transcodeFailed(reason, final: true) else { return }
        for action in actions {
            switch action {
            case .persist:
                record.status = .failed
                record.error = reason
                guard (try? await store.update(record, expected: .processing)) == true else { return }
                logger.notice("state change", metadata: ["status": "FAILED", "error": "\(reason)"])
            case .publishFinal:
                await publisher.publish(id) { VideoEvent(id: $0, kind: .failed, status: .failed, percent: 0, error: reason) }
            case .enqueueTranscode, .completeMultipartUpload, .deleteOriginal, .abortUpload, .removeRow, .resetAttempts:
                continue  // not actions of a final failure
            }
        }
        try? await storage.deletePrefix(record.hlsPrefix)
    }

    // MARK: Steps

    func transcodeAndStore(_ record: VideoRecord, work: URL, logger: Logger) async throws -> TranscodeManifest {
        let id = record.id
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let source = try await openSource(record, work: work)
        defer { if case .streaming(let streaming) = source { streaming.cancel() } }
        try Task.checkCancellation()

        let output = work.appendingPathComponent("hls")
        let live = LiveState()
        let publisher = self.publisher
        let liveURL = "\(playbackBase)/\(record.hlsPrefix)/\(ProgressiveLadder.masterName)"
        let announce: @Sendable () async -> Void = {
            let percent = live.playable(at: liveURL)
            await publisher.publish(id) { VideoEvent(id: $0, kind: .playable, status: .processing, stage: "transcoding",
                                                     percent: percent, playbackUrl: liveURL) }
        }
        var progressive: ProgressiveStore?
        if self.progressive {
            // What an earlier attempt stored: its segments are kept, its playlists continued.
            let existing = Set((try? await storage.keys(under: record.hlsPrefix)) ?? [])
            let store = await ProgressiveStore(storage: storage, prefix: record.hlsPrefix, work: output,
                                               segmentDuration: TranscodeOptions().segmentDuration,
                                               existing: existing, logger: logger, onPlayable: announce)
            if await store.wasPlayable { await announce() }
            progressive = store
        }
        let started = ContinuousClock.now
        var options = TranscodeOptions()
        options.progressive = progressive != nil
        options.downloadRung = downloadRung
        options.dash = dash
        let result = try await runEngine(source: source, output: output.path, options: options, progressive: progressive,
                                         onEvent: { event in
                                             live.progressed(to: event.percent)
                                             let url = live.url
                                             await publisher.publish(id) { VideoEvent(transcoding: event, sequence: $0, playbackUrl: url) }
                                         })
        let seconds = (ContinuousClock.now - started) / .seconds(1)
        JobMetrics.recordTranscode(result, seconds: seconds)
        logger.info("transcoded", metadata: ["seconds": "\(String(format: "%.2f", seconds))", "frames": "\(result.sourceFrames)"])
        for note in result.notes ?? [] { logger.notice("source partly left out", metadata: ["note": "\(note)"]) }

        await publishProgress(id, stage: "uploading", percent: 99.9, playbackUrl: live.url)
        let manifest = TranscodeManifest(result)
        try JSONEncoder().encode(manifest).write(to: output.appendingPathComponent(Self.manifestName))
        let published = Self.stillCurrent(await progressive?.stored ?? [], prefix: record.hlsPrefix, result: result)
        try await storeOutputs(from: output, prefix: record.hlsPrefix, skipping: published)
        Failpoint.hit(.afterOutputsStored)
        return manifest
    }

    /// What of `stored` (the keys published while it transcoded) the engine has not replaced
    /// since: the audio it published at the source's level and then normalised
    /// (`TranscodeResult.republishedAudio`) is stored again.
    static func stillCurrent(_ stored: Set<String>, prefix: String, result: TranscodeResult) -> Set<String> {
        let replaced = (result.republishedAudio ?? []).map { "\(prefix)/\($0)/" }
        guard !replaced.isEmpty else { return stored }
        return stored.filter { key in !replaced.contains { key.hasPrefix($0) } }
    }

    /// Where the engine reads the upload.
    enum Source {
        /// Local storage: the object itself, read in place.
        case file(String)
        /// Object storage: read while it is fetched.
        case streaming(StreamingSource)

        /// The engine's name for it (a path, or the scratch file the fetch fills).
        var name: String {
            switch self {
            case .file(let path): path
            case .streaming: "upload"
            }
        }
    }

    func openSource(_ record: VideoRecord, work: URL) async throws -> Source {
        if let path = try storage.localPath(key: record.sourceKey) { return .file(path) }
        guard let size = try await storage.size(key: record.sourceKey) else { throw StorageError.noSuchKey(record.sourceKey) }
        let streaming = try StreamingSource(storage: storage, key: record.sourceKey, size: size,
                                            scratch: work.appendingPathComponent("source"))
        streaming.start()
        return .streaming(streaming)
    }

    /// Runs the engine where `engine` says, with `options`, handing its `.transcoding`
    /// events to `onEvent` (the latest one, never a backlog) and, for a progressive job,
    /// its segments to `progressive` in order.
    /// - Parameter publications: what else takes the engine's publications, in order (the
    ///   audio task's store).
    func runEngine(source: Source, output: String, options: TranscodeOptions, progressive: ProgressiveStore?,
                   publications onPublication: (@Sendable (Publication) async -> Void)? = nil,
                   onEvent: @escaping @Sendable (TranscodeEvent) async -> Void) async throws -> TranscodeResult {
        let (events, sink) = AsyncStream.makeStream(of: TranscodeEvent.self, bufferingPolicy: .bufferingNewest(1))
        let (publications, publicationSink) = AsyncStream.makeStream(of: Publication.self, bufferingPolicy: .unbounded)
        let follower = Task {
            for await event in events where event.stage == .transcoding { await onEvent(event) }
        }
        // In the engine's order (a segment before the playlist naming it), several
        // segments at once (ProgressiveStore.publishAll).
        let storing = Task {
            if let progressive {
                await progressive.publishAll(publications, alsoTo: onPublication)
            } else {
                for await publication in publications { await onPublication?(publication) }
            }
        }
        defer {
            follower.cancel()
            storing.cancel()
        }
        let result: TranscodeResult
        var options = options
        switch engine {
        case .inProcess(let maxDuration):
            options.maxDurationSeconds = maxDuration
            let transcoder = switch source {
            case .file(let path): Transcoder(input: path, output: output, options: options)
            case .streaming(let streaming): Transcoder(source: streaming, name: source.name, output: output, options: options)
            }
            let forwarder = Task { for await event in transcoder.events { sink.yield(event) } }
            let relay = Task { for await publication in transcoder.publications { publicationSink.yield(publication) } }
            defer {
                forwarder.cancel()
                relay.cancel()
            }
            result = try await transcoder.run()
            await forwarder.value
            await relay.value
        case .childProcess(let supervisor):
            var relayed: StreamingSource?
            if case .streaming(let streaming) = source { relayed = streaming }
            result = try await supervisor.run(input: source.name, output: output, options: options, relaying: relayed,
                                              onEvent: { sink.yield($0) }, onPublication: { publicationSink.yield($0) })
        }
        sink.finish()
        publicationSink.finish()
        await follower.value
        await storing.value
        return result
    }

    /// READY (conditional on PROCESSING), then the original's deletion, then the event.
    func finish(_ record: VideoRecord, _ manifest: TranscodeManifest, logger: Logger) async throws -> JobOutcome {
        var record = record
        var lifecycle = VideoLifecycle(status: record.status)
        for action in try lifecycle.transcodeSucceeded() {
            switch action {
            case .persist:
                record.status = .ready
                record.durationSeconds = manifest.durationSeconds
                record.width = manifest.width
                record.height = manifest.height
                record.renditions = manifest.renditions
                record.outputs = VideoOutputs(storyboard: manifest.storyboard, download: manifest.download, dash: manifest.dash,
                                              captions: manifest.captions, timelineShift: manifest.timelineShift,
                                              audioTracks: manifest.audioTracks, loudness: manifest.loudness)
                guard try await store.update(record, expected: .processing) else {
                    logger.info("READY not set: the video was deleted or finished elsewhere")
                    // Deleted while this attempt stored its outputs: they are orphans now.
                    if try await store.video(record.id) == nil { try? await storage.deletePrefix(record.hlsPrefix) }
                    return .skipped
                }
                logger.notice("state change", metadata: ["status": "READY"])
            case .deleteOriginal:
                try? await storage.delete(key: record.sourceKey)
                logger.info("original deleted", metadata: ["key": "\(record.sourceKey)"])
            case .publishFinal:
                let url = "\(playbackBase)/\(record.hlsPrefix)/master.m3u8"
                let dashURL = manifest.dash.map { "\(playbackBase)/\(record.hlsPrefix)/\($0)" }
                await publisher.publish(record.id) {
                    VideoEvent(id: $0, kind: .ready, status: .ready, percent: 100, playbackUrl: url, dashUrl: dashURL)
                }
            case .enqueueTranscode, .completeMultipartUpload, .abortUpload, .removeRow, .resetAttempts:
                continue  // not actions of a success
            }
        }
        return .succeeded
    }

    /// Stopped on purpose. If the video was deleted, remove whatever this attempt stored
    /// after the deletion. Otherwise leave the objects alone: the job continues elsewhere
    /// (a shutdown hands it back; a lost claim means another worker owns it and may be
    /// writing the same keys), and the next attempt overwrites them.
    func cancelled(_ record: VideoRecord, logger: Logger) async -> JobOutcome {
        do {
            if try await store.video(record.id) == nil {
                try? await storage.deletePrefix(record.hlsPrefix)
                logger.info("attempt stopped; the video was deleted, partial outputs removed")
                return .cancelled
            }
        } catch {
            // Unknown: keeping objects is always safe; deleting another attempt's is not.
        }
        logger.info("attempt stopped")
        return .cancelled
    }

    /// A manifest and a master already in storage: an earlier attempt stored everything.
    func storedManifest(_ record: VideoRecord) async -> TranscodeManifest? {
        guard let master = try? await storage.data(key: "\(record.hlsPrefix)/master.m3u8"), !master.isEmpty,
              let data = try? await storage.data(key: "\(record.hlsPrefix)/\(Self.manifestName)") else { return nil }
        return try? JSONDecoder().decode(TranscodeManifest.self, from: data)
    }

    func publishProgress(_ id: UUID, stage: String, percent: Double, playbackUrl: String? = nil) async {
        await publisher.publish(id) {
            VideoEvent(id: $0, kind: .progress, status: .processing, stage: stage, percent: percent, playbackUrl: playbackUrl)
        }
    }

    /// Every file under `directory`, with its Content-Type, in an order that never lets a
    /// playlist name an object not stored yet: media first (but what `skipping` says is
    /// stored already), then the finished EVENT playlists and the early master, then the
    /// VOD playlists, the manifest, and the master last, so their presence in storage
    /// means a complete ladder.
    func storeOutputs(from directory: URL, prefix: String, skipping stored: Set<String> = []) async throws {
        guard let enumerator = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: [.isRegularFileKey]) else { return }
        var files: [String] = []
        for case let url as URL in enumerator where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
            files.append(String(url.path.dropFirst(directory.path.count + 1)))
        }
        func rank(_ path: String) -> Int {
            if path == "master.m3u8" { return 5 }
            if path == Self.manifestName { return 4 }
            if path.hasSuffix(".m3u8"), path != ProgressiveLadder.masterName, !path.hasSuffix("/" + ProgressiveLadder.playlistName) { return 3 }
            if path == Storyboard.indexName || path == DASHManifest.fileName { return 3 }  // after the files they name
            if path == ProgressiveLadder.masterName { return 2 }
            if path.hasSuffix("/" + ProgressiveLadder.playlistName) { return 1 }
            return 0
        }
        // Rank by rank (a playlist after the segments it names, the master last); within a
        // rank, several at once (`ObjectStorage+Batches`).
        for level in Set(files.map(rank)).sorted() {
            try Task.checkCancellation()
            let batch = files.filter { rank($0) == level && !(level == 0 && stored.contains("\(prefix)/\($0)")) }.sorted()
            try await storage.put(batch.map { (directory.appendingPathComponent($0), "\(prefix)/\($0)") })
        }
    }
}

/// The progressive state a job's tasks share: the URL once the video is playable, and the
/// latest percent, so the `playable` event keeps progress monotonic.
final class LiveState: Sendable {
    private let state = Mutex<(url: String?, percent: Double)>((nil, 0))

    var url: String? { state.withLock { $0.url } }

    func progressed(to percent: Double) { state.withLock { $0.percent = max($0.percent, percent) } }

    /// Marks the video playable at `url`; returns the percent to announce it with.
    func playable(at url: String) -> Double {
        state.withLock { state in
            state.url = url
            return state.percent
        }
    }
}

/// What READY needs from a finished transcode, stored beside the outputs so a
/// redelivered job can commit READY without transcoding again.
struct TranscodeManifest: Codable, Sendable, Equatable {
    var durationSeconds: Double
    var frameCount: Int
    var renditions: [RenditionSummary]
    /// `storyboard.vtt` and `download.mp4` when the engine wrote them (absent from
    /// manifests of older versions).
    var storyboard: String?
    var download: TranscodeResult.Download?
    /// `manifest.mpd` for a DASH ladder.
    var dash: String?
    /// The caption tracks (absent from manifests of older versions).
    var captions: [TranscodeResult.Caption]?
    /// `TranscodeResult.timelineShift`, for captions added later (absent from older manifests).
    var timelineShift: Double?
    /// `TranscodeResult.audioTracks` (absent from older manifests).
    var audioTracks: [AudioTrack]?
    var loudness: [Loudness.Track]?

    init(_ result: TranscodeResult) {
        captions = result.captions
        timelineShift = result.timelineShift
        audioTracks = result.audioTracks
        loudness = result.loudness
        storyboard = result.storyboard
        download = result.download
        dash = result.dashManifest
        durationSeconds = result.durationSeconds
        frameCount = result.sourceFrames
        renditions = RenditionSummary.of(result)
    }

    var width: Int? { renditions.last?.width }
    var height: Int? { renditions.last?.height }
}

extension TranscodeJob {
    /// The job as `serve` and `worker` configure it: one place turns the configuration
    /// into the engine's settings.
    init(configuration: ServerConfiguration, storage: any ObjectStorage, store: any MetadataStore,
         publisher: any ProgressPublisher, scratch: URL, playbackBase: String, logger: Logger) {
        self.init(storage: storage, store: store, publisher: publisher, scratch: scratch, playbackBase: playbackBase,
                  engine: configuration.engineHost, maxAttempts: configuration.worker.policy.maxAttempts,
                  progressive: configuration.progressive, downloadRung: configuration.downloadRung,
                  dash: configuration.dash, logger: logger)
    }
}
