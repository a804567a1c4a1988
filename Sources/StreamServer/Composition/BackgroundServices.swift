import Foundation
import Logging
import ServiceLifecycle

/// The long-running parts of a process beside its HTTP server, each a `Service` of the
/// one `ServiceGroup` that `serve` and `worker` run: the group starts them, turns SIGTERM
/// and SIGINT into a graceful shutdown, and waits for each to finish. Nothing runs as a
/// loose `Task`.
extension ServerState {
    /// The services of this mode, in start order (the group shuts them down in reverse,
    /// so the worker hands its job back first, while the HTTP server still answers).
    public func backgroundServices(logger: Logger) -> (beforeHTTP: [any Service], afterHTTP: [any Service]) {
        var before: [any Service] = [UploadSweeperService(state: self, logger: logger)]
        var after: [any Service] = []
        switch jobs {
        case .inProcess(let queue):
            after.append(InProcessWorkerService(queue: queue))
        case .redis(let redis):
            before.insert(ProgressSubscriberService(subscriber: redis.subscriber), at: 0)
            if let worker = redis.worker { after.append(RedisWorkerService(worker: worker)) }
        }
        return (before, after)
    }
}

/// Removes abandoned uploads every 15 minutes, until shutdown.
struct UploadSweeperService: Service {
    let state: ServerState
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown { await state.runUploadSweeper(logger: logger) }
    }
}

/// Feeds this node's hub from Redis pub/sub (a thread of its own) until shutdown.
struct ProgressSubscriberService: Service {
    let subscriber: RedisProgressSubscriber

    func run() async throws {
        subscriber.start()
        defer { subscriber.stop() }
        try? await gracefulShutdown()
    }
}

/// A consumer of the Redis stream. On shutdown it takes no new job, and a running one
/// gets the worker's grace (none for `serve`: the job is handed back at once).
public struct RedisWorkerService: Service {
    let worker: RedisWorker

    public init(worker: RedisWorker) { self.worker = worker }

    public func run() async throws {
        await withGracefulShutdownHandler {
            await worker.run()
        } onGracefulShutdown: {
            worker.terminate()
        }
    }
}

/// The embedded default's queue. On shutdown the running job is stopped; its video
/// stays PROCESSING and is picked up again at the next start, without losing an attempt.
struct InProcessWorkerService: Service {
    let queue: InProcessJobQueue

    func run() async throws {
        try? await gracefulShutdown()
        await queue.shutDown()
    }
}
