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

    public init(job: TranscodeJob, policy: RetryPolicy = RetryPolicy()) {
        self.job = job
        self.policy = policy
    }

    public func enqueue(_ video: UUID) {
        guard !waiting.contains(video), running?.video != video else { return }
        waiting.append(video)
        guard !draining else { return }
        draining = true
        Task { await drain() }
    }

    /// Stops the video's job if it runs (within a second), or drops it from the queue.
    public func cancel(_ video: UUID) {
        waiting.removeAll { $0 == video }
        if let running, running.video == video { running.task.cancel() }
    }

    private func drain() async {
        while !waiting.isEmpty {
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
                    attempt = next
                    continue
                }
                break
            }
        }
        draining = false
    }
}
