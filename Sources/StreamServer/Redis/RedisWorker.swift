import Foundation
import Logging

/// The consumer loop of `vstream worker` (and of `vstream serve` with REDIS_URL): up to
/// `concurrency` jobs at a time from the shared consumer group.
///
/// Each slot loops: promote due retries → take over an abandoned job (XAUTOCLAIM,
/// idle past the visibility timeout) or else read a new one (XREADGROUP, blocking 1 s)
/// → run it while a watcher does what its `JobClaim` asks (a cancel check every 250 ms,
/// a heartbeat every third of the visibility timeout) → settle the entry as
/// `RetryPolicy` says.
///
/// Faults: when Redis is unreachable the slots back off and retry; a running job goes
/// on (its claim cannot be taken while Redis is down either) and its settlement is
/// retried until Redis answers. A claim found lost (this worker stalled past the
/// timeout and another took the job) stops the job without touching the entry.
public final class RedisWorker: @unchecked Sendable {
    public struct Settings: Sendable {
        public var concurrency = 1
        public var visibilityTimeout: Duration = .seconds(60)
        public var grace: Duration = .seconds(30)
        public var policy = RetryPolicy()
        /// How often PROCESSING rows are checked for a lost job (and how old a row must
        /// be before it counts as lost): `VSTREAM_RECONCILE_SECONDS`.
        public var reconcileInterval: Duration = .seconds(60)
        /// `VSTREAM_CHUNK_SECONDS`: new videos are encoded as chunks of about this many
        /// seconds, by any worker (`ChunkTasks`); 0: whole. Chunks and stitches queued by
        /// other workers are taken whatever this says.
        public var chunkSeconds: Double = 0
        public init() {}
    }

    private let url: String
    private let control: RedisJobQueue
    private let job: TranscodeJob
    private let chunks: ChunkTasks
    private let settings: Settings
    private let logger: Logger
    public let consumer: String
    private let lock = NSLock()
    private var drain: WorkerDrain

    public init(url: String, job: TranscodeJob, settings: Settings, logger: Logger = Logger(label: "vstream.worker")) {
        self.url = url
        self.job = job
        self.settings = settings
        self.logger = logger
        control = RedisJobQueue(url: url)
        chunks = ChunkTasks(job: job, queue: control, seconds: settings.chunkSeconds)
        consumer = "\(ProcessInfo.processInfo.hostName)-\(getpid())-\(UUID().uuidString.prefix(6).lowercased())"
        drain = WorkerDrain(grace: settings.grace)
    }

    /// Stop taking jobs; running ones get the grace period, then are handed back.
    public func terminate() {
        lock.withLock { drain.terminate(now: .now) }
        logger.notice("draining: no new jobs", metadata: ["grace": "\(settings.grace)"])
    }

    private var takesJobs: Bool { lock.withLock { drain.takesJobs } }
    private var interrupting: Bool { lock.withLock { drain.interrupts(now: .now) } }

    /// Runs until `terminate()` and every running job has ended.
    public func run() async {
        logger.notice("worker started", metadata: ["consumer": "\(consumer)", "concurrency": "\(settings.concurrency)"])
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<max(1, settings.concurrency) {
                group.addTask { await self.slot() }
            }
            group.addTask { await self.reportQueue() }
            group.addTask { await self.reconcile() }
        }
        logger.notice("worker stopped", metadata: ["consumer": "\(consumer)"])
    }

    // MARK: One slot

    private func slot() async {
        let reader = RedisJobQueue(url: url)  // its own connection: XREADGROUP blocks it
        var failures = 0
        while takesJobs {
            do {
                try await reader.promoteDueRetries()
                var delivery = try await reader.claimAbandoned(consumer: consumer, idle: settings.visibilityTimeout)
                if delivery == nil { delivery = try await reader.readNew(consumer: consumer, block: .seconds(1)) }
                failures = 0
                guard let delivery else { continue }
                if takesJobs {
                    await handle(delivery)
                } else {
                    // SIGTERM came while this read was blocked: hand the job straight back.
                    await settle { try await self.control.release(delivery) }
                }
            } catch {
                // A Redis that lost its data (no AOF) has no group: make it again.
                if let error = error as? RedisError, error.message.hasPrefix("NOGROUP") { try? await reader.prepare() }
                if failures == 0 { logger.warning("redis unavailable; retrying", metadata: ["error": "\(error)"]) }
                try? await Task.sleep(for: Backoff.reconnect.outageDelay(retry: failures))
                failures += 1
            }
        }
    }

    private func handle(_ delivery: RedisJobQueue.Delivery) async {
        var logger = self.logger
        logger[metadataKey: "video"] = "\(delivery.video.uuidString.lowercased())"
        guard delivery.video != RedisJobQueue.malformed else {
            await settle { try await self.control.acknowledge(delivery) }
            return
        }
        guard let attempt = settings.policy.attemptForRedelivery(entryAttempt: delivery.attempt, deliveries: delivery.deliveries) else {
            let reason = "its worker stopped \(delivery.deliveries) times before it finished"
            logger.error("job out of attempts", metadata: ["error": "\(reason)"])
            await job.markFailed(delivery.video, reason: reason)
            JobMetrics.outcome("failed")
            await settle { try await self.control.deadLetter(delivery, attempts: delivery.deliveries, error: reason) }
            return
        }
        if delivery.task != .video { logger[metadataKey: "task"] = "\(delivery.task)" }
        logger.info("job started", metadata: ["attempt": "\(attempt)", "takenOver": "\(delivery.deliveries > 1)"])
        JobMetrics.outcome("started")

        let work = Task { await self.perform(delivery, attempt: attempt, logger: logger) }
        let claim = await watch(delivery, work: work)
        let (result, settlement) = await work.value
        guard let outcome = claim.settledOutcome(result) else {
            logger.warning("claim lost to another worker; stopped without settling")
            return
        }

        let disposition = settings.policy.disposition(after: outcome, attempt: attempt)
        JobMetrics.record(disposition, of: outcome)
        switch disposition {
        case .acknowledge:
            if case .chunkEncoded(let index, let frames, let seconds) = settlement, outcome == .succeeded {
                await settle { try await self.control.chunkEncoded(delivery, index: index, frames: frames, seconds: seconds) }
                await chunks.extendLivePlaylists(delivery.video, logger: logger)
                return
            }
            if case .audioEncoded(let seconds) = settlement, outcome == .succeeded {
                await settle { try await self.control.chunkEncoded(delivery, index: nil, frames: 0, seconds: seconds) }
                await chunks.extendLivePlaylists(delivery.video, logger: logger)
                return
            }
            // The stitch ends a chunked video; a deletion ends any, and so does a task that
            // found its video gone, FAILED or READY. A chunk's entry says so too: else a
            // video deleted mid-chunks stayed in the set of videos with a job for good.
            let ended = if case .stitch = delivery.task { true } else { outcome == .cancelled || outcome == .skipped }
            await settle { try await self.control.acknowledge(delivery, endsJob: ended) }
            if ended {
                try? await control.clearChunks(delivery.video)
                chunks.liveSegments.forget(delivery.video)
            }
        case .retry(let next, let delay):
            logger.notice("job will be retried", metadata: ["next": "\(next)", "delay": "\(delay)"])
            await settle { try await self.control.retry(delivery, attempt: next, delay: delay) }
        case .deadLetter(let reason):
            await job.markFailed(delivery.video, reason: reason)
            await settle { try await self.control.deadLetter(delivery, attempts: attempt, error: reason) }
            try? await control.clearChunks(delivery.video)
            chunks.liveSegments.forget(delivery.video)
        case .release:
            // Shutdown is not the video's fault: the attempt counted at the start (by a
            // video's job; chunks and stitches count none) is taken back before another
            // worker takes the job.
            if delivery.task == .video { try? await job.store.forgetAttempt(delivery.video) }
            logger.notice("job handed back for another worker")
            await settle { try await self.control.release(delivery) }
        }
    }

    /// Runs what the entry asks for.
    private func perform(_ delivery: RedisJobQueue.Delivery, attempt: Int, logger: Logger) async -> (JobOutcome, ChunkTasks.Settlement) {
        switch delivery.task {
        case .video where settings.chunkSeconds > 0:
            return await chunks.coordinate(delivery.video, logger: logger)
        case .video:
            return (await job.run(delivery.video, attempt: attempt), .acknowledge)
        case .chunk(let index, _, let seconds):
            return await chunks.encodeChunk(delivery.video, index: index, seconds: seconds, logger: logger)
        case .audio(_, let preview, let seconds):
            return await chunks.encodeAudio(delivery.video, previewSegments: preview, seconds: seconds, logger: logger)
        case .stitch(let count, _):
            return (await chunks.stitch(delivery.video, count: count, logger: logger), .acknowledge)
        }
    }

    /// Watches a running job until it ends, doing what its `JobClaim` asks: checking for
    /// a deletion, refreshing the claim, and stopping the job. Returns the final claim.
    private func watch<Result: Sendable>(_ delivery: RedisJobQueue.Delivery, work: Task<Result, Never>) async -> JobClaim {
        let watcher = Task { () -> JobClaim in
            var claim = JobClaim(visibilityTimeout: settings.visibilityTimeout, now: .now)
            while !Task.isCancelled, claim.stopped == nil {
                try? await Task.sleep(for: claim.untilNextTick(now: .now))
                if Task.isCancelled { break }
                for action in claim.tick(now: .now, graceExpired: interrupting) {
                    let next: JobClaim.Action? = switch action {
                    case .checkCancel: claim.cancelChecked(deleted: try? await control.isCancelled(delivery.video))
                    case .heartbeat: claim.heartbeatAnswered(mine: try? await control.heartbeat(delivery, consumer: consumer), now: .now)
                    case .stop: action
                    }
                    if case .stop(let reason) = next {
                        logger.notice("stopping the job", metadata: ["video": "\(delivery.video.uuidString.lowercased())", "reason": "\(reason)"])
                        work.cancel()
                        break
                    }
                }
            }
            return claim
        }
        _ = await work.value
        watcher.cancel()
        return await watcher.value
    }

    /// Settles an entry, retrying while Redis is away (for up to ten minutes; after
    /// that the entry stays pending and is redelivered, which the job handles).
    private func settle(_ operation: @escaping @Sendable () async throws -> Void) async {
        let deadline = ContinuousClock.now + .seconds(600)
        var retry = 0
        while true {
            do {
                try await operation()
                return
            } catch {
                guard ContinuousClock.now < deadline else {
                    logger.error("could not settle a job entry; it will be redelivered", metadata: ["error": "\(error)"])
                    return
                }
                try? await Task.sleep(for: Backoff.reconnect.outageDelay(retry: retry))
                retry += 1
            }
        }
    }

    /// Finds PROCESSING rows whose job was lost (an API node died, or Redis failed,
    /// between writing the row and the XADD) and queues them again. The row is the state
    /// of record; the `vstream:jobs:videos` set says which videos have a job.
    private func reconcile() async {
        let interval = settings.reconcileInterval
        while takesJobs {
            var waited: Duration = .zero
            while takesJobs && waited < interval {
                try? await Task.sleep(for: .seconds(1))
                waited += .seconds(1)
            }
            guard takesJobs, let rows = try? await job.store.videos(in: .processing) else { continue }
            let settled = Date().addingTimeInterval(-(interval / .seconds(1)))
            for row in rows where row.updatedAt < settled {
                if (try? await control.enqueueIfUntracked(row.id)) == true {
                    logger.warning("a PROCESSING video had no job; queued again", metadata: ["video": "\(row.id.uuidString.lowercased())"])
                }
            }
        }
    }

    /// Queue depth and pending count, for /metrics, every 5 s.
    private func reportQueue() async {
        while takesJobs {
            if let stats = try? await control.stats() {
                JobMetrics.queue(depth: stats.waiting, pending: stats.pending, delayed: stats.delayed, dead: stats.dead)
            }
            for _ in 0..<5 where takesJobs { try? await Task.sleep(for: .seconds(1)) }
        }
    }
}
