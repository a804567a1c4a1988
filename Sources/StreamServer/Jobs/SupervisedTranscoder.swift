import ChildProcess
import Foundation
import HLSEngine
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Runs one transcode in a child process, `vstream transcode INPUT -o OUT --supervised`,
/// so that nothing a media file does to the engine can take the service down: a crash in
/// a C library, a runaway allocation or a hang ends that job's attempt, never the server.
///
///     spawn ─▶ cap its address space (prlimit) ─▶ "go" on its stdin ─▶ read JSON lines
///        (progress → `onEvent`; the last line is the result or the failure) ─▶ reap
///
/// - The child waits for "go" before it opens the input, so the memory limit is in place
///   before it reads a byte. It isolates itself first (no network namespace, dies with
///   its parent, no inherited descriptors; see `SupervisedChild` in the vstream target).
/// - A deadline kills it: `timeoutSeconds` when set, otherwise 5 minutes to probe and
///   then 120 s + 4 × the source's duration (the engine runs at ~0.75 × real time on 2 cores).
/// - Cancelling the awaiting task kills it with SIGKILL at once.
/// - How it ended becomes a `TranscoderMessage.Failure` a user can read: its own typed
///   error, "the transcoder crashed (signal 11)", "ran out of memory", or the timeout.
///   What it printed on stderr goes to the log only.
public struct SupervisedTranscoder: Sendable {
    public struct Limits: Sendable, Equatable {
        /// The vstream executable (normally this process's own).
        public var executable: String
        /// `VSTREAM_TRANSCODE_MEMORY_MIB`: the child's address-space limit.
        public var memoryMiB: Int = 3072
        /// `VSTREAM_JOB_TIMEOUT_SECONDS`: nil derives it from the source's duration.
        public var timeoutSeconds: Double?
        /// `VSTREAM_MAX_DURATION_SECONDS`: sources longer than this are refused.
        public var maxDurationSeconds: Double = 14_400

        public init(executable: String) { self.executable = executable }

        /// The deadline after the start, once the source's duration is known (or not yet).
        func timeout(sourceDuration: Double?) -> Double {
            if let timeoutSeconds { return timeoutSeconds }
            guard let sourceDuration, sourceDuration.isFinite, sourceDuration >= 0 else { return 300 }
            return 120 + 4 * min(sourceDuration, maxDurationSeconds)
        }
    }

    public let limits: Limits

    public init(limits: Limits) { self.limits = limits }

    /// Transcodes `input` into `output`. `onEvent` is called on a reader thread;
    /// `onSpawn` gets the child's pid (for tests that look at it in /proc).
    /// - Throws: `TranscoderMessage.Failure`, or `CancellationError` when cancelled.
    /// With `progressive`, the child publishes while it transcodes and `onPublication`
    /// gets each segment and the early master, in order, on the reader thread.
    /// With `relaying`, the child reads that source through a socket (`SourceRelay`)
    /// instead of opening `input`, which is then only its name.
    public func run(input: String, output: String, options: TranscodeOptions = TranscodeOptions(),
                    relaying source: (any ByteSource)? = nil, onSpawn: @Sendable (Int32) -> Void = { _ in },
                    onEvent: @escaping @Sendable (TranscodeEvent) -> Void,
                    onPublication: @escaping @Sendable (Publication) -> Void = { _ in }) async throws -> TranscodeResult {
        var environment = ProcessInfo.processInfo.environment
        environment["MALLOC_ARENA_MAX"] = "2"  // glibc reserves 64 MiB of address space per arena otherwise
        let child: PipedChild
        // Two relays of the source: the transcode's reads, and the loudness measurement's.
        var relays: [(ours: Int32, theirs: Int32)] = []
        do {
            // The options travel as one JSON request on stdin; only what the child needs
            // before it reads (the input's name, its relay) is on the command line.
            var arguments = [limits.executable, "transcode", input, "-o", output, "--supervised"]
            if let source {
                guard let size = source.size else { throw TranscodeError.Reason.io("a relayed source needs its size") }
                for _ in 0..<2 {
                    var pair: [Int32] = [-1, -1]
                    guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
                        throw TranscodeError.Reason.io("socketpair: \(String(cString: strerror(errno)))")
                    }
                    relays.append((pair[0], pair[1]))
                }
                arguments += ["--relayed-source-size", String(size)]
            }
            child = try PipedChild.spawn(arguments, environment: environment, passing: relays.map(\.theirs))
            // The child has its copies: each relay must see the end of its socket when it exits.
            for relay in relays { close(relay.theirs) }
        } catch {
            for relay in relays {
                close(relay.ours)
                close(relay.theirs)
            }
            throw TranscoderMessage.Failure(detail: "\(error)", userMessage: "the transcoder could not be started",
                                            isBadMedia: false, isCancelled: false)
        }
        onSpawn(child.process.pid)
        // The relay ends when the child closes its end (it exits, or is killed).
        if let source { for relay in relays { SourceRelay.start(source, descriptor: relay.ours) } }
        var options = options
        options.maxDurationSeconds = min(options.maxDurationSeconds ?? limits.maxDurationSeconds, limits.maxDurationSeconds)
        let session = SupervisedSession(child: child, limits: limits, request: TranscoderRequest(options: options),
                                        onEvent: onEvent, onPublication: onPublication)
        return try await withTaskCancellationHandler {
            try await session.run()
        } onCancel: {
            session.kill(.cancelled)
        }
    }
}

/// One running child: its reader threads, its deadline and why we killed it, if we did.
private final class SupervisedSession: Sendable {
    enum KillReason: Sendable { case cancelled, timedOut(Double), protocolError, protocolMismatch(String) }

    private struct State {
        var deadline: ContinuousClock.Instant
        var killed: KillReason?
        var last: TranscoderMessage?
        var finished = false
        /// The child's `hello`; nil until it says it.
        var greeted = false
        /// Lines that were not a message of this protocol.
        var unreadable = 0
    }

    private let child: PipedChild
    private let limits: SupervisedTranscoder.Limits
    private let request: TranscoderRequest
    private let onEvent: @Sendable (TranscodeEvent) -> Void
    private let onPublication: @Sendable (Publication) -> Void
    private let started = ContinuousClock.now
    private let state: Mutex<State>
    private let errors = Mutex<[UInt8]>([])
    /// The largest line the child may write (a result names every segment's rendition).
    private static let maxLine = 1 << 20

    init(child: PipedChild, limits: SupervisedTranscoder.Limits, request: TranscoderRequest,
         onEvent: @escaping @Sendable (TranscodeEvent) -> Void, onPublication: @escaping @Sendable (Publication) -> Void) {
        self.child = child
        self.limits = limits
        self.request = request
        self.onEvent = onEvent
        self.onPublication = onPublication
        state = Mutex(State(deadline: ContinuousClock.now + .seconds(limits.timeout(sourceDuration: nil))))
    }

    func kill(_ reason: KillReason) {
        let first = state.withLock { state -> Bool in
            guard state.killed == nil, !state.finished else { return false }
            state.killed = reason
            return true
        }
        if first { child.process.signal(SIGKILL) }
    }

    func run() async throws -> TranscodeResult {
        if !child.limitAddressSpace(bytes: UInt64(max(256, limits.memoryMiB)) << 20) {
            kill(.protocolError)
        }
        // The request, once the limit is set: the child opens nothing before it.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var line = [UInt8]((try? encoder.encode(request)) ?? Data())
        line.append(UInt8(ascii: "\n"))
        var sent = 0
        while sent < line.count {
            let count = line[sent...].withUnsafeBytes { write(child.input, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }  // the child is gone; its exit says why
            sent += count
        }
        close(child.input)
        let watchdog = Task { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(250))
                let overdue = state.withLock { !$0.finished && ContinuousClock.now > $0.deadline }
                if overdue { kill(.timedOut(limits.timeout(sourceDuration: nil))) }
            }
        }
        defer { watchdog.cancel() }
        let status: Int32 = await withCheckedContinuation { continuation in
            let stderrDone = DispatchSemaphore(value: 0)
            let stderrReader = Thread { [self] in
                readErrors()
                stderrDone.signal()
            }
            stderrReader.start()
            let reader = Thread { [self] in
                readMessages()
                let status = child.process.wait()
                close(child.output)
                // Its last words (an allocation failure, say) decide how its death reads.
                stderrDone.wait()
                state.withLock { $0.finished = true }
                continuation.resume(returning: status)
            }
            reader.name = "vstream.supervisor"
            reader.start()
        }
        return try outcome(status: status)
    }

    /// What the exit status and the last line mean.
    private func outcome(status: Int32) throws -> TranscodeResult {
        let (killed, last) = state.withLock { ($0.killed, $0.last) }
        switch killed {
        case .cancelled: throw CancellationError()
        case .timedOut:
            let seconds = Int((ContinuousClock.now - started) / .seconds(1))
            throw failure("the transcode took too long and was stopped after \(seconds) s", badMedia: false)
        case .protocolError: throw failure("the transcoder could not be supervised", badMedia: false)
        case .protocolMismatch(let message): throw failure(message, badMedia: false)
        case nil: break
        }
        if status == 0, case .result(let result) = last { return result }
        if case .failure(let failure) = last {
            if failure.isCancelled { throw CancellationError() }
            throw failure
        }
        if status > 128 {
            let signal = status - 128
            // SIGKILL we did not send is the kernel's OOM killer; an abort after a failed
            // allocation says so on stderr.
            if signal == SIGKILL || stderrTail.lowercased().contains("memory") {
                throw failure("ran out of memory", badMedia: false)
            }
            throw failure("the transcoder crashed (signal \(signal))", badMedia: false)
        }
        if state.withLock({ !$0.greeted && $0.unreadable > 0 }) {
            // It wrote, but nothing this service can read: another release's transcoder.
            throw failure(TranscoderRequest.mismatch(service: TranscoderRequest.protocolVersion, transcoder: nil), badMedia: false)
        }
        throw failure("the transcoder stopped unexpectedly (exit \(status))", badMedia: false)
    }

    private func failure(_ message: String, badMedia: Bool) -> TranscoderMessage.Failure {
        TranscoderMessage.Failure(detail: "\(message); stderr: \(stderrTail)", userMessage: message,
                                  isBadMedia: badMedia, isCancelled: false)
    }

    /// The last 4 KiB the child wrote on stderr, for the log.
    var stderrTail: String { String(decoding: errors.withLock { $0 }, as: UTF8.self) }

    private func readErrors() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(child.errors, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            errors.withLock { tail in
                tail.append(contentsOf: buffer[0..<count])
                if tail.count > 4096 { tail.removeFirst(tail.count - 4096) }
            }
        }
        close(child.errors)
    }

    private func readMessages() {
        let decoder = JSONDecoder()
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(child.output, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            pending.append(contentsOf: buffer[0..<count])
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = pending[..<newline]
                pending.removeSubrange(...newline)
                guard let message = try? decoder.decode(TranscoderMessage.self, from: Data(line)) else {
                    state.withLock { $0.unreadable += 1 }
                    continue
                }
                handle(message)
            }
            if pending.count > Self.maxLine { kill(.protocolError) }
        }
    }

    private func handle(_ message: TranscoderMessage) {
        // The first message must be the child's hello, naming this protocol.
        let greeting = state.withLock { state -> String? in
            if case .hello(let version) = message {
                state.greeted = true
                return version == TranscoderRequest.protocolVersion
                    ? nil : TranscoderRequest.mismatch(service: TranscoderRequest.protocolVersion, transcoder: version)
            }
            return state.greeted ? nil : TranscoderRequest.mismatch(service: TranscoderRequest.protocolVersion, transcoder: nil)
        }
        if let greeting {
            kill(.protocolMismatch(greeting))
            return
        }
        state.withLock { state in
            state.last = message
            if case .progress(let event) = message, let duration = event.sourceDurationSeconds, limits.timeoutSeconds == nil {
                state.deadline = started + .seconds(limits.timeout(sourceDuration: duration))
            }
        }
        switch message {
        case .progress(let event): onEvent(event)
        case .publication(let publication):
            // Files are stored by its names: one that leaves the ladder is a child gone wrong.
            guard publication.isWellFormed else { return kill(.protocolError) }
            onPublication(publication)
        case .hello, .result, .failure: break
        }
    }
}
