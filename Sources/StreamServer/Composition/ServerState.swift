import Foundation
import Logging

/// What a process runs, decided once from its configuration and command.
public enum ServiceMode: String, Sendable {
    /// `serve` without REDIS_URL: API, queue, worker and progress in one process.
    case embedded
    /// `serve --no-worker` with REDIS_URL: the API; workers elsewhere take the jobs.
    case apiNode
    /// `serve` with REDIS_URL: the API and a consumer of the shared stream.
    case apiNodeAndWorker
    /// `vstream worker`: a consumer of the shared stream, no HTTP API.
    case worker

    /// The mode of `serve` for this configuration.
    static func serve(_ configuration: ServerConfiguration) -> ServiceMode {
        guard configuration.redisURL != nil else { return .embedded }
        return configuration.embeddedWorker ? .apiNodeAndWorker : .apiNode
    }
}

/// The composition root of `serve`: every part the routes share, built once for the
/// mode (`ServiceMode.serve`) and handed to the routes as this one value.
///
///     storage (local | S3) ─┐
///     metadata (SQLite | PostgreSQL) ─┼─▶ TranscodeJob ─▶ jobs (in-process | Redis [+ worker])
///     progress hub ◀── (Redis subscriber) ─┘
///     access (keys, JWT, tokens, rate limits)
///
/// `vstream worker` builds only what it uses (`WorkerParts`); `jobs` only a queue.
public struct ServerState: Sendable {
    public let configuration: ServerConfiguration
    public let mode: ServiceMode
    public let backend: StorageBackend
    public var storage: any ObjectStorage { backend.storage }
    /// Where players fetch HLS: "" (this server's /hls) or PUBLIC_BASE_URL.
    public let playbackBase: String
    public let store: any MetadataStore
    /// The owner's changes to a video's stored files, one at a time across the API nodes.
    public let edits: VideoEdits
    /// This node's fan-out to its SSE clients.
    public let hub: ProgressHub
    /// One attempt at a transcode, as every kind of worker runs it.
    public let job: TranscodeJob
    /// The queue, the progress transport and (where this mode has one) the worker.
    public let jobs: JobBackend
    public let partSigner: LocalPartSigner
    /// Concurrent SSE streams on this node, capped.
    let eventStreams: EventStreamSlots
    /// Identities, rules, playback tokens and limits.
    public let access: AccessControl

    /// Without Redis and with `embeddedWorker` off (an embedding app, a test) the queue
    /// holds its jobs and runs none; `serve` refuses that mode (`validate()`).
    /// - Throws: the first dependency that cannot be reached.
    public init(configuration: ServerConfiguration, logger: Logger = Logger(label: "vstream")) async throws {
        self.configuration = configuration
        mode = ServiceMode.serve(configuration)
        DependencyTimeout.seconds = configuration.dependencyTimeoutSeconds
        eventStreams = EventStreamSlots(limit: configuration.maxEventStreams)
        let root = try Self.dataRoot(configuration)
        (backend, playbackBase) = try await Self.makeStorage(configuration, root: root)
        store = try Self.makeStore(configuration, root: root)
        edits = VideoEdits(store: store)
        hub = ProgressHub()
        partSigner = LocalPartSigner(secret: try Self.loadSecret(root.appendingPathComponent("signing.key")))
        let counter: any RateCounter = configuration.redisURL.map { RedisRateCounter(client: RedisClient(url: $0)) }
            ?? InProcessRateCounter()
        access = try await AccessControl(configuration.access,
                                         playbackSecret: try Self.loadSecret(root.appendingPathComponent("playback.key")),
                                         counter: counter)
        let scratch = Self.sweptScratch(root, logger: logger)
        if let redisURL = configuration.redisURL {
            let progress = RedisProgressPublisher(url: redisURL)
            job = TranscodeJob(configuration: configuration, storage: backend.storage, store: store, publisher: progress,
                               scratch: scratch, playbackBase: playbackBase, logger: logger)
            let queue = RedisJobQueue(url: redisURL)
            await Self.prepare(queue, logger: logger)
            // Jobs wait in the stream across restarts; any worker may take them.
            let worker = mode == .apiNodeAndWorker
                ? RedisWorker(url: redisURL, job: job, settings: configuration.worker, logger: logger) : nil
            jobs = .redis(RedisJobs(queue: queue, progress: progress, subscriber: RedisProgressSubscriber(url: redisURL, hub: hub),
                                    worker: worker, probe: RedisClient(url: redisURL)))
        } else {
            job = TranscodeJob(configuration: configuration, storage: backend.storage, store: store, publisher: hub,
                               scratch: scratch, playbackBase: playbackBase, logger: logger)
            let queue = InProcessJobQueue(job: job, policy: configuration.worker.policy, runsJobs: configuration.embeddedWorker)
            jobs = .inProcess(queue)
            // Jobs interrupted by a restart are picked up again.
            if configuration.embeddedWorker {
                for video in try await store.videos(in: .processing) { await queue.enqueue(video.id) }
            }
        }
        logger.info("parts built", metadata: ["mode": "\(mode.rawValue)", "storage": "\(backend.name)",
                                              "metadata": "\(configuration.databaseURL == nil ? "SQLite" : "PostgreSQL")"])
    }

    /// Removes abandoned uploads now, then every 15 minutes, until the task is cancelled.
    public func runUploadSweeper(logger: Logger) async {
        let ttl = configuration.uploadTTLHours * 3600
        while !Task.isCancelled {
            _ = await Housekeeping.sweepAbandonedUploads(self, ttl: ttl, logger: logger)
            try? await Task.sleep(for: .seconds(min(900, max(1, ttl / 4))))
        }
    }

    /// Queues a transcode: on the Redis stream, or in this process.
    public func enqueueTranscode(_ video: UUID) async throws { try await jobs.queue.enqueueTranscode(video) }

    /// Stops the video's transcode wherever it runs (the video is being deleted).
    public func cancelTranscode(_ video: UUID) async throws { try await jobs.queue.cancelTranscode(video) }

    /// The latest progress event, wherever the job runs.
    public func latestEvent(_ video: UUID) async -> VideoEvent? {
        switch jobs {
        case .redis(let redis): await redis.progress.latest(video)
        case .inProcess: await hub.latestEvent(for: video)
        }
    }

    /// Where anyone plays a public or unlisted video (a private one needs `access.playbackURL`).
    public func playbackURL(_ video: VideoRecord) -> String { "\(playbackBase)/\(video.hlsPrefix)/master.m3u8" }
    public func posterURL(_ video: VideoRecord) -> String { objectURL(video, "poster.jpg") }
    /// One of the video's output objects, `file` relative to its HLS prefix.
    public func objectURL(_ video: VideoRecord, _ file: String) -> String { "\(playbackBase)/\(video.hlsPrefix)/\(file)" }

    // MARK: Parts shared with `WorkerParts`

    static func dataRoot(_ configuration: ServerConfiguration) throws -> URL {
        let root = URL(fileURLWithPath: configuration.dataDirectory).standardizedFileURL
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        return root
    }

    static func makeStorage(_ configuration: ServerConfiguration, root: URL) async throws -> (StorageBackend, playbackBase: String) {
        guard let s3 = configuration.s3 else { return (.local(try LocalStorage(root: root)), "") }
        let storage = S3Storage(s3)
        try await storage.createBucketIfNeeded()
        if !configuration.corsOrigins.isEmpty { try await storage.allowBrowserUploads(from: configuration.corsOrigins) }
        let base = (configuration.publicBaseURL ?? "\(s3.endpoint.absoluteString)/\(s3.bucket)")
            .trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        return (.s3(storage), base)
    }

    /// The metadata store alone (`vstream jobs requeue`).
    public static func metadataStore(_ configuration: ServerConfiguration) throws -> any MetadataStore {
        try makeStore(configuration, root: try dataRoot(configuration))
    }

    static func makeStore(_ configuration: ServerConfiguration, root: URL) throws -> any MetadataStore {
        let timeout = configuration.dependencyTimeoutSeconds
        if let databaseURL = configuration.databaseURL { return try PostgresStore(url: databaseURL, timeoutSeconds: timeout) }
        return try SQLiteStore(path: root.appendingPathComponent("vstream.sqlite").path, timeoutSeconds: timeout)
    }

    /// The scratch folder, emptied of the folders of attempts a crash left behind.
    static func sweptScratch(_ root: URL, logger: Logger) -> URL {
        let scratch = root.appendingPathComponent("scratch")
        let swept = Housekeeping.sweepScratch(scratch)
        if swept > 0 { logger.info("scratch folders of stopped attempts removed", metadata: ["count": "\(swept)"]) }
        return scratch
    }

    /// Makes the consumer group. Not fatal: workers make it when they first reach Redis.
    static func prepare(_ queue: RedisJobQueue, logger: Logger) async {
        do {
            try await queue.prepare()
        } catch {
            logger.warning("redis unavailable at start-up; carrying on", metadata: ["error": "\(error)"])
        }
    }

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

extension StorageBackend {
    var name: String { partStore != nil ? "local" : "S3" }
}
