import Foundation

/// Work cut into parts that a few threads take in turn: each thread (the caller's among
/// them) takes the next part nobody has, until none is left or one has failed. The
/// loudness measurement reads its spans this way, and the audio task encodes its spans.
///
/// Each helper thread gets its own context (a reader of the source that does not queue
/// behind the caller's: `ByteSource.concurrentReader`).
enum PartsOnThreads {
    /// Runs `part(index, context)` for every index below `parts` on up to `threads`
    /// threads, and returns each part's outcome in order: nil for a part never started
    /// because an earlier one failed.
    static func run<Value, Context>(parts: Int, threads: Int, name: String, lowersPriority: Bool = false,
                                    callerContext: Context, helperContext: () -> Context,
                                    part: @escaping (Int, Context) throws -> Value) -> [Result<Value, any Error>?] {
        let outcomes = Outcomes<Value>(count: parts)
        let taker = Taker<Context> { context in
            while let index = outcomes.next() {
                outcomes.set(index, Result { try part(index, context) })
            }
        }
        let group = DispatchGroup()
        for helper in 1..<max(1, min(threads, parts)) {
            let handed = Handed(context: helperContext())
            group.enter()
            let thread = Thread {
                if lowersPriority { ThreadPriority.lowerCurrentThread() }
                taker.take(handed.context)
                group.leave()
            }
            thread.name = "vstream.\(name).\(helper)"
            thread.start()
        }
        taker.take(callerContext)
        group.wait()
        return outcomes.all
    }
}

/// The loop every thread runs. @unchecked: each thread runs it on its own context, and the
/// outcomes it sets are locked.
private struct Taker<Context>: @unchecked Sendable {
    let take: (Context) -> Void
}

/// A helper thread's context. @unchecked: it is handed to that thread alone.
private struct Handed<Context>: @unchecked Sendable {
    let context: Context
}

/// Each part's outcome, and which part is the next to take; set from every thread.
private final class Outcomes<Value>: @unchecked Sendable {
    // @unchecked: every field is guarded by `lock`.
    private let lock = NSLock()
    private var results: [Result<Value, any Error>?]
    private var nextIndex = 0

    init(count: Int) { results = Array(repeating: nil, count: count) }

    /// The next part nobody has taken; nil once all are taken, or one has failed.
    func next() -> Int? {
        lock.withLock {
            guard nextIndex < results.count, !results.contains(where: { if case .failure = $0 { true } else { false } }) else { return nil }
            defer { nextIndex += 1 }
            return nextIndex
        }
    }

    func set(_ index: Int, _ result: Result<Value, any Error>) {
        lock.withLock { results[index] = result }
    }

    var all: [Result<Value, any Error>?] { lock.withLock { results } }
}
