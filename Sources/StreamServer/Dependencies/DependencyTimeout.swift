/// `VSTREAM_DEPENDENCY_TIMEOUT_SECONDS`, for the clients made deep inside the service
/// (Redis queues, counters, progress). `serve` and `worker` set it once at start, before
/// any client exists; it is read-only afterwards.
public enum DependencyTimeout {
    nonisolated(unsafe) public static var seconds: Double = 5
}
