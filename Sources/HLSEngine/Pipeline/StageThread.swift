import Foundation

/// Starts one queue-fed stage of the pipeline (a rung, or the audio rendition) on a thread
/// of its own. A failure goes to `failed` and stops the run (`abort`); the stage's queue is closed
/// either way, so the decode thread never waits on a stage that has stopped; then `done`
/// is signalled for `join`.
enum StageThread {
    static func start(name: String, lowersPriority: Bool, queue: BoundedQueue<RenditionInput>, done: DispatchSemaphore,
                      cancellation: CancellationFlag,
                      body: @escaping @Sendable () throws -> Void, failed: @escaping @Sendable (Error) -> Void) {
        let thread = Thread {
            if lowersPriority { ThreadPriority.lowerCurrentThread() }
            do {
                try body()
            } catch {
                failed(error)
                cancellation.abort()
            }
            queue.closeAndDiscard()
            done.signal()
        }
        thread.name = name
        thread.start()
    }
}
