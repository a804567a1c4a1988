import Foundation
import Testing
@testable import BenchKit
import HLSEngine

private let repository = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
private func fixture(_ name: String) -> String { repository.appendingPathComponent("fixtures/media/\(name)").path }
private let vstream = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    .appendingPathComponent("vstream").path

@Suite("Summary")
struct SummaryTests {
    @Test func medianOfOddAndEvenCounts() {
        #expect(Summary([3, 1, 2]) == Summary(median: 2, min: 1, max: 3))
        #expect(Summary([4, 1, 3, 2]).median == 2.5)
        #expect(Summary([]).median == 0)
    }
}

extension Summary {
    init(median: Double, min: Double, max: Double) {
        self.init([min, median, max])
    }
}

@Suite("Contender command lines")
struct ContenderTests {
    let settings = Contender.Settings(
        input: "in.mp4", renditions: Ladder.renditions(for: DisplayGeometry(codedWidth: 1920, codedHeight: 1080)),
        hasAudio: true, preset: "veryfast", segmentSeconds: 2, frameRate: 30)

    @Test func oneProcessSplitsOnceAndMapsEveryVariant() {
        let contender = Contender.ffmpegOneProcess(settings, output: "/out")
        #expect(contender.commands.count == 1)
        let command = contender.commands[0]
        let graph = command[command.firstIndex(of: "-filter_complex")! + 1]
        #expect(graph.hasPrefix("[0:v]split=3[s0][s1][s2];"))
        #expect(graph.contains("scale=640:360:flags=bicubic") && graph.contains("scale=1920:1080:flags=bicubic"))
        #expect(command.filter { $0 == "0:a:0" }.count == 3, "the hls muxer needs one audio stream per variant")
        #expect(command.contains("v:0,a:0,name:360p v:1,a:1,name:720p v:2,a:2,name:1080p"))
        #expect(command.contains("-b:v:2") && command.contains("5000k") && command.contains("-maxrate:v:2"))
        #expect(command.contains("expr:gte(t,n_forced*2)") && command.contains("scenecut=0:open-gop=0:keyint=250"))
    }

    @Test func naiveRunsOneProcessPerRungEachDecodingTheSource() {
        let contender = Contender.ffmpegNaive(settings, output: "/out")
        #expect(contender.commands.count == 3)
        #expect(contender.commands.allSatisfy { $0.contains("-i") && $0.contains("in.mp4") })
        #expect(contender.commands.map { $0[$0.firstIndex(of: "-vf")! + 1] } ==
                ["scale=640:360:flags=bicubic", "scale=1280:720:flags=bicubic", "scale=1920:1080:flags=bicubic"])
    }

    @Test func engineGetsTheSameLadderAndPreset() {
        let command = Contender.engine(settings, vstream: "/bin/vstream", output: "/out").commands[0]
        #expect(Array(command.prefix(5)) == ["/bin/vstream", "transcode", "in.mp4", "-o", "/out"])
        #expect(command.contains("360,720,1080") && command.contains("veryfast"))
        // The ladder alone, as ffmpeg's contenders make it (no loudness pass either);
        // `--extras` measures the rest.
        #expect(command.suffix(5) == ["--mp4", "none", "--no-storyboard", "--loudness", "off"])
        #expect(command.contains("--chunk-seconds") && command[command.firstIndex(of: "--chunk-seconds")! + 1] == "0",
                "one whole run, also on a host that would chunk by default")
        let extras = Contender.engine(settings, vstream: "/bin/vstream", output: "/out", extras: true)
        #expect(extras.kind == .engineWithExtras && extras.commands[0].suffix(2) == ["--mp4", "720p"])
    }

    @Test func shellLinesQuoteWhatAShellWouldSplit() {
        #expect(Contender.shellQuoted("plain-word_1.mp4") == "plain-word_1.mp4")
        #expect(Contender.shellQuoted("[0:v]split=3") == "'[0:v]split=3'")
        #expect(Contender.shellQuoted("it's") == "'it'\\''s'")
    }
}

@Suite("vstream bench end to end", .serialized)
struct BenchEndToEndTests {
    @Test func runsOnATinyInputAndItsJSONHoldsEveryField() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("bench-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let sample = try MeasuredProcess.run([[vstream, "bench", fixture("tiny_256x144.mp4"), "--runs", "2", "--warmup", "0",
                                               "--json", work + "/report.json", "--svg", work + "/chart.svg"]])
        #expect(sample.wallSeconds > 0)

        let data = try Data(contentsOf: URL(fileURLWithPath: work + "/report.json"))
        // Every field, checked on the raw JSON (not only through our own decoder).
        let raw = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        for key in ["version", "input", "host", "settings", "contenders"] { #expect(raw[key] != nil, "\(key)") }
        let contenders = try #require(raw["contenders"] as? [[String: Any]])
        #expect(contenders.compactMap { $0["name"] as? String } == ["engine", "ffmpeg-one-process", "ffmpeg-naive"])
        let fields = ["name", "commandLines", "runs", "wallSeconds", "cpuSeconds", "peakRSSBytes", "framesPerSecond",
                      "cpuUtilisation", "engineRatio", "quality"]
        for contender in contenders {
            for key in fields { #expect(contender[key] != nil, "\(contender["name"] ?? "?") lacks \(key)") }
        }
        #expect(contenders[0]["firstSegmentSeconds"] != nil && contenders[0]["firstSegmentShareOfWall"] != nil)

        let report = try JSONDecoder().decode(BenchReport.self, from: data)
        #expect(report.input.frames == 90 && report.settings.runs == 2)
        for contender in report.contenders {
            #expect(contender.runs.count == 2)
            #expect(contender.runs.allSatisfy { $0.wallSeconds > 0 && $0.cpuSeconds > 0 && $0.peakRSSBytes > 1 << 20 })
            #expect(contender.quality.map(\.rendition) == ["144p"])
            #expect(contender.quality.allSatisfy { $0.psnr > 25 && $0.ssim > 0.8 && $0.bitrate > 50_000 })
            #expect(!contender.commandLines.isEmpty)
        }
        #expect(report.contenders[0].engineRatio.wall.median == 1)
        #expect(report.contenders[2].commandLines.count == 1, "one rung: one naive process")

        let svg = try String(contentsOfFile: work + "/chart.svg", encoding: .utf8)
        #expect(svg.hasPrefix("<svg") && svg.contains("ffmpeg-one-process") && svg.hasSuffix("</svg>\n"))
    }

    /// `bench --chunks`: the engine whole (the CMAF ladder) against the engine in chunks,
    /// paired, with the chunked run's ratios to the whole one.
    @Test func chunksPairsTheWholeEngineWithTheChunkedOne() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("bench-chunks-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        _ = try MeasuredProcess.run([[vstream, "bench", fixture("portrait_rot90.mp4"), "--runs", "1", "--warmup", "0", "--chunks",
                                      "--chunk-seconds", "2", "--parallel-chunks", "2", "--no-quality", "--json", work + "/report.json"]])
        let report = try JSONDecoder().decode(BenchReport.self, from: Data(contentsOf: URL(fileURLWithPath: work + "/report.json")))
        #expect(report.contenders.map(\.name) == ["engine", "engine-chunked"])
        let chunked = try #require(report.contenders.last)
        #expect(chunked.commandLines.first?.contains("--chunk-seconds 2 --parallel-chunks 2") == true)
        #expect(report.contenders[0].commandLines.first?.contains("--dash") == true, "the same CMAF ladder, whole")
        #expect(chunked.runs.count == 1 && chunked.runs[0].wallSeconds > 0 && chunked.engineRatio.wall.median > 0)
    }
}
