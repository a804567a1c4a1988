#if canImport(Glibc)
import Glibc
#endif

/// Lowers the scheduling priority of the calling thread only.
///
/// On Linux the nice value belongs to each thread, and `setpriority(PRIO_PROCESS, 0, …)`
/// changes the calling thread's alone (setpriority(2), "BUGS"). Threads started later
/// from this one inherit it, so call it after starting them. Raising a nice value needs
/// no privilege; lowering it back would, which is why the pipeline never does.
enum ThreadPriority {
    /// Added to the thread's nice value: at +10 a thread gets about a tenth of the
    /// weight of one at +0 when both want the same core, and all of a core nobody else wants.
    static let feederNiceIncrement: Int32 = 10

    static func lowerCurrentThread(by increment: Int32 = feederNiceIncrement) {
        #if os(Linux)
        errno = 0
        let current = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
        guard errno == 0 else { return }
        // A failure leaves the thread at its priority: slower on a busy host, still correct.
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, min(current + increment, 19))
        #endif
    }

    /// The calling thread's nice value (for tests and diagnostics).
    static var currentNice: Int32 {
        #if os(Linux)
        return getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
        #else
        return 0
        #endif
    }
}
