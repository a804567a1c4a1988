import Foundation
import Logging

/// The embedded default's queue: jobs run one at a time in this process, with the same
/// `RetryPolicy` as the Redis workers (the wait between attempts is a sleep here).
/// Jobs interrupted by a restart are found again from the database (PROCESSING rows).
public actor InProcessJobQueue {
    private let job: TranscodeJob
    private let policy: RetryPolicy
    private var waiting: [UUID] = []
    private var running: (video: UUID, task: Task<JobOutcome, Never>)?
    private var draining = false
    /// Set by `shutDown()`: no job starts after it.
    private var stopped = false

    /// False: jobs are held and none runs (an API without a worker, as an embedding app
    /// or a test builds it).
    private let runsJobs: Bool

    public init(job: TranscodeJob, policy: RetryPolicy = RetryPolicy(), runsJobs: Bool = true) {
        self.job = job
        self.policy = policy
        self.runsJobs = runsJobs
    }

    public func enqueue(_ video: UUID) {
        guard !stopped, !waiting.contains(video), running?.video != video else { return }
        waiting.append(video)
        guard runsJobs, !draining else { return }
        draining = true
        Task { await drain() }
    }

    /// Stops the video's job if it runs (within a second), or drops it from the queue.
    public func cancel(_ video: UUID) {
        waiting.removeAll { $0 == video }
        if let running, running.video == video { running.task.cancel() }
    }

    /// Graceful shutdown: nothing new starts, and the running job is stopped (its child
    /// killed). Its video stays PROCESSING for the next start, and the attempt it had
    /// counted is taken back: a shutdown is not the video's fault.
    public func shutDown() async {
        stopped = true
        waiting.removeAll()
        guard let running else { return }
        running.task.cancel()
        if await running.task.value == .cancelled { try? await job.store.forgetAttempt(running.video) }
    }

    private func drain() async {
        while !waiting.isEmpty, !stopped {
            let video = waiting.removeFirst()
            var attempt = 1
            while true {
                let job = self.job, current = attempt
                JobMetrics.outcome("started")
                let task = Task { await job.run(video, attempt: current) }
                running = (video, task)
                let outcome = await task.value
                running = nil
                let disposition = policy.disposition(after: outcome, attempt: attempt)
                JobMetrics.record(disposition, of: outcome)
                switch disposition {
                case .acknowledge, .release:
                    break
                case .deadLetter(let reason):
                    await job.markFailed(video, reason: reason)
                case .retry(let next, let delay):
                    try? await Task.sleep(for: delay)
                    if stopped { break }
                    attempt = next
                    continue
                }
                break
            }
        }
        draining = false
    }
}
