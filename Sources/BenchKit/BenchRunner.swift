import Foundation
import HLSEngine

/// Runs the contenders in turn on one input and gathers a `BenchReport`.
public struct BenchRunner {
    public struct Options: Sendable {
        public var input: String
        public var runs = 5
        public var warmup = 1
        public var preset = "veryfast"
        public var segmentSeconds = 2.0
        public var rungs = Ladder.defaultRungs
        public var contenders = Contender.Kind.ladders
        /// The `vstream` binary for the engine contender.
        public var vstream: String
        public var workDirectory: String
        public var measureQuality = true
        /// `bench --chunks`: the chunked contender's chunk length and chunks at once; the
        /// engine contender then makes the same CMAF ladder whole.
        public var chunks: (seconds: Double, parallel: Int)?

        public init(input: String, vstream: String, workDirectory: String) {
            self.input = input
            self.vstream = vstream
            self.workDirectory = workDirectory
        }
    }

    public let options: Options
    public var log: @Sendable (String) -> Void = { _ in }

    public init(options: Options) { self.options = options }

    public func run() throws -> BenchReport {
        let info = try MediaProbe.probe(options.input)
        let renditions = Ladder.renditions(for: info.video.geometry, rungs: options.rungs)
        let settings = Contender.Settings(
            input: options.input, renditions: renditions, hasAudio: info.audio != nil, preset: options.preset,
            segmentSeconds: options.segmentSeconds, frameRate: info.video.frameRate)
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let contenders = options.contenders.map { kind in
            let output = options.workDirectory + "/" + kind.rawValue
            switch kind {
            case .engine: return Contender.engine(settings, vstream: options.vstream, output: output, dash: options.chunks != nil)
            case .engineChunked:
                return Contender.engineChunked(settings, vstream: options.vstream, output: output,
                                               seconds: options.chunks?.seconds ?? 20, parallel: options.chunks?.parallel ?? 2)
            case .engineWithExtras: return Contender.engine(settings, vstream: options.vstream, output: output, extras: true)
            case .ffmpegOneProcess: return Contender.ffmpegOneProcess(settings, output: output)
            case .ffmpegNaive: return Contender.ffmpegNaive(settings, output: output)
            }
        }

        var samples = Array(repeating: [ProcessSample](), count: contenders.count)
        var firstSegments: [[String: Double]] = []
        for round in 0..<(options.warmup + options.runs) {
            let measured = round >= options.warmup
            for (index, contender) in contenders.enumerated() {
                let output = options.workDirectory + "/" + contender.kind.rawValue
                try prepare(output, renditions: renditions)
                let watcher = contender.kind == .engine
                    ? FirstSegmentWatcher(directory: output, renditions: renditions.map(\.name)) : nil
                let sample = try MeasuredProcess.run(contender.commands)
                if measured {
                    samples[index].append(sample)
                    if let seen = watcher?.stop() { firstSegments.append(seen) }
                } else {
                    _ = watcher?.stop()
                }
                log("\(measured ? "run \(round - options.warmup + 1)" : "warm-up") \(contender.kind.rawValue): "
                    + String(format: "%.2f s wall, %.2f s CPU, %d MiB", sample.wallSeconds, sample.cpuSeconds, sample.peakRSSBytes >> 20))
            }
        }

        let engineIndex = contenders.firstIndex { $0.kind == .engine }
        var results: [BenchReport.ContenderResult] = []
        for (index, contender) in contenders.enumerated() {
            let runs = samples[index]
            let wall = Summary(runs.map(\.wallSeconds))
            let cpu = Summary(runs.map(\.cpuSeconds))
            let engineRuns = engineIndex.map { samples[$0] } ?? runs
            func paired(_ value: (ProcessSample) -> Double) -> Summary {
                Summary(zip(engineRuns, runs).map { value($0) / max(value($1), 1e-9) })
            }
            var quality: [QualityMeter.Measurement] = []
            // The extras do not change the ladder: its quality is the engine's.
            if options.measureQuality, contender.kind != .engineWithExtras {
                log("measuring quality: \(contender.kind.rawValue)")
                let output = options.workDirectory + "/" + contender.kind.rawValue
                quality = try renditions.map { rendition in
                    try QualityMeter.measure(
                        rendition: rendition.name, width: rendition.width, height: rendition.height,
                        playlist: output + "/" + (contender.playlists[rendition.name] ?? ""), source: options.input,
                        durationSeconds: info.durationSeconds)
                }
            }
            var result = BenchReport.ContenderResult(
                name: contender.kind.rawValue, commandLines: contender.shellLines, runs: runs,
                wallSeconds: wall, cpuSeconds: cpu, peakRSSBytes: Summary(runs.map { Double($0.peakRSSBytes) }),
                framesPerSecond: Double(info.video.frameCount) / max(wall.median, 1e-9),
                cpuUtilisation: cpu.median / max(wall.median * Double(cores), 1e-9),
                engineRatio: .init(wall: paired(\.wallSeconds), cpu: paired(\.cpuSeconds),
                                   peakRSS: paired { Double($0.peakRSSBytes) }),
                quality: quality)
            if contender.kind == .engine, !firstSegments.isEmpty {
                var medians: [String: Double] = [:]
                for rendition in renditions {
                    medians[rendition.name] = Summary(firstSegments.compactMap { $0[rendition.name] }).median
                }
                result.firstSegmentSeconds = medians
                let shares = zip(firstSegments, runs).map { seen, run in (seen.values.max() ?? run.wallSeconds) / run.wallSeconds }
                result.firstSegmentShareOfWall = Summary(shares).median
            }
            results.append(result)
        }

        return BenchReport(
            input: .init(path: options.input, width: info.video.displayWidth, height: info.video.displayHeight,
                         frames: info.video.frameCount, durationSeconds: info.durationSeconds, hasAudio: info.audio != nil),
            host: .init(cores: cores, ffmpegVersion: Self.ffmpegVersion()),
            settings: .init(preset: options.preset, runs: options.runs, warmup: options.warmup,
                            segmentSeconds: options.segmentSeconds, renditions: renditions.map(\.name),
                            order: contenders.map(\.kind.rawValue)),
            contenders: results)
    }

    /// A fresh output folder with one subfolder per rendition (the hls muxer wants them).
    private func prepare(_ output: String, renditions: [Rendition]) throws {
        try? FileManager.default.removeItem(atPath: output)
        for rendition in renditions {
            try FileManager.default.createDirectory(atPath: output + "/" + rendition.name, withIntermediateDirectories: true)
        }
    }

    static func ffmpegVersion() -> String {
        let text = (try? QualityMeter.capture(["sh", "-c", "ffmpeg -version | head -1 1>&2"])) ?? ""
        return text.split(separator: "\n").first.map(String.init) ?? "unknown"
    }
}

/// Polls an engine run's output for each rendition's first complete segment (the engine
/// writes `NAME.part` and renames it when complete).
final class FirstSegmentWatcher: @unchecked Sendable {
    // @unchecked: `seen` and `running` are guarded by `lock`.
    private let lock = NSLock()
    private var seen: [String: Double] = [:]
    private var running = true
    private let done = DispatchSemaphore(value: 0)

    init(directory: String, renditions: [String]) {
        let started = ContinuousClock.now
        let thread = Thread { [self] in
            while lock.withLock({ running }) {
                for name in renditions where lock.withLock({ seen[name] == nil }) {
                    if FileManager.default.fileExists(atPath: "\(directory)/\(name)/segment_00000.m4s") {
                        let elapsed = (ContinuousClock.now - started) / .seconds(1)
                        lock.withLock { seen[name] = elapsed }
                    }
                }
                usleep(5_000)
            }
            done.signal()
        }
        thread.start()
    }

    func stop() -> [String: Double] {
        lock.withLock { running = false }
        done.wait()
        return lock.withLock { seen }
    }
}
