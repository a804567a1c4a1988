import Foundation
import HLSEngine
import Logging
import Synchronization

/// Split and stitch across workers (`VSTREAM_CHUNK_SECONDS`): one video's tasks on the
/// shared jobs stream (`JobTask`), each run in the supervised engine like a whole job.
///
///     video (coordinator)  chunk 0, progressively, with a preview of its segments' audio,
///                          so the video plays as soon as a whole run's would; once the
///                          engine has planned the chunks (its first progress event), the
///                          audio task and chunks 1..<n are queued for any worker
///     audio                the whole file's audio, once (ChunkTasks+Audio)
///     chunk k              its segments at their final keys, its chunk.json, init.mp4s,
///                          poster and storyboard tiles under `.chunks/k/`
///     stitch               queued by whichever task finishes last: the playlists, master,
///                          MPD, storyboard sheets and download.mp4 from the chunks'
///                          manifests, then READY, the original deleted, `.chunks/` removed
///
/// Segments carry the numbers and times of a whole run, so a chunk encoded twice (its
/// worker died) writes the same keys, and a key already stored is kept, never rewritten.
/// The EVENT playlists grow by whole chunks as the run of finished chunks from 0 grows
/// (`extendLivePlaylists`), so they never shrink. A source that cannot be cut (timestamps
/// the engine must repair) is transcoded whole by its coordinator.
struct ChunkTasks: Sendable {
    let job: TranscodeJob
    let queue: RedisJobQueue
    /// The chunks' length for new videos; 0: every video whole.
    let seconds: Double
    /// What `extendLivePlaylists` has read of finished chunks.
    let liveSegments = LiveChunkSegments()

    /// How a successful task's entry is settled.
    enum Settlement: Sendable, Equatable {
        /// XACK (and the video's job is over, unless the entry was a chunk's).
        case acknowledge
        /// The chunk joins the done set (the last one queues the stitch), then XACK.
        case chunkEncoded(index: Int, frames: Int, seconds: Double)
        /// The audio task joins the done set, as a chunk does.
        case audioEncoded(seconds: Double)
    }

    // MARK: The three tasks

    /// The video's job: chunk 0 and the plan, or the whole file when it cannot be cut.
    func coordinate(_ id: UUID, logger: Logger) async -> (JobOutcome, Settlement) {
        let record: VideoRecord
        switch await job.start(id, countingAttempt: true, logger: logger) {
        case .proceed(let found): record = found
        case .stop(let outcome): return (outcome, .acknowledge)
        }
        // An earlier attempt (or the stitch) stored the whole ladder: READY from its manifest.
        if await job.storedManifest(record) != nil { return (await job.runWhole(record, logger: logger), .acknowledge) }
        do {
            let frames = try await encode(record, chunk: 0, seconds: seconds, logger: logger)
            return (.succeeded, .chunkEncoded(index: 0, frames: frames, seconds: seconds))
        } catch let failure as TranscoderMessage.Failure where failure.cannotChunk == true {
            logger.notice("transcoding whole", metadata: ["reason": "\(failure.userMessage)"])
            return (await job.runWhole(record, logger: logger), .acknowledge)
        } catch let error as TranscodeError where error.reason.isChunking {
            logger.notice("transcoding whole", metadata: ["reason": "\(error.reason.userMessage)"])
            return (await job.runWhole(record, logger: logger), .acknowledge)
        } catch {
            return (await job.outcome(of: error, record: record, logger: logger), .acknowledge)
        }
    }

    /// Chunk `index` (1 or more) of a video whose coordinator planned it.
    func encodeChunk(_ id: UUID, index: Int, seconds: Double, logger: Logger) async -> (JobOutcome, Settlement) {
        let record: VideoRecord
        switch await job.start(id, countingAttempt: false, logger: logger) {
        case .proceed(let found): record = found
        case .stop(let outcome): return (outcome, .acknowledge)
        }
        do {
            let frames = try await encode(record, chunk: index, seconds: seconds, logger: logger)
            // Another chunk failed the video (bad media) while this one encoded: FAILED
            // removed the outputs, and this chunk's, stored since, go too.
            if let now = try? await job.store.video(id), now.status == .failed {
                try? await job.storage.deletePrefix(record.hlsPrefix)
                return (.skipped, .acknowledge)
            }
            return (.succeeded, .chunkEncoded(index: index, frames: frames, seconds: seconds))
        } catch {
            return (await job.outcome(of: error, record: record, logger: logger), .acknowledge)
        }
    }

    /// Every chunk is stored: one ladder, then READY.
    func stitch(_ id: UUID, count: Int, logger: Logger) async -> JobOutcome {
        let record: VideoRecord
        switch await job.start(id, countingAttempt: false, logger: logger) {
        case .proceed(let found): record = found
        case .stop(let outcome): return outcome
        }
        let work = job.scratch.appendingPathComponent(Housekeeping.scratchName(for: id) + "-stitch")
        defer { Housekeeping.removeScratch(work) }
        do {
            if let stored = await job.storedManifest(record) { return try await job.finish(record, stored, logger: logger) }
            let started = ContinuousClock.now
            let prefix = record.hlsPrefix
            await job.publishProgress(id, stage: "stitching", percent: 99.9,
                                      playbackUrl: job.progressive ? "\(job.playbackBase)/\(prefix)/\(ProgressiveLadder.masterName)" : nil)
            let stored = Set(try await job.storage.keys(under: prefix))
            var folders: [String] = []
            var published: [PublishedSegment] = []
            for index in 0..<count {
                let folder = work.appendingPathComponent("chunks/\(index)")
                let outline = try await fetchChunk(index, of: prefix, into: folder, stored: stored)
                guard outline.index == index, outline.count == count else {
                    throw TranscodeError.Reason.chunking("chunk \(index)'s manifest is of another plan (\(outline.index) of \(outline.count))")
                }
                if let missing = outline.segmentFiles.first(where: { !stored.contains("\(prefix)/\($0)") }) {
                    throw TranscodeError.Reason.chunking("\(missing) of chunk \(index) is not in storage")
                }
                try await job.storage.fetch(outline.stitchReadsBack.map { ("\(prefix)/\($0)", folder.appendingPathComponent($0)) })
                folders.append(folder.path)
                published += outline.published
            }
            // The audio task's, when chunk 0 left the audio to it.
            if stored.contains(Self.waitingKey(prefix, AudioTaskOutline.manifestName)) {
                let folder = work.appendingPathComponent("chunks/\(Self.audioFolder)")
                let outline = try await fetchAudioTask(of: prefix, into: folder, stored: stored)
                guard outline.chunkCount == count else {
                    throw TranscodeError.Reason.chunking("the audio task's manifest is of another plan (\(outline.chunkCount) chunks)")
                }
                folders.append(folder.path)
                published += outline.published
            }
            let output = work.appendingPathComponent("hls")
            let stitcher = LadderStitcher(output: output.path, chunks: folders, segmentsStored: true)
            let result = try await OwnThread.run {
                try stitcher.stitch()
            }
            // The EVENT playlists end, as a whole run's do, before the VOD master appears.
            if job.progressive {
                var ladder = Self.liveLadder(published)
                if let first = folders.first,
                   let captions = try ChunkLiveCaptions(manifest: Data(contentsOf: URL(fileURLWithPath: first + "/chunk.json"))) {
                    captions.include(in: &ladder)
                }
                for rendition in ladder.renditions + ladder.captions {
                    try Data(ladder.eventPlaylist(rendition, ended: true).utf8)
                        .write(to: output.appendingPathComponent("\(rendition)/\(ProgressiveLadder.playlistName)"))
                }
            }
            let manifest = TranscodeManifest(result)
            try JSONEncoder().encode(manifest).write(to: output.appendingPathComponent(TranscodeJob.manifestName))
            // Held until READY, so a chunk's late extension of the open playlists cannot land
            // after the ended ones (it gives up at READY). Without it, store anyway: the
            // lock only orders playlist writes.
            let token = job.progressive ? await lockPublishing(id, milliseconds: 600_000) : nil
            defer { if let token { Task { try? await queue.unlockPublishing(id, token: token) } } }
            try await job.storeOutputs(from: output, prefix: prefix, skipping: stored)
            logger.info("stitched", metadata: ["chunks": "\(count)",
                                               "seconds": "\(String(format: "%.2f", (ContinuousClock.now - started) / .seconds(1)))"])
            let outcome = try await job.finish(record, manifest, logger: logger)
            try? await job.storage.deletePrefix("\(prefix)/\(Self.chunksFolder)")
            return outcome
        } catch {
            return await job.outcome(of: error, record: record, logger: logger)
        }
    }

    // MARK: Encoding one chunk

    /// Where a chunk's stitch files are kept until the stitch: `PREFIX/.chunks/K/`.
    static let chunksFolder = ".chunks"

    /// Encodes chunk `index` in the engine and stores its files; returns its frames.
    /// Chunk 0 publishes progressively and queues the other chunks once planned.
    private func encode(_ record: VideoRecord, chunk index: Int, seconds: Double, logger: Logger) async throws -> Int {
        let id = record.id, prefix = record.hlsPrefix
        let started = ContinuousClock.now
        return try await withScratchSource(record, "chunk\(index)") { source, work in
            let output = work.appendingPathComponent("chunk")
            let existing = Set((try? await job.storage.keys(under: prefix)) ?? [])
            let live = LiveState()
            let liveURL = "\(job.playbackBase)/\(prefix)/\(ProgressiveLadder.masterName)"
            let publisher = job.publisher
            var progressive: ProgressiveStore?
            if index == 0, job.progressive {
                let announce: @Sendable () async -> Void = {
                    let percent = live.playable(at: liveURL)
                    await publisher.publish(id) { VideoEvent(id: $0, kind: .playable, status: .processing, stage: "transcoding",
                                                             percent: percent, playbackUrl: liveURL) }
                }
                let store = await ProgressiveStore(storage: job.storage, prefix: prefix, work: output,
                                                   segmentDuration: TranscodeOptions().segmentDuration,
                                                   existing: existing, logger: logger, onPlayable: announce)
                if await store.wasPlayable { await announce() }
                progressive = store
            } else if existing.contains("\(prefix)/\(ProgressiveLadder.masterName)") {
                _ = live.playable(at: liveURL)  // chunk 0 made it playable: progress events say where
            }
            var options = TranscodeOptions()
            // Chunk 0 previews the audio; the audio task, queued with the chunks, encodes it all.
            options.chunk = ChunkSelection(index: index, seconds: seconds, audio: .preview)
            options.progressive = progressive != nil
            options.downloadRung = job.downloadRung
            options.dash = true  // chunks are CMAF: the audio is a rendition of its own
            let planner = ChunkPlanning(queue: queue, video: id, seconds: seconds, queuesChunks: index == 0)
            let queue = self.queue
            let result = try await job.runEngine(source: source, output: output.path, options: options, progressive: progressive) { event in
                guard let plan = event.chunkPlan else { return }
                await planner.planned(plan)
                // Progress over every chunk: each worker reports its own, Redis sums them.
                guard let tally = try? await queue.chunkProgress(id, index: index, frames: event.framesDone),
                      tally.framesTotal > 0 else { return }
                live.progressed(to: 100 * Double(tally.framesDone) / Double(tally.framesTotal))
                let url = live.url
                await publisher.publish(id) { sequence in
                    var update = VideoEvent(transcoding: event, sequence: sequence, playbackUrl: url)
                    update.framesDone = tally.framesDone
                    update.framesTotal = tally.framesTotal
                    update.percent = min(99.9, (1000 * Double(tally.framesDone) / Double(tally.framesTotal)).rounded() / 10)
                    update.renditions = nil  // one chunk's counts would mislead
                    update.chunks = .init(total: tally.chunks, done: tally.chunksDone)
                    return update
                }
            }
            try await planner.ensurePlanned()
            let outline = try ChunkOutline(folder: output.path)
            // A chunk 0 that carried the whole audio (no audio task) stores it again once
            // normalised (`republishedAudio`); a preview is replaced by the stitch.
            let kept = TranscodeJob.stillCurrent(existing.union(await progressive?.stored ?? []), prefix: prefix, result: result)
            try await job.storage.put(outline.segmentFiles.filter { !kept.contains("\(prefix)/\($0)") }.map {
                (output.appendingPathComponent($0), "\(prefix)/\($0)")
            })
            try await job.storage.put(outline.stitchFiles.map {
                (output.appendingPathComponent($0), "\(prefix)/\(Self.chunksFolder)/\(index)/\($0)")
            })
            logger.info("chunk encoded", metadata: [
                "chunk": "\(index)", "chunks": "\(outline.count)", "frames": "\(outline.frames)",
                "seconds": "\(String(format: "%.2f", (ContinuousClock.now - started) / .seconds(1)))",
            ])
            JobMetrics.chunkEncoded()
            return outline.frames
        }
    }

    /// A task's scratch folder (`NAME-suffix`) and its read of the source, both gone when
    /// `body` returns.
    func withScratchSource<T>(_ record: VideoRecord, _ suffix: String,
                              _ body: (_ source: TranscodeJob.Source, _ work: URL) async throws -> T) async throws -> T {
        let work = job.scratch.appendingPathComponent(Housekeeping.scratchName(for: record.id) + "-" + suffix)
        defer { Housekeeping.removeScratch(work) }
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let source = try await job.openSource(record, work: work)
        defer { if case .streaming(let streaming) = source { streaming.cancel() } }
        try Task.checkCancellation()
        return try await body(source, work)
    }

    /// Downloads what `.chunks/K/` holds into `folder` and reads its outline.
    private func fetchChunk(_ index: Int, of prefix: String, into folder: URL, stored: Set<String>) async throws -> ChunkOutline {
        let base = "\(prefix)/\(Self.chunksFolder)/\(index)/"
        let keys = stored.filter { $0.hasPrefix(base) }
        guard keys.contains(base + "chunk.json") else {
            throw TranscodeError.Reason.chunking("chunk \(index) has no stored manifest")
        }
        try await job.storage.fetch(keys.map { ($0, folder.appendingPathComponent(String($0.dropFirst(base.count)))) })
        return try ChunkOutline(folder: folder.path)
    }

    // MARK: The EVENT playlists

    /// The EVENT playlists of the chunks stored so far, as a run of whole chunks from 0:
    /// rewritten by one worker at a time (a Redis lock), from the done set, which only
    /// grows, so a playlist never loses a segment. Chunk 0's own run published its part.
    /// - Parameter waiting: wait up to 30 s for the lock; else give up at once (the audio
    ///   task's periodic extension: whoever holds the lock, or its next tick, covers it).
    func extendLivePlaylists(_ id: UUID, logger: Logger, waiting: Bool = true) async {
        guard job.progressive, let token = await lockPublishing(id, attempts: waiting ? 300 : 1) else { return }
        defer { Task { try? await queue.unlockPublishing(id, token: token) } }
        // Read under the lock: the stitch holds it while it ends the playlists and commits
        // READY, so open playlists are never written over its ended ones.
        guard let record = try? await job.store.video(id), record.status == .processing else { return }
        let prefix = record.hlsPrefix
        let work = job.scratch.appendingPathComponent(Housekeeping.scratchName(for: id) + "-live")
        defer { Housekeeping.removeScratch(work) }
        do {
            let done = try await queue.doneChunks(id)
            var contiguous = 0
            while done.contains(contiguous) { contiguous += 1 }
            // Chunk 0's own run published until it was done; from then on the audio task's
            // segments alone may grow the playlists.
            guard contiguous >= 1 else { return }
            var published: [PublishedSegment] = []
            for index in 0..<contiguous {
                if let known = liveSegments.segments(id, chunk: index) {
                    published += known
                    continue
                }
                let key = "\(prefix)/\(Self.chunksFolder)/\(index)/chunk.json"
                guard let manifest = try await job.storage.data(key: key) else {
                    throw TranscodeError.Reason.chunking("chunk \(index) is done but its manifest is not stored")
                }
                let segments = try ChunkOutline.publishedSegments(manifest: manifest)
                liveSegments.keep(segments, id, chunk: index)
                published += segments
            }
            // The audio task's stored segments (none: chunk 0 carries the whole audio).
            let audioRead = liveSegments.audio(id)
            let audioAdded = try await queue.audioSegments(id, from: audioRead.entries)
            liveSegments.keepAudio(audioAdded.segments, entries: audioAdded.entries, id)
            published += audioRead.segments + audioAdded.segments
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
            var ladder = Self.liveLadder(published)
            try await extendLiveCaptions(id, prefix: prefix, ladder: &ladder, work: work)
            for rendition in ladder.renditions + ladder.captions {
                let file = work.appendingPathComponent("\(rendition.replacingOccurrences(of: "/", with: "-")).m3u8")
                try Data(ladder.eventPlaylist(rendition, ended: false).utf8).write(to: file)
                try await job.storage.put(file: file, key: "\(prefix)/\(rendition)/\(ProgressiveLadder.playlistName)",
                                          type: HLSContentType.forPath(ProgressiveLadder.playlistName))
            }
        } catch {
            // The stitch's final playlists cover it; a viewer waits a little longer.
            logger.warning("could not extend the live playlists", metadata: ["error": "\(error)"])
        }
    }

    /// The caption tracks' WebVTT segments of the chunks after 0 (chunk 0's engine stored
    /// its own), cut from chunk 0's manifest as the stitch will cut them, before the
    /// playlists that name them; adds the tracks to `ladder`.
    private func extendLiveCaptions(_ id: UUID, prefix: String, ladder: inout ProgressiveLadder, work: URL) async throws {
        var known = liveSegments.captions(id)
        if known == nil {
            let key = "\(prefix)/\(Self.chunksFolder)/0/chunk.json"
            guard let manifest = try await job.storage.data(key: key) else {
                throw TranscodeError.Reason.chunking("chunk 0 is done but its manifest is not stored")
            }
            let tracks = try ChunkLiveCaptions(manifest: manifest)
            let chunkZero = tracks.map { tracks in liveSegments.segments(id, chunk: 0)?.filter { $0.rendition == tracks.rung }.count ?? 0 }
            known = .init(tracks: tracks, storedThrough: chunkZero ?? 0)
        }
        guard var captions = known, let tracks = captions.tracks else {
            if let known { liveSegments.keepCaptions(known, id) }
            return
        }
        tracks.include(in: &ladder)
        let new = ladder.segments(of: tracks.rung).filter { $0.index >= captions.storedThrough }
        for file in tracks.files(for: new) {
            let local = work.appendingPathComponent(file.path.replacingOccurrences(of: "/", with: "-"))
            try Data(file.text.utf8).write(to: local)
            try await job.storage.put(file: local, key: "\(prefix)/\(file.path)", type: HLSContentType.forPath(file.path))
        }
        captions.storedThrough = max(captions.storedThrough, ladder.publishedCount)
        liveSegments.keepCaptions(captions, id)
    }

    /// The video's publishing lock, tried `attempts` times 100 ms apart; nil if it stayed taken.
    private func lockPublishing(_ id: UUID, milliseconds: Int = 60_000, attempts: Int = 300) async -> String? {
        for _ in 0..<attempts {
            if let token = try? await queue.lockPublishing(id, milliseconds: milliseconds) { return token }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }

    /// The ladder of EVENT playlists naming `segments` (every rung's and the audio's).
    static func liveLadder(_ segments: [PublishedSegment]) -> ProgressiveLadder {
        var ladder = ProgressiveLadder(renditions: [], initializationURI: "init.mp4",
                                       segmentDuration: TranscodeOptions().segmentDuration)
        for segment in segments {
            ladder.include(segment.rendition)
            ladder.add(segment)
        }
        return ladder
    }
}

/// Chunk 0 queues the other chunks once, as soon as its engine has planned them.
private final class ChunkPlanning: Sendable {
    private let queue: RedisJobQueue
    private let video: UUID
    private let seconds: Double
    private let queuesChunks: Bool
    private let state = Mutex<(plan: TranscodeEvent.ChunkProgress?, queued: Bool)>((nil, false))

    init(queue: RedisJobQueue, video: UUID, seconds: Double, queuesChunks: Bool) {
        self.queue = queue
        self.video = video
        self.seconds = seconds
        self.queuesChunks = queuesChunks
    }

    func planned(_ plan: TranscodeEvent.ChunkProgress) async {
        let first = state.withLock { state -> Bool in
            defer { state.plan = plan }
            return state.plan == nil
        }
        if first, queuesChunks { try? await queueChunks(plan) }
    }

    /// After the run: the plan is queued (a Redis failure during the run is retried here,
    /// and fails the attempt if Redis is still away).
    func ensurePlanned() async throws {
        guard queuesChunks else { return }
        let (plan, queued) = state.withLock { ($0.plan, $0.queued) }
        guard !queued, let plan else {
            if plan == nil { throw TranscodeError.Reason.chunking("the engine reported no chunk plan") }
            return
        }
        try await queueChunks(plan)
    }

    private func queueChunks(_ plan: TranscodeEvent.ChunkProgress) async throws {
        try await queue.planChunks(video, count: plan.count, seconds: seconds, frames: plan.framesInPlan,
                                   audioPreview: plan.audioTask?.previewSegments)
        state.withLock { $0.queued = true }
    }
}
