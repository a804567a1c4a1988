import Foundation
import Testing
@testable import HLSEngine

/// The hostile corpus (fixtures/make_hostile.py) through `vstream transcode`, as a user
/// runs it. Each input must end in one of two ways, within a time bound, under 2 GiB of
/// memory and never by a signal:
/// - a clean error: exit 65 (bad media) or 1, exactly one line on stderr naming the input,
///   and nothing left in the output folder;
/// - a ladder that the project's own read-back accepts (every segment starts with an IDR
///   and decodes) and that the ffmpeg CLI decodes without a single error line.
@Suite("Hostile input", .serialized)
struct HostileInputTests {
    static let corpus: String = {
        let directory = Fixtures.path("hostile")
        let script = Fixtures.directory.deletingLastPathComponent().appendingPathComponent("make_hostile.py").path
        _ = try? Command.run(["python3", script, directory], timeout: 600)
        return directory
    }()

    struct Entry: Decodable { var expect: String; var why: String }

    static var manifest: [String: Entry] {
        let data = (try? Data(contentsOf: URL(fileURLWithPath: corpus + "/manifest.json"))) ?? Data()
        return (try? JSONDecoder().decode([String: Entry].self, from: data)) ?? [:]
    }

    static var names: [String] { manifest.keys.sorted() }

    @Test func theCorpusIsThere() {
        #expect(Self.names.count >= 30, "fixtures/make_hostile.py made \(Self.names.count) inputs")
    }

    @Test(arguments: HostileInputTests.names)
    func endsInALadderOrACleanError(_ name: String) throws {
        let entry = try #require(Self.manifest[name])
        let input = Self.corpus + "/" + name
        let output = Fixtures.temporaryDirectory("hostile") + "/hls"
        defer { try? FileManager.default.removeItem(atPath: (output as NSString).deletingLastPathComponent) }
        let started = Date()
        let run = try Command.run([CommandLineTests.binary, "transcode", input, "-o", output, "--ladder", "360,720",
                                   "--max-duration", "600"], timeout: 180, measuringMemory: true)
        let seconds = Date().timeIntervalSince(started)
        #expect(run.status < 128, "\(name) (\(entry.why)) died by signal \(run.status - 128): \(run.stderr.suffix(300))")
        #expect(seconds < 120, "\(name) took \(Int(seconds)) s")
        #expect(run.maxRSS < 2 << 30, "\(name) peaked at \(run.maxRSS >> 20) MiB")
        let master = output + "/master.m3u8"
        if run.status == 0 {
            #expect(entry.expect != "error", "\(name) (\(entry.why)) should have been refused")
            let ladder = try HLSOutput(directory: output)
            #expect(!ladder.variants.isEmpty)
            for variant in ladder.variants {
                #expect(variant.videoFrames > 0, "\(name) \(variant.uri) has no video")
                for segment in variant.segments {
                    #expect(segment.video.first?.isKeyframe == true, "\(name) \(variant.uri): a segment starts without an IDR")
                }
            }
            if name == "audio_packets_dropped.mkv", let damaged = ladder.variants.first?.segments.last {
                // Lost audio packets are filled with silence, so the audio still ends where
                // it does in the original's ladder, on the same timeline. Timed by sample
                // count alone it would end 10% (0.4 s) early and drift from the video.
                let clean = try Self.lastSegment(ofLadderFrom: Self.corpus + "/.src/flip_base.mkv")
                let shift = damaged.audioEnd - clean.audioEnd
                #expect(abs(shift) < 0.05, "\(name): the lost packets moved the audio's end by \(shift) s")
            }
            let decode = try Command.run(["ffmpeg", "-nostdin", "-v", "error", "-i", master, "-map", "0",
                                          "-enc_time_base", "-1", "-f", "null", "-"])
            #expect(decode.status == 0 && decode.stderr.isEmpty, "\(name): ffmpeg says \(decode.stderr.prefix(400))")
        } else {
            #expect(run.status == 65 || run.status == 1, "\(name): exit \(run.status)")
            let lines = run.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines.first?.contains(input) == true, "\(name): stderr was \(run.stderr.prefix(400))")
            #expect(!lines.contains { $0.contains("cancelled") }, "\(name): nobody cancelled")
            #expect(!FileManager.default.fileExists(atPath: master))
            let left = (try? FileManager.default.contentsOfDirectory(atPath: output)) ?? []
            #expect(left.isEmpty, "\(name) left \(left)")
        }
    }

    /// The last segment of the first rung of `source`'s ladder, as `vstream transcode` makes it.
    static func lastSegment(ofLadderFrom source: String) throws -> SegmentMedia {
        let output = Fixtures.temporaryDirectory("hostile-clean") + "/hls"
        defer { try? FileManager.default.removeItem(atPath: (output as NSString).deletingLastPathComponent) }
        let run = try Command.run([CommandLineTests.binary, "transcode", source, "-o", output, "--ladder", "360,720"])
        guard run.status == 0, let last = try HLSOutput(directory: output).variants.first?.segments.last else {
            throw SegmentMedia.ReadError(message: "the undamaged original did not transcode: \(run.stderr)")
        }
        return last
    }

    /// A TS whose timestamps jump an hour (captures spliced together) lasts 4 s, but
    /// libavformat measures it from its first and last timestamps: 3602 s. It is not refused
    /// under a 10-minute limit for that guess (it was: "the video lasts 3602 s"), and its
    /// ladder lasts the 4 s that play. A TS really over the limit is still refused, by the
    /// frames it holds.
    @Test func aTransportStreamIsNotRefusedForTheLengthItsTimestampJumpsSuggest() throws {
        let output = Fixtures.temporaryDirectory("ts-jump")
        defer { try? FileManager.default.removeItem(atPath: output) }
        // DASH, split and stitch, and a muxed ladder (the CLI's default layout).
        for arguments in [["--dash", "--chunk-seconds", "0"], ["--chunk-seconds", "2", "--parallel-chunks", "2"], ["--chunk-seconds", "0"]] {
            let run = try Command.run([CommandLineTests.binary, "transcode", Self.corpus + "/ts_jump_hour.ts", "-o", output + "/jump",
                                       "--ladder", "360", "--max-duration", "600", "--progress", "none"] + arguments)
            #expect(run.status == 0, "\(arguments): \(run.stderr)")
            let ladder = try HLSOutput(directory: output + "/jump")
            let seconds = ladder.variants.first?.playlist.segments.reduce(0) { $0 + $1.duration } ?? 0
            #expect(abs(seconds - 4) < 0.1, "\(arguments): the ladder lasts \(seconds) s")
            // The sound goes on across the jump as the picture does: nothing plays past it.
            // Before, the muxed run said "the last 3596.0 s play past the picture and were left out".
            #expect(!run.stderr.contains("left out"), "\(arguments): \(run.stderr)")
            let heard = try StillPictureTests.lastAudioTime(output + "/jump/master.m3u8")
            #expect(heard > 3.5, "\(arguments): the last audio packet plays at \(heard) s")
            try FileManager.default.removeItem(atPath: output + "/jump")
        }
        let long = output + "/long.ts"
        let made = try Command.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=30:duration=20",
                                    "-c:v", "libx264", "-preset", "ultrafast", long])
        try #require(made.status == 0, "\(made.stderr)")
        let refused = try Command.run([CommandLineTests.binary, "transcode", long, "-o", output + "/long", "--max-duration", "10",
                                       "--progress", "none"])
        #expect(refused.status == 65 && refused.stderr.contains("over the 10 s limit"), "\(refused.stderr)")
    }

    /// A disk that fills during the transcode: one clean error that says so, and the
    /// output folder left empty. Needs a tmpfs of 3 MiB (root, as in `make test` and CI).
    @Test(.enabled(if: getuid() == 0)) func aDiskThatFillsFailsTheTranscodeCleanly() throws {
        let mountPoint = Fixtures.temporaryDirectory("full-disk")
        let mounted = try Command.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", mountPoint])
        try #require(mounted.status == 0, "cannot mount a tmpfs here: \(mounted.stderr)")
        defer { _ = try? Command.run(["umount", mountPoint]) }
        let input = Fixtures.path("h264_1080p30_stereo.mp4")
        let run = try Command.run([CommandLineTests.binary, "transcode", input, "-o", mountPoint + "/hls"])
        #expect(run.status == 1, "exit \(run.status): \(run.stderr)")
        let lines = run.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines.first?.contains(input) == true && run.stderr.contains("No space left"), "\(run.stderr)")
        let left = (try? FileManager.default.contentsOfDirectory(atPath: mountPoint + "/hls")) ?? []
        #expect(left.isEmpty, "left \(left)")
    }

    /// Every input the fuzzer ever crashed on, replayed through the same target.
    @Test func fuzzRegressionsReplayCleanly() throws {
        let replay = URL(fileURLWithPath: CommandLineTests.binary).deletingLastPathComponent()
            .appendingPathComponent("vstream-fuzz").path
        let regressions = Fixtures.directory.deletingLastPathComponent().appendingPathComponent("fuzz/regressions").path
        let run = try Command.run([replay, regressions, Self.corpus], timeout: 600)
        #expect(run.status == 0, "replay died: \(run.status) \(run.stderr.suffix(500))")
        #expect(run.stdout.contains("replayed"))
    }
}
