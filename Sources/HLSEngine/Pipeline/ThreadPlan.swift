/// How the pipeline's threads share the host's cores: x264 threads per rung, and
/// which stage keeps the normal scheduling priority.
///
/// Two measured facts drive it (docs/performance.md, "Scheduling"):
/// - x264's frame threads are the costly way to fill a core. On 2 cores, one x264
///   thread per rung uses 80 MiB and about 1% of CPU less than two per rung. So
///   threads follow each rung's share of the ladder's pixels times the cores, rounded
///   down: 1080p gets a second thread only from 4 cores up.
/// - With one thread per stage, the largest rung is the critical path: on 2 cores it
///   needs a whole core for itself, while decoding and the smaller rungs fill the
///   other. Linux's fair scheduler instead gives every runnable thread an equal share,
///   so the largest rung falls behind, its queue fills, decoding blocks and a core idles
///   (16.98 s against 15.57 s with priorities, at the same queue depth). Every other
///   stage thread therefore lowers its own priority (`ThreadPriority.lowerCurrentThread`):
///   it runs whenever the critical rung leaves a core free, and never takes its core.
struct ThreadPlan: Equatable {
    /// x264 threads for each rendition, in ladder order.
    var encoderThreads: [Int]
    /// The rendition whose thread keeps the normal priority; nil when every stage
    /// thread is scheduled alike.
    var criticalRendition: Int?

    static func make(for renditions: [Rendition], cores: Int, encoderThreads override: Int?,
                     prioritizeLargestRung: Bool) -> ThreadPlan {
        let pixels = renditions.map { $0.width * $0.height }
        let total = max(pixels.reduce(0, +), 1)
        let cores = max(cores, 1)
        let threads = pixels.map { rungPixels in
            if let override, override > 0 { return override }
            return max(1, rungPixels * cores / total)
        }
        let largest = pixels.indices.max { pixels[$0] < pixels[$1] }
        return ThreadPlan(encoderThreads: threads, criticalRendition: prioritizeLargestRung ? largest : nil)
    }

    /// Whether `index`'s rendition thread lowers its priority.
    func lowersPriority(ofRendition index: Int) -> Bool {
        criticalRendition.map { $0 != index } ?? false
    }

    /// Whether the decoding (pipeline) thread lowers its priority.
    var lowersDecoderPriority: Bool { criticalRendition != nil }
}
