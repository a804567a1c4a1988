import Foundation

/// Where transcode jobs wait, whatever runs them: the in-process queue of the embedded
/// default or the Redis stream shared by every worker.
public protocol JobQueue: Sendable {
    /// Queues the video's transcode.
    func enqueueTranscode(_ video: UUID) async throws
    /// Stops the video's transcode wherever it runs (the video is being deleted).
    func cancelTranscode(_ video: UUID) async throws
}

extension InProcessJobQueue: JobQueue {
    public func enqueueTranscode(_ video: UUID) async throws { enqueue(video) }
    public func cancelTranscode(_ video: UUID) async throws { cancel(video) }
}

extension RedisJobQueue: JobQueue {
    public func enqueueTranscode(_ video: UUID) async throws { try await enqueue(video, attempt: 1) }
    public func cancelTranscode(_ video: UUID) async throws { try await cancel(video) }
}

/// How jobs and their progress travel in one process, as one value: the parts that must
/// agree (queue, progress, worker, subscriber) are built together and cannot disagree.
public enum JobBackend: Sendable {
    /// The embedded default: queue, worker and progress in this process.
    case inProcess(InProcessJobQueue)
    /// Redis: the shared stream and progress hash, fed to this node's SSE clients by a
    /// subscriber; a worker here too unless `serve --no-worker`.
    case redis(RedisJobs)

    public var queue: any JobQueue {
        switch self {
        case .inProcess(let queue): queue
        case .redis(let redis): redis.queue
        }
    }
}

/// The Redis half of a process: the stream, the progress hash, the subscriber that feeds
/// this node's hub, and this process's consumer of the stream (nil on an API node).
public struct RedisJobs: Sendable {
    public let queue: RedisJobQueue
    public let progress: RedisProgressPublisher
    let subscriber: RedisProgressSubscriber
    public let worker: RedisWorker?
    /// A PING, for `/readyz`.
    let probe: RedisClient
}
