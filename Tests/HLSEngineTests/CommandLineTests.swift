import Foundation
import Testing
@testable import HLSEngine

/// The `vstream` binary as a user runs it (built next to this test bundle).
@Suite("vstream command line", .serialized)
struct CommandLineTests {
    static let binary: String = {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        return bundle.appendingPathComponent("vstream").path
    }()

    @Test func probePrintsJSON() throws {
        let run = try Command.run([Self.binary, "probe", Fixtures.path("portrait_rot90.mp4"), "--json"])
        #expect(run.status == 0)
        let info = try JSONDecoder().decode(MediaInfo.self, from: Data(run.stdout.utf8))
        #expect(info.video.displayWidth == 720 && info.video.displayHeight == 1280)
        #expect(info.video.frameCount == 90 && info.video.frameCountSource == "container")
    }

    @Test func transcodeStreamsJSONProgressAndTheResult() throws {
        let output = Fixtures.temporaryDirectory("cli") + "/hls"
        let run = try Command.run([Self.binary, "transcode", Fixtures.path("no_audio.mp4"), "-o", output,
                                   "--progress", "json", "--ladder", "360"])
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map { Data($0.utf8) }
        let events = lines.dropLast().compactMap { try? JSONDecoder().decode(TranscodeEvent.self, from: $0) }
        #expect(events.count == lines.count - 1, "every line but the last is an event")
        #expect(events.last?.stage == .done && events.last?.percent == 100)
        let result = try JSONDecoder().decode(TranscodeResult.self, from: try #require(lines.last))
        #expect(result.renditions.map(\.rendition.name) == ["360p"])
        #expect(FileManager.default.fileExists(atPath: output + "/master.m3u8"))
        #expect(run.stderr.isEmpty)
    }

    @Test(arguments: ["audio_only.m4a", "truncated.mp4", "random.bin", "empty.mp4", "huge_8208x64.mp4",
                      "unknown_codec.mkv"])
    func badInputGetsOneLineNamingTheFile(_ fixture: String) throws {
        let output = Fixtures.temporaryDirectory("cli-bad") + "/hls"
        let input = Fixtures.path(fixture)
        let run = try Command.run([Self.binary, "transcode", input, "-o", output], measuringMemory: true)
        #expect(run.maxRSS > 0, "GNU time measured it")
        #expect(run.status == 65, "exit \(run.status)")  // EX_DATAERR: bad media, not a crash
        let lines = run.stderr.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(run.stderr)")
        #expect(lines.first?.hasPrefix("vstream: \(input): ") == true)
        #expect(!FileManager.default.fileExists(atPath: output))
        // Refused before anything large is allocated: a whole transcode of a real
        // 1080p ladder takes several hundred MiB; a rejected file stays small.
        #expect(run.maxRSS < 150 << 20, "peak RSS \(run.maxRSS >> 20) MiB")
    }

    @Test func ctrlCStopsWithinASecondAndCleansUp() throws {
        let output = Fixtures.temporaryDirectory("cli-int") + "/hls"
        let child = try Command.spawn([Self.binary, "transcode", Fixtures.path("h264_1080p30_stereo.mp4"), "-o", output])
        // Wait until it is writing segments: really mid-transcode.
        let deadline = Date().addingTimeInterval(30)
        while !FileManager.default.fileExists(atPath: output + "/1080p/segment_00000.m4s.part") && Date() < deadline {
            usleep(10_000)
        }
        let sent = ContinuousClock.now
        child.signal(SIGINT)
        let exit = child.wait(timeout: 10)
        let latency = ContinuousClock.now - sent
        #expect(latency < .seconds(1), "exited \(latency) after SIGINT")
        #expect(exit != 0)
        #expect(!FileManager.default.fileExists(atPath: output))
    }
}
