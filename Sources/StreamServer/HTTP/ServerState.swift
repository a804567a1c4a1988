import Foundation
import Logging

/// The storage backend, for what differs between them: who stores a part, who signs it.
public enum StorageBackend: Sendable {
    /// The embedded default: the server stores parts itself, at URLs it signs.
    case local(LocalStorage)
    /// S3-compatible storage: the browser PUTs parts to presigned S3 URLs.
    case s3(S3Storage)

    public var storage: any ObjectStorage {
        switch self {
        case .local(let storage): storage
        case .s3(let storage): storage
        }
    }
}

/// Everything the routes share: storage, metadata, progress, the worker, the signer.
public struct ServerState: Sendable {
    public let configuration: ServerConfiguration
    public let backend: StorageBackend
    public var storage: any ObjectStorage { backend.storage }
    /// Where players fetch HLS: "" (this server's /hls) or PUBLIC_BASE_URL.
    public let playbackBase: String
    public let store: any MetadataStore
    /// This node's fan-out to its SSE clients.
    public let hub: ProgressHub
    /// One attempt at a transcode, as every kind of worker runs it.
    public let job: TranscodeJob
    /// The embedded default's queue (no Redis).
    public let localJobs: InProcessJobQueue?
    /// Redis, when configured: the progress hash and the job stream.
    public let redisProgress: RedisProgressPublisher?
    public let redisJobs: RedisJobQueue?
    /// This process's consumer of the job stream (Redis, and a worker wanted here).
    public let redisWorker: RedisWorker?
    /// Feeds `hub` from Redis pub/sub, on a thread of its own.
    let progressSubscriber: RedisProgressSubscriber?
    public let partSigner: LocalPartSigner
    /// Concurrent SSE streams on this node, capped.
    let eventStreams: EventStreamSlots
    /// Identities, rules, playback tokens and limits.
    public let access: AccessControl

    public init(configuration: ServerConfiguration, logger: Logger = Logger(label: "vstream")) async throws {
        self.configuration = configuration
        eventStreams = EventStreamSlots(limit: configuration.maxEventStreams)
        let root = URL(fileURLWithPath: configuration.dataDirectory).standardizedFileURL
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        if let s3 = configuration.s3 {
            let storage = S3Storage(s3)
            try await storage.createBucketIfNeeded()
            if !configuration.corsOrigins.isEmpty { try await storage.allowBrowserUploads(from: configuration.corsOrigins) }
            backend = .s3(storage)
            playbackBase = (configuration.publicBaseURL ?? "\(s3.endpoint.absoluteString)/\(s3.bucket)")
                .trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        } else {
            backend = .local(try LocalStorage(root: root))
            playbackBase = ""
        }
        if let databaseURL = configuration.databaseURL {
            store = try PostgresStore(url: databaseURL)
        } else {
            store = try SQLiteStore(path: root.appendingPathComponent("vstream.sqlite").path)
        }
        hub = ProgressHub()
        partSigner = LocalPartSigner(secret: try Self.loadSecret(root.appendingPathComponent("signing.key")))
        let counter: any RateCounter = configuration.redisURL.map { RedisRateCounter(client: RedisClient(url: $0)) }
            ?? InProcessRateCounter()
        access = try await AccessControl(configuration.access,
                                         playbackSecret: try Self.loadSecret(root.appendingPathComponent("playback.key")),
                                         counter: counter)
        let scratch = root.appendingPathComponent("scratch")
        let swept = Housekeeping.sweepScratch(scratch)
        if swept > 0 { logger.info("scratch folders of stopped attempts removed", metadata: ["count": "\(swept)"]) }
        if let redisURL = configuration.redisURL {
            let progress = RedisProgressPublisher(url: redisURL)
            let jobs = RedisJobQueue(url: redisURL)
            do {
                try await jobs.prepare()
            } catch {
                // Not fatal: workers make the group when they first reach Redis.
                logger.warning("redis unavailable at start-up; carrying on", metadata: ["error": "\(error)"])
            }
            redisProgress = progress
            redisJobs = jobs
            localJobs = nil
            job = TranscodeJob(storage: backend.storage, store: store, publisher: progress, scratch: scratch,
                               playbackBase: playbackBase, engine: configuration.engineHost,
                               maxAttempts: configuration.worker.policy.maxAttempts,
                               progressive: configuration.progressive, downloadRung: configuration.downloadRung,
                               dash: configuration.dash, logger: logger)
            let subscriber = RedisProgressSubscriber(url: redisURL, hub: hub)
            subscriber.start()
            progressSubscriber = subscriber
            // Jobs wait in the stream across restarts; any worker may take them.
            redisWorker = configuration.embeddedWorker
                ? RedisWorker(url: redisURL, job: job, settings: configuration.worker, logger: logger) : nil
            return
        }
        redisProgress = nil
        redisJobs = nil
        redisWorker = nil
        progressSubscriber = nil
        job = TranscodeJob(storage: backend.storage, store: store, publisher: hub, scratch: scratch,
                           playbackBase: playbackBase, engine: configuration.engineHost,
                           maxAttempts: configuration.worker.policy.maxAttempts,
                           progressive: configuration.progressive, downloadRung: configuration.downloadRung,
                               dash: configuration.dash, logger: logger)
        let queue = InProcessJobQueue(job: job, policy: configuration.worker.policy)
        localJobs = queue
        // Jobs interrupted by a restart are picked up again.
        if configuration.embeddedWorker {
            for video in try await store.videos(in: .processing) { await queue.enqueue(video.id) }
        }
    }

    /// Removes abandoned uploads now, then every 15 minutes, until the task is cancelled.
    public func runUploadSweeper(logger: Logger) async {
        let ttl = configuration.uploadTTLHours * 3600
        while !Task.isCancelled {
            _ = await Housekeeping.sweepAbandonedUploads(self, ttl: ttl, logger: logger)
            try? await Task.sleep(for: .seconds(min(900, max(1, ttl / 4))))
        }
    }

    /// Lets background threads end (the Redis subscriber) once the process is done serving.
    public func shutdown() {
        progressSubscriber?.stop()
    }

    /// Queues a transcode: on the Redis stream, or in this process.
    public func enqueueTranscode(_ video: UUID) async throws {
        if let redisJobs {
            try await redisJobs.enqueue(video)
        } else if configuration.embeddedWorker {
            await localJobs?.enqueue(video)
        }
    }

    /// Stops the video's transcode wherever it runs (the video is being deleted).
    public func cancelTranscode(_ video: UUID) async throws {
        if let redisJobs {
            try await redisJobs.cancel(video)
        } else {
            await localJobs?.cancel(video)
        }
    }

    /// The latest progress event, wherever the job runs.
    public func latestEvent(_ video: UUID) async -> VideoEvent? {
        if let redisProgress { return await redisProgress.latest(video) }
        return await hub.latestEvent(for: video)
    }

    /// Where anyone plays a public or unlisted video (a private one needs `access.playbackURL`).
    public func playbackURL(_ video: VideoRecord) -> String { "\(playbackBase)/\(video.hlsPrefix)/master.m3u8" }
    public func posterURL(_ video: VideoRecord) -> String { objectURL(video, "poster.jpg") }
    /// One of the video's output objects, `file` relative to its HLS prefix.
    public func objectURL(_ video: VideoRecord, _ file: String) -> String { "\(playbackBase)/\(video.hlsPrefix)/\(file)" }

    /// The HMAC secret for part URLs: made once per data directory, kept private to it.
    static func loadSecret(_ file: URL) throws -> Data {
        if let existing = try? Data(contentsOf: file), existing.count >= 32 { return existing }
        var bytes = [UInt8](repeating: 0, count: 32)
        for index in bytes.indices { bytes[index] = UInt8.random(in: 0...255) }
        try Data(bytes).write(to: file, options: .atomic)
        chmod(file.path, 0o600)
        return Data(bytes)
    }
}
