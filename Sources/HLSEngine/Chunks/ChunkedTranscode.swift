import Foundation

/// Split and stitch on one host: the source cut into chunks of whole segments, up to
/// `parallel` chunks encoded at once (each with its share of the cores), then stitched
/// into one ladder. A single video then keeps every core busy, where one whole-file run
/// is limited by how far x264's frame threads scale on its largest rung.
///
/// ```swift
/// let result = try await ChunkedTranscode(input: "film.mp4", output: "film", chunkSeconds: 10, parallel: 4).run()
/// ```
public struct ChunkedTranscode: Sendable {
    public let input: String
    public let output: String
    public var options: TranscodeOptions
    public let chunkSeconds: Double
    public let parallel: Int

    /// Hosts with more cores than this chunk by default: one whole-file run of the 1080p
    /// ladder keeps about 10 cores busy (issue 21's measurement on a 16-core host).
    public static let coresOneRunKeepsBusy = 10

    /// `transcode`'s default: 20 s chunks, a fifth of the cores' worth at once (3 on 16),
    /// on a host with more cores than one run keeps busy; nil (whole) otherwise. Measured
    /// on 16 cores: 0.71× the whole run's wall time (docs/performance.md).
    public static func automatic(cores: Int = ProcessInfo.processInfo.activeProcessorCount) -> (seconds: Double, parallel: Int)? {
        cores > coresOneRunKeepsBusy ? (20, max(2, cores / 5)) : nil
    }

    /// x264 threads for every rung of a chunk that runs beside others: the chunk's share of
    /// the cores, for each of its rungs (5 each on 16 cores with 3 chunks at once), so the
    /// chunks together oversubscribe the host about as many times as there are rungs.
    /// - With the share divided among the rungs by pixels, each 1080p encoder had 2 or 3
    ///   threads and the chunks kept no more cores busy than one whole run.
    /// - The same number for every rung was the fastest plan measured on 16 cores (20 s chunks
    ///   x3: 0.71x the whole run's wall time), and it spends memory where a thread is cheap:
    ///   a 1080p x264 thread holds about 25 MiB, a 360p one about 3. Emulated with `--cores 16`,
    ///   it peaks at 1802 MiB where each chunk with the whole host's plan (10/4/1) peaked at 2063.
    /// - A share rather than the whole host keeps memory linear in the chunks on a larger host.
    /// (docs/performance.md, "Split and stitch")
    static func encoderThreadsPerRung(cores: Int, parallel: Int) -> Int {
        max(1, cores / max(1, parallel))
    }

    public init(input: String, output: String, options: TranscodeOptions = TranscodeOptions(), chunkSeconds: Double, parallel: Int) {
        self.input = input
        self.output = output
        self.options = options
        self.chunkSeconds = chunkSeconds
        self.parallel = max(1, parallel)
    }

    /// The chunks a source is cut into, as every chunk run computes them. A source longer
    /// than `maxDurationSeconds` is refused as `tooLong`, from its declared length before
    /// any packet is read, else once its packets pass the limit.
    public static func plan(input: String, segmentDuration: Double, chunkSeconds: Double,
                            maxDurationSeconds: Double? = nil) throws(TranscodeError) -> ChunkPlan {
        try planAndAudio(input: input, segmentDuration: segmentDuration, chunkSeconds: chunkSeconds,
                         maxDurationSeconds: maxDurationSeconds).plan
    }

    /// The plan, and whether the source has audio (for the audio task).
    private static func planAndAudio(input: String, segmentDuration: Double, chunkSeconds: Double,
                                     maxDurationSeconds: Double?) throws(TranscodeError) -> (plan: ChunkPlan, hasAudio: Bool) {
        do {
            let source = try FileByteSource(path: input)
            let opened = try MediaProbe.open(source, name: input)
            let info = try MediaProbe.describe(opened, countPackets: false, maxDurationSeconds: maxDurationSeconds)
            switch try ChunkPlanner.plan(opened, info: info, segmentDuration: segmentDuration, chunkSeconds: chunkSeconds,
                                         maxDurationSeconds: maxDurationSeconds, cancellation: CancellationFlag()) {
            case .success(let plan): return (plan, info.audio != nil)
            case .failure(.timestampsNeedRepair(let why)):
                throw TranscodeError.Reason.chunking("this source cannot be cut into chunks (\(why)); transcode it whole")
            }
        } catch let error as TranscodeError {
            throw error
        } catch {
            throw TranscodeError(input: input, reason: (error as? TranscodeError.Reason) ?? .io(String(describing: error)))
        }
    }

    /// A source that cannot be cut (timestamps that need repair: missing, repeated, jumping) is
    /// transcoded whole, into the same CMAF ladder.
    ///
    /// With more than one chunk, the audio is the audio task's (`ChunkSelection.audioTask`),
    /// run beside the chunks from the start: chunk 0 then takes as long as the others, where
    /// carrying the whole file's audio and its loudness pass made it the last to finish.
    public func run() async throws -> TranscodeResult {
        var planned: (plan: ChunkPlan, hasAudio: Bool)?
        do {
            planned = try Self.planAndAudio(input: input, segmentDuration: options.segmentDuration, chunkSeconds: chunkSeconds,
                                            maxDurationSeconds: options.maxDurationSeconds)
        } catch {
            guard error.reason.isChunking else { throw error }
        }
        guard let (plan, hasAudio) = planned else {
            var whole = options
            whole.dash = true
            return try await Transcoder(input: input, output: output, options: whole).run()
        }
        let folder = URL(fileURLWithPath: output).appendingPathComponent(".chunks").path
        let outputExisted = FileManager.default.fileExists(atPath: output)
        defer {
            try? FileManager.default.removeItem(atPath: folder)
            // A run that failed or was cancelled leaves no empty output folder of its own making.
            if !outputExisted, (try? FileManager.default.contentsOfDirectory(atPath: output))?.isEmpty == true {
                try? FileManager.default.removeItem(atPath: output)
            }
        }
        let cores = options.cores ?? ProcessInfo.processInfo.activeProcessorCount
        var chunkOptions = options
        chunkOptions.cores = cores
        chunkOptions.encoderThreads = options.encoderThreads ?? Self.encoderThreadsPerRung(cores: cores, parallel: parallel)
        chunkOptions.decoderThreads = max(1, min(4, cores / parallel / 2))
        chunkOptions.progressive = false
        let folders = plan.chunks.map { "\(folder)/\($0.index)" }
        let audioApart = hasAudio && plan.allowsAudioTask
        let audioFolder = "\(folder)/audio"
        // One group, so the first failure (the audio's too) stops every run at once. The audio
        // task is one thread's work beside the chunks, not one of the `parallel` places.
        try await withThrowingTaskGroup(of: Bool.self) { group in  // true: a chunk finished
            if audioApart {
                var options = chunkOptions
                options.chunk = .audioTask(seconds: chunkSeconds)
                let transcoder = Transcoder(input: input, output: audioFolder, options: options)
                group.addTask {
                    _ = try await transcoder.run()
                    return false
                }
            }
            var running = 0
            for chunk in plan.chunks {
                // At most `parallel` at once, chunk 0 first.
                while running >= parallel {
                    if try await group.next() == true { running -= 1 }
                }
                var options = chunkOptions
                options.chunk = ChunkSelection(index: chunk.index, seconds: chunkSeconds, audio: audioApart ? .apart : .withChunkZero)
                let transcoder = Transcoder(input: input, output: folders[chunk.index], options: options)
                group.addTask {
                    _ = try await transcoder.run()
                    return true
                }
                running += 1
            }
            try await group.waitForAll()
        }
        return try LadderStitcher(output: output, chunks: folders + (audioApart ? [audioFolder] : [])).stitch()
    }
}
