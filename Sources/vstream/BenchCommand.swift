import ArgumentParser
import BenchKit
import Foundation
import HLSEngine

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time the engine against the ffmpeg CLI (one process, and one process per rung) on one input.")

    @Argument(help: "The input video (see fixtures/make_bench_input.sh).") var input: String
    @Option(help: "Measured runs per contender.") var runs = 5
    @Option(help: "Unmeasured warm-up runs per contender.") var warmup = 1
    @Option(help: "x264 preset for every contender.") var preset = "veryfast"
    @Option(help: "Write the report as JSON.") var json: String?
    @Option(help: "Write an SVG bar chart.") var svg: String?
    @Option(help: "Keep outputs here (default: a temporary folder).") var workDir: String?
    @Flag(help: "Skip PSNR/SSIM.") var noQuality = false
    @Flag(help: "Also run the engine with download.mp4 and the storyboard, to measure what they add.") var extras = false
    @Flag(help: "Split and stitch: the engine whole against the engine in chunks, paired (no ffmpeg).") var chunks = false
    @Option(help: "With --chunks: the chunks' length in seconds.") var chunkSeconds: Double = 20
    @Option(help: "With --chunks: chunks at once (default: a fifth of the cores, at least 2).") var parallelChunks: Int?

    func validate() throws {
        guard runs >= 1, warmup >= 0 else { throw ValidationError("--runs must be at least 1 and --warmup not negative") }
        guard chunkSeconds > 0, chunkSeconds.isFinite else { throw ValidationError("--chunk-seconds must be above 0") }
        if let parallelChunks, parallelChunks < 1 { throw ValidationError("--parallel-chunks must be at least 1") }
    }

    func run() throws {
        let work = workDir ?? FileManager.default.temporaryDirectory.appendingPathComponent("vstream-bench-\(getpid())").path
        var options = BenchRunner.Options(input: input, vstream: Self.executablePath(), workDirectory: work)
        options.runs = runs
        options.warmup = warmup
        options.preset = preset
        options.measureQuality = !noQuality
        if extras { options.contenders.append(.engineWithExtras) }
        if chunks {
            options.chunks = (chunkSeconds, parallelChunks ?? max(2, ProcessInfo.processInfo.activeProcessorCount / 5))
            options.contenders = [.engine, .engineChunked]
        }
        var runner = BenchRunner(options: options)
        runner.log = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
        let report: BenchReport
        do {
            report = try runner.run()
        } catch {
            Terminal.fail(error)
        }
        if workDir == nil { try? FileManager.default.removeItem(atPath: work) }
        print(ReportTable.render(report), terminator: "")
        if let json { try JSON.encode(report).write(toFile: json, atomically: true, encoding: .utf8) }
        if let svg { try ReportChart.svg(report).write(toFile: svg, atomically: true, encoding: .utf8) }
    }

    /// This binary, for the engine contender (`vstream transcode` as its own process).
    static func executablePath() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}
