import CAV
import Foundation

/// The loudness measurement (`TranscodeOptions.loudness`): every audio track of the source,
/// decoded on a thread of its own over a second read of the source, resampled as the AAC
/// encoders' input is (48 kHz stereo, the same downmix), and metered (EBU R128).
///
/// It overlaps the video: the decode stage starts at once, and only the audio chains wait
/// for the gains, holding their samples meanwhile (`DecodeStage`). An audio-only read of a
/// file is much faster than its transcode, so the hold is short; past its bound the decode
/// thread waits. A measurement that cannot be made (a corrupt stream) leaves the tracks at
/// unity gain with a note: loudness is a nicety, never a reason to fail a video.
final class LoudnessPass: @unchecked Sendable {
    // @unchecked: `finished` and `note` are guarded by `condition`; the rest belongs to the thread.
    private let condition = NSCondition()
    private var finished: [Int: Loudness.Measurement]?
    private var failure: String?
    private let done = DispatchSemaphore(value: 0)
    private let stopFlag = CancellationFlag()
    private let source: any ByteSource
    private let name: String
    private let streams: [Int]
    private let cancellation: CancellationFlag
    private let maxDurationSeconds: Double?
    /// The source's length, to tell how far the measurement has come.
    private let durationSeconds: Double?
    private var started = false
    private var startedAt = Date()
    /// Seconds of audio measured so far (the furthest track, over every span), under `condition`.
    private var measuredSeconds = 0.0
    /// Each span's share of `measuredSeconds`, under `condition`.
    private var spanSeconds: [Double] = [0]

    /// - Parameter streams: the source's stream index of each track to measure.
    init(source: any ByteSource, name: String, streams: [Int], maxDurationSeconds: Double?, durationSeconds: Double?,
         cancellation: CancellationFlag) {
        self.durationSeconds = durationSeconds
        self.source = source
        self.name = name
        self.streams = streams
        self.maxDurationSeconds = maxDurationSeconds
        self.cancellation = cancellation
    }

    /// Runs on the pass's thread once it has measured (nil: the measurement failed), over its
    /// own read of the source: a progressive run's normalised encode (`NormalisedAudio`).
    /// Set before `start`.
    var then: ((_ measurements: [Int: Loudness.Measurement]?, _ reader: any ByteSource, _ stop: CancellationFlag) -> Void)?
    /// Whether it waits for `begin()`, at a lowered priority: in a progressive run with
    /// separate audio nothing waits for it but the end of the run, and its read, even at a
    /// lowered priority, made the first segment 0.5 s later on 2 cores (docs/performance.md).
    /// Set before `start`.
    var startsAfterPlayable = false {
        didSet { beginning = startsAfterPlayable ? DispatchSemaphore(value: 0) : nil }
    }
    private var beginning: DispatchSemaphore?
    /// Whether the source is measured in its spans (`LoudnessRead.spans`), this many read at
    /// once, each over a read of its own: the audio task's, whose encode waits for the whole
    /// measurement. nil (elsewhere, where the pass overlaps the video's encode): one read,
    /// as spans read one after another would open the source, and read its index, once each
    /// for nothing. Set before `start`.
    var spansAtOnce: Int?
    /// Past 4 reads at once, the measurement is a few percent of the audio task, and each
    /// more read holds about 6 MB (a decoder, a demuxer's index, a meter's 3 s window) beside
    /// the chunks' encoders on a one-host run (docs/performance.md).
    static let maximumThreads = 4
    /// How many spans the measurement was made in, once it has ended (1: one read of the
    /// whole source). Read after `wait` returns.
    private(set) var spansRead = 0
    private let begun = NSLock()
    private var hasBegun = false

    /// Lets a pass that `startsAfterPlayable` read: the early ladder is out, or the decode
    /// has ended without one. Any thread; later calls do nothing.
    func begin() {
        begun.lock()
        defer { begun.unlock() }
        guard !hasBegun else { return }
        hasBegun = true
        beginning?.signal()
    }

    func start() {
        started = true
        startedAt = Date()
        let reader = source.concurrentReader()
        let thread = Thread { [self] in
            if startsAfterPlayable { ThreadPriority.lowerCurrentThread() }
            beginning?.wait()
            let outcome: [Int: Loudness.Measurement]
            var reason: String?
            do {
                outcome = try measure(reader)
            } catch {
                outcome = [:]
                if !isStopped { reason = "the loudness could not be measured (\(error)); the audio keeps its level" }
            }
            condition.lock()
            finished = outcome
            failure = reason
            condition.broadcast()
            condition.unlock()
            then?(reason == nil && !isStopped ? outcome : nil, reader, stopFlag)
            done.signal()
        }
        thread.name = "vstream.loudness"
        thread.start()
    }

    /// The measurements by stream index once the pass has ended (empty when it failed); nil
    /// while it runs.
    var measurements: [Int: Loudness.Measurement]? {
        condition.lock()
        defer { condition.unlock() }
        return finished
    }

    /// Seconds the measurement should still take, from its pace so far; nil when unknown.
    var secondsLeft: Double? {
        condition.lock()
        defer { condition.unlock() }
        guard finished == nil else { return 0 }
        guard let durationSeconds, durationSeconds > 0, measuredSeconds > 0 else { return nil }
        let done = min(1, measuredSeconds / durationSeconds)
        return Date().timeIntervalSince(startedAt) * (1 - done) / done
    }

    /// Why the tracks were left at their level, if the measurement failed.
    var note: String? {
        condition.lock()
        defer { condition.unlock() }
        return failure
    }

    /// Waits for the measurements, at most `seconds` (nil: as long as it takes); nil if the
    /// run is cancelled first, or the time runs out.
    func wait(seconds: Double? = nil) -> [Int: Loudness.Measurement]? {
        let deadline = seconds.map { Date().addingTimeInterval($0) }
        condition.lock()
        defer { condition.unlock() }
        while finished == nil {
            if cancellation.isCancelled { return nil }
            if let deadline, Date() >= deadline { return nil }
            _ = condition.wait(until: min(deadline ?? .distantFuture, Date().addingTimeInterval(0.1)))
        }
        return finished
    }

    /// How long the audio chains hold their source packets for the gains, and what they do then.
    struct Hold {
        /// Seconds of audio held per track (compressed, as the source has it).
        var seconds: Double
        /// Past it, how long to wait for the measurement: nil, as long as it takes (a whole
        /// run: memory is the bound); else that many seconds, then the track keeps its level
        /// (a progressive run: the first segment, so the time to playable, must not wait for
        /// a whole read of the source).
        var grace: Double?

        /// A whole run: 30 s per track (about 0.5 MB of AAC), then the decode thread waits.
        static let whole = Hold(seconds: 30, grace: nil)

        /// A progressive run: until the first audio past the first segment (what closes it),
        /// and half a second more: a cheap video (a small rung) reaches it before a read of
        /// the whole source can end.
        static func progressive(segmentDuration: Double) -> Hold {
            Hold(seconds: segmentDuration + 0.05, grace: 0.5)
        }
    }

    /// Stops the measurement without waiting (its result is no longer wanted).
    func stop() { stopFlag.cancel() }

    /// Stops the pass if it still runs, and waits for its thread: the pipeline's last step,
    /// so no read of the source outlives the run.
    func stopAndJoin() {
        guard started else { return }
        stopFlag.cancel()
        begin()
        done.wait()
        done.signal()  // a second call returns at once
    }

    private var isStopped: Bool { stopFlag.isCancelled || cancellation.isCancelled }

    /// Measures over `reader`: in one read, or in the source's spans, `spansAtOnce` of them
    /// at once. A source whose spans cannot be read exactly is measured in one read.
    private func measure(_ reader: any ByteSource) throws -> [Int: Loudness.Measurement] {
        let spans = spansAtOnce == nil ? [.whole] : LoudnessRead.spans(durationSeconds: durationSeconds)
        if let spansAtOnce, spans.count > 1 {
            do {
                return try measure(spans, atOnce: spansAtOnce, first: reader)
            } catch is LoudnessRead.NotSplittable {
                resetProgress(spans: 1)
            }
        }
        spansRead = 1
        return try read(.whole, index: 0, reader).mapValues(\.measurement)
    }

    /// Reads the spans, each on the first of `atOnce` threads that is free (one of them this
    /// one), and merges their meters.
    private func measure(_ spans: [LoudnessRead.Span], atOnce: Int, first reader: any ByteSource) throws
        -> [Int: Loudness.Measurement] {
        resetProgress(spans: spans.count)
        let outcomes = PartsOnThreads.run(parts: spans.count, threads: atOnce, name: "loudness", lowersPriority: startsAfterPlayable,
                                          callerContext: reader, helperContext: { source.concurrentReader() }) { index, reader in
            try self.read(spans[index], index: index, reader)
        }
        // A span that cannot be read exactly comes before any other reason, so the caller
        // reads the source whole instead.
        for case .failure(let error as LoudnessRead.NotSplittable)? in outcomes { throw error }
        for case .failure(let error)? in outcomes { throw error }
        var meters: [Int: [LoudnessMeter]] = [:]
        for outcome in outcomes {
            guard let outcome else { throw TranscodeError.Reason.cancelled }
            for (stream, meter) in try outcome.get() { meters[stream, default: []].append(meter) }
        }
        spansRead = spans.count
        return meters.mapValues { LoudnessMeter.measurement(of: $0) }
    }

    private func read(_ span: LoudnessRead.Span, index: Int, _ reader: any ByteSource) throws -> [Int: LoudnessMeter] {
        try LoudnessRead(streams: streams, span: span, maxDurationSeconds: maxDurationSeconds)
            .run(reader, name: name, stop: stopFlag, isStopped: { isStopped }) { seconds in
                condition.lock()
                spanSeconds[index] = seconds
                measuredSeconds = spanSeconds.reduce(0, +)
                condition.unlock()
            }
    }

    private func resetProgress(spans: Int) {
        condition.lock()
        spanSeconds = Array(repeating: 0, count: spans)
        measuredSeconds = 0
        condition.unlock()
    }
}
