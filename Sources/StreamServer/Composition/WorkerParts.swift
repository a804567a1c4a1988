import Foundation
import Logging

/// The composition root of `vstream worker`: storage, metadata, the job and the
/// stream's consumer, and nothing of the HTTP API (no hub, access or signer).
public struct WorkerParts: Sendable {
    public let worker: RedisWorker
    public let store: any MetadataStore
    let probe: RedisClient

    /// - Throws: `ConfigurationError` without REDIS_URL, or the first dependency that
    ///   cannot be reached.
    public init(configuration: ServerConfiguration, logger: Logger = Logger(label: "vstream")) async throws {
        guard let redisURL = configuration.redisURL else {
            throw ConfigurationError("vstream worker takes its jobs from Redis: set REDIS_URL")
        }
        DependencyTimeout.seconds = configuration.dependencyTimeoutSeconds
        let root = try ServerState.dataRoot(configuration)
        let (backend, playbackBase) = try await ServerState.makeStorage(configuration, root: root)
        store = try ServerState.makeStore(configuration, root: root)
        let job = TranscodeJob(configuration: configuration, storage: backend.storage, store: store,
                               publisher: RedisProgressPublisher(url: redisURL),
                               scratch: ServerState.sweptScratch(root, logger: logger), playbackBase: playbackBase, logger: logger)
        await ServerState.prepare(RedisJobQueue(url: redisURL), logger: logger)
        worker = RedisWorker(url: redisURL, job: job, settings: configuration.worker, logger: logger)
        probe = RedisClient(url: redisURL)
    }
}
