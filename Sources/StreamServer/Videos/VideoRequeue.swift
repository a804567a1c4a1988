import Foundation

/// `vstream jobs requeue`: a dead job back on the queue, through `VideoLifecycle`.
public struct VideoRequeue: Sendable {
    let store: any MetadataStore
    let queue: RedisJobQueue

    public init(store: any MetadataStore, queue: RedisJobQueue) {
        self.store = store
        self.queue = queue
    }

    /// Requeues `job`; false when its video is gone or in a state a requeue cannot leave
    /// (UPLOADING, READY): its dead-letter entry is then left as it is.
    public func requeue(_ job: RedisJobQueue.DeadJob) async throws -> Bool {
        guard var video = try await store.video(job.video) else { return false }
        var lifecycle = VideoLifecycle(status: video.status)
        guard let actions = try? lifecycle.requeued() else { return false }
        let before = video.status
        for action in actions {
            switch action {
            case .persist(let status, let error):
                video.status = status
                video.error = error
                guard try await store.update(video, expected: before) else { return false }
            case .resetAttempts:
                try await store.resetAttempts(job.video)
            case .enqueueTranscode:
                try await queue.requeue(job)
            case .completeMultipartUpload, .deleteOriginal, .abortUpload, .removeRow, .publishFinal:
                continue  // not actions of a requeue
            }
        }
        return true
    }
}
