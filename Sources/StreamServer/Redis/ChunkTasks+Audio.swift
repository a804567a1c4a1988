import Foundation
import HLSEngine
import Logging

/// The audio task of a chunked video (`JobTask.audio`): every audio track of the whole
/// file, encoded once by any worker beside the chunks (`ChunkSelection.audioTask`), so
/// neither chunk 0 nor the stitch waits for a long video's audio behind its first chunk.
///
/// Chunk 0 published a preview of its own segments' audio (`ChunkSelection.AudioWork.preview`)
/// at those segments' keys, so the video played at once. The task's segments of the same
/// numbers (the same timing, at the normalised level) wait under `.chunks/audio/`, and the
/// stitch stores them over the preview; the later ones go to their keys as they close, and
/// the EVENT playlists name them (`RedisJobQueue.audioSegmentStored`), so a viewer's audio
/// runs on past chunk 0 while the chunks are encoded. One writer per key, at any time.
extension ChunkTasks {
    /// Where the task's previewed segments, `init.mp4`s and `audio.json` wait for the stitch.
    static let audioFolder = "audio"

    func encodeAudio(_ id: UUID, previewSegments: Int, seconds: Double, logger: Logger) async -> (JobOutcome, Settlement) {
        let record: VideoRecord
        switch await job.start(id, countingAttempt: false, logger: logger) {
        case .proceed(let found): record = found
        case .stop(let outcome): return (outcome, .acknowledge)
        }
        do {
            try await encodeAudio(record, previewSegments: previewSegments, seconds: seconds, logger: logger)
            // A chunk failed the video (bad media) meanwhile: what this task stored since goes too.
            if let now = try? await job.store.video(id), now.status == .failed {
                try? await job.storage.deletePrefix(record.hlsPrefix)
                return (.skipped, .acknowledge)
            }
            return (.succeeded, .audioEncoded(seconds: seconds))
        } catch {
            return (await job.outcome(of: error, record: record, logger: logger), .acknowledge)
        }
    }

    private func encodeAudio(_ record: VideoRecord, previewSegments: Int, seconds: Double, logger: Logger) async throws {
        let id = record.id, prefix = record.hlsPrefix
        let started = ContinuousClock.now
        try await withScratchSource(record, "audio") { source, work in
            let output = work.appendingPathComponent("audio")
            let store = AudioTaskStore(tasks: self, video: id, prefix: prefix, output: output, previewSegments: previewSegments,
                                       existing: Set((try? await job.storage.keys(under: prefix)) ?? []), logger: logger)
            var options = TranscodeOptions()
            options.chunk = .audioTask(seconds: seconds)
            options.progressive = true  // each segment reported as it closes
            options.dash = true
            // Stored as they close, several at a time (a film's audio is thousands of small
            // objects, and a put to a remote bucket costs tens of milliseconds), beside the engine.
            let (closed, sink) = AsyncStream.makeStream(of: PublishedSegment.self)
            async let publishing: Void = store.publish(closed)
            do {
                _ = try await job.runEngine(source: source, output: output.path, options: options, progressive: nil,
                                            publications: { if case .segment(let segment) = $0 { sink.yield(segment) } }) { _ in }
            } catch {
                sink.finish()
                await publishing
                throw error
            }
            sink.finish()
            await publishing
            // What publishing missed (a failed put is retried here), then the stitch's files.
            let outline = try AudioTaskOutline(folder: output.path)
            for segment in outline.published {
                try Task.checkCancellation()
                try await store.store(segment)
            }
            for file in outline.segmentFiles where file.hasSuffix("/init.mp4") {
                try await job.storage.put(file: output.appendingPathComponent(file), key: Self.waitingKey(prefix, file),
                                          type: HLSContentType.forPath(file))
            }
            try await job.storage.put(file: output.appendingPathComponent(AudioTaskOutline.manifestName),
                                      key: Self.waitingKey(prefix, AudioTaskOutline.manifestName),
                                      type: HLSContentType.forPath(AudioTaskOutline.manifestName))
            logger.info("audio encoded", metadata: [
                "segments": "\(outline.published.count)", "chunks": "\(outline.chunkCount)",
                "seconds": "\(String(format: "%.2f", (ContinuousClock.now - started) / .seconds(1)))",
            ])
        }
    }

    /// `PREFIX/.chunks/audio/FILE`.
    static func waitingKey(_ prefix: String, _ file: String) -> String {
        "\(prefix)/\(chunksFolder)/\(audioFolder)/\(file)"
    }

    /// The stitch's part: downloads what the audio task left under `.chunks/audio/` into
    /// `folder`, stores its previewed segments and `init.mp4`s at their keys (over chunk
    /// 0's preview: chunk 0 is done), and reads back what `download.mp4` is made from.
    func fetchAudioTask(of prefix: String, into folder: URL, stored: Set<String>) async throws -> AudioTaskOutline {
        let base = Self.waitingKey(prefix, "")
        let waiting = stored.filter { $0.hasPrefix(base) }
        try await job.storage.fetch(waiting.map { ($0, folder.appendingPathComponent(String($0.dropFirst(base.count)))) })
        let outline = try AudioTaskOutline(folder: folder.path)
        if let missing = outline.segmentFiles.first(where: { !stored.contains("\(prefix)/\($0)") && !waiting.contains(base + $0) }) {
            throw TranscodeError.Reason.chunking("\(missing) of the audio task is not in storage")
        }
        try await job.storage.put(outline.segmentFiles.filter { waiting.contains(base + $0) }.map {
            (folder.appendingPathComponent($0), "\(prefix)/\($0)")
        })
        try await job.storage.fetch(outline.stitchReadsBack.filter { !waiting.contains(base + $0) }.map {
            ("\(prefix)/\($0)", folder.appendingPathComponent($0))
        })
        return outline
    }
}

/// Stores the audio task's segments as the engine closes them, each at the one key that is
/// its own at this stage (`ChunkTasks+Audio`), then tells Redis, and extends the EVENT
/// playlists every `extendEvery` at most. A failed put stops publishing; the task's end
/// stores what is left, and fails if it still cannot.
actor AudioTaskStore {
    private let tasks: ChunkTasks
    private let video: UUID
    private let prefix: String
    private let output: URL
    private let previewSegments: Int
    private var stored: Set<String>
    /// Told to Redis by this run (a rerun tells again what an earlier one stored).
    private var announced: Set<String> = []
    /// Written by this run's one encoder over what abandoned spans stored.
    private var replaced: Set<String> = []
    private let logger: Logger
    private var failed = false
    private var extended = ContinuousClock.now
    static let extendEvery = Duration.seconds(2)
    /// Puts in flight at once.
    static let storesAtOnce = 8

    init(tasks: ChunkTasks, video: UUID, prefix: String, output: URL, previewSegments: Int, existing: Set<String>, logger: Logger) {
        self.tasks = tasks
        self.video = video
        self.prefix = prefix
        self.output = output
        self.previewSegments = previewSegments
        self.stored = existing
        self.logger = logger
    }

    /// Stores the segments as they come, `storesAtOnce` at a time, until `segments` ends.
    func publish(_ segments: AsyncStream<PublishedSegment>) async {
        await withTaskGroup(of: Void.self) { group in
            var running = 0
            for await segment in segments {
                if running == Self.storesAtOnce {
                    await group.next()
                    running -= 1
                }
                group.addTask { await self.segmentClosed(segment) }
                running += 1
            }
        }
    }

    private func segmentClosed(_ segment: PublishedSegment) async {
        guard !failed else { return }
        do {
            try await store(segment)
            guard ContinuousClock.now - extended >= Self.extendEvery else { return }
            extended = .now
            await tasks.extendLivePlaylists(video, logger: logger, waiting: false)
        } catch {
            failed = true
            logger.warning("audio publishing stopped", metadata: ["error": "\(error)"])
        }
    }

    /// Stores `segment` at its key (the previewed numbers wait for the stitch), once, and
    /// tells Redis of those at their keys: the EVENT playlists name the preview's before.
    /// Once means once per encode: a segment that `replaces` (the task went back to one
    /// encoder after abandoned spans) goes over the spans' copy, once in this run.
    func store(_ segment: PublishedSegment) async throws {
        let file = "\(segment.rendition)/\(segment.uri)"
        let previewed = segment.index < previewSegments
        let key = previewed ? ChunkTasks.waitingKey(prefix, file) : "\(prefix)/\(file)"
        let replacing = segment.replaces == true && !replaced.contains(key)
        if replacing || !stored.contains(key) {
            try await tasks.job.storage.put(file: output.appendingPathComponent(file), key: key, type: HLSContentType.forPath(file))
            stored.insert(key)
            if replacing { replaced.insert(key) }
            if !previewed { Failpoint.hit(.afterAudioSegmentStored) }
        }
        guard !previewed, !announced.contains(key) else { return }
        try await tasks.queue.audioSegmentStored(video, segment)
        announced.insert(key)
    }
}
