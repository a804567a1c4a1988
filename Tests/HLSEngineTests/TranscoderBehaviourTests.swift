import Foundation
import Testing
@testable import HLSEngine

@Suite("Transcoder behaviour", .serialized)
struct TranscoderBehaviourTests {
    @Test func progressIsExactAndReaches100OnlyWithTheMaster() async throws {
        let outcome = try await TranscodedFixtures.shared.outcome("h264_1080p30_stereo.mp4")
        let events = outcome.events
        let last = try #require(events.last)
        #expect(last.stage == .done && last.percent == 100)
        #expect(last.framesTotal == outcome.result.sourceFrames && last.framesDone == outcome.result.sourceFrames)
        #expect(last.renditions.map(\.framesEncoded) == outcome.result.renditions.map(\.frameCount))
        let percents = events.map(\.percent)
        #expect(zip(percents, percents.dropFirst()).allSatisfy { $0 <= $1 }, "percent never goes back")
        // Events are buffered, so a reader may see a late tick after the master exists;
        // what must hold is that only `.done` says 100%, and that the master is there by then.
        for event in events where event.stage != .done { #expect(event.percent < 100) }
        #expect(outcome.masterExistedAt.last == true, "master.m3u8 exists when .done arrives")
        #expect(events.contains { $0.stage == .transcoding && $0.percent > 0 && $0.percent < 100 })
    }

    @Test func resultDescribesTheLadder() async throws {
        let outcome = try await TranscodedFixtures.shared.outcome("h264_1080p30_stereo.mp4")
        let result = outcome.result
        #expect(result.masterPlaylist == outcome.directory + "/master.m3u8")
        #expect(result.renditions.map(\.rendition.name) == ["360p", "720p", "1080p"])
        #expect(abs(result.durationSeconds - 5) < 0.05)
        #expect(result.hasAudio)
        for rendition in result.renditions {
            let files = try FileManager.default.contentsOfDirectory(atPath: outcome.directory + "/" + rendition.rendition.name)
            #expect(!files.contains { $0.hasSuffix(".part") }, "every segment was completed and renamed")
            let bytes = try files.filter { !$0.hasSuffix(".m3u8") }.reduce(Int64(0)) { total, name in
                let size = try FileManager.default.attributesOfItem(atPath: outcome.directory + "/\(rendition.rendition.name)/\(name)")[.size] as? Int64
                return total + (size ?? 0)
            }
            #expect(rendition.totalBytes == bytes)
            #expect(rendition.segmentCount == 3)
            // Rate control lands near the ladder's target (a 5 s synthetic clip: within 25%).
            let target = Double(rendition.rendition.videoBitrate + 128_000)
            #expect(abs(Double(rendition.averageBandwidth) - target) / target < 0.25, "\(rendition.rendition.name)")
        }
    }

    @Test(arguments: [("h264_1080p30_stereo.mp4", "1280x720"), ("portrait_rot90.mp4", "720x1280"),
                      ("anamorphic_sar16x15.ts", "480x360"), ("tiny_256x144.mp4", "256x144")])
    func posterIsAnUprightJPEGAtTheLadderSize(_ fixture: String, size: String) async throws {
        let outcome = try await TranscodedFixtures.shared.outcome(fixture)
        #expect(outcome.result.poster == "poster.jpg")
        let path = outcome.directory + "/poster.jpg"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(bytes.prefix(2) == Data([0xFF, 0xD8]), "a JPEG starts with SOI")
        let picture = try SegmentMedia(path: path, initialization: nil)
        #expect("\(picture.width)x\(picture.height)" == size)
        #expect(picture.video.count == 1)
    }

    @Test func cancellationStopsWithinASecondAndRemovesTheOutput() async throws {
        let directory = Fixtures.temporaryDirectory("cancel") + "/hls"
        let transcoder = Transcoder(input: Fixtures.path("h264_1080p30_stereo.mp4"), output: directory)
        let task = Task { try await transcoder.run() }
        // Wait until frames are being encoded, then cancel.
        for await event in transcoder.events where event.framesDone > 10 { break }
        let cancelled = ContinuousClock.now
        task.cancel()
        let outcome = await task.result
        let latency = ContinuousClock.now - cancelled
        #expect(latency < .seconds(1), "stopped after \(latency)")
        #expect(throws: TranscodeError.self) { try outcome.get() }
        if case .failure(let error as TranscodeError) = outcome { #expect(error.reason == .cancelled) }
        #expect(!FileManager.default.fileExists(atPath: directory))
    }

    @Test func aStaleMasterIsRemovedBeforeAFailedRun() async throws {
        let directory = Fixtures.temporaryDirectory("stale")
        try "#EXTM3U\n".write(toFile: directory + "/master.m3u8", atomically: true, encoding: .utf8)
        try "keep".write(toFile: directory + "/notes.txt", atomically: true, encoding: .utf8)
        await #expect(throws: TranscodeError.self) {
            try await Transcoder(input: Fixtures.path("truncated.mp4"), output: directory).run()
        }
        #expect(!FileManager.default.fileExists(atPath: directory + "/master.m3u8"))
        #expect(FileManager.default.fileExists(atPath: directory + "/notes.txt"), "files that are not ours stay")
    }
}

struct BadInputCase: Sendable, CustomTestStringConvertible {
    var fixture: String
    var reason: @Sendable (TranscodeError.Reason) -> Bool
    var testDescription: String { fixture }
}

@Suite("Bad input")
struct BadInputTests {
    static let cases: [BadInputCase] = [
        .init(fixture: "audio_only.m4a") { $0 == .noVideoStream },
        .init(fixture: "truncated.mp4") { if case .truncated = $0 { true } else { false } },
        .init(fixture: "random.bin") { if case .notMedia = $0 { true } else { false } },
        .init(fixture: "empty.mp4") { $0 == .empty },
        .init(fixture: "huge_8208x64.mp4") { $0 == .dimensionsTooLarge(width: 8208, height: 64, limit: 8192) },
        .init(fixture: "unknown_codec.mkv") { if case .unsupportedCodec = $0 { true } else { false } },
        .init(fixture: "does_not_exist.mp4") { if case .io = $0 { true } else { false } },
    ]

    @Test(arguments: cases)
    func getsATypedErrorAndLeavesNothingBehind(_ testCase: BadInputCase) async throws {
        let directory = Fixtures.temporaryDirectory("bad") + "/hls"
        let input = Fixtures.path(testCase.fixture)
        do {
            _ = try await Transcoder(input: input, output: directory).run()
            Issue.record("\(testCase.fixture) transcoded without an error")
        } catch let error as TranscodeError {
            #expect(testCase.reason(error.reason), "\(error)")
            #expect(error.input == input)
            #expect(error.description.hasPrefix(input + ": "))
        }
        #expect(!FileManager.default.fileExists(atPath: directory))
    }

    @Test(arguments: cases.filter { $0.fixture != "truncated.mp4" })
    func probeRejectsItToo(_ testCase: BadInputCase) {
        do {
            _ = try MediaProbe.probe(Fixtures.path(testCase.fixture))
            Issue.record("probe accepted \(testCase.fixture)")
        } catch {
            #expect(testCase.reason(error.reason), "\(error)")
        }
    }
}

@Suite("Probe")
struct ProbeTests {
    @Test(arguments: ["h264_1080p30_stereo.mp4", "portrait_rot90.mp4", "no_audio.mp4", "hevc_10bit_51.mkv",
                      "anamorphic_sar16x15.ts", "vfr.mp4", "video_after_audio.mp4", "prores_422.mov"])
    func frameCountIsExact(_ fixture: String) throws {
        let info = try MediaProbe.probe(Fixtures.path(fixture))
        #expect(info.video.frameCount == (try Command.ffprobeDecodedFrames(Fixtures.path(fixture))))
    }

    @Test func displayedSizeAppliesRotationAndSampleAspect() throws {
        let portrait = try MediaProbe.probe(Fixtures.path("portrait_rot90.mp4"))
        #expect(portrait.video.geometry.rotation == 90)
        #expect(portrait.video.displayWidth == 720 && portrait.video.displayHeight == 1280)
        let pal = try MediaProbe.probe(Fixtures.path("anamorphic_sar16x15.ts"))
        #expect(pal.video.displayWidth == 768 && pal.video.displayHeight == 576)
        #expect(pal.video.frameCountSource == "packets")
    }

    @Test func describesCodecsDepthAndAudio() throws {
        let hevc = try MediaProbe.probe(Fixtures.path("hevc_10bit_51.mkv"))
        #expect(hevc.video.codec == "hevc" && hevc.video.bitDepth == 10)
        #expect(hevc.audio?.channels == 6)
        let vfr = try MediaProbe.probe(Fixtures.path("vfr.mp4"))
        #expect(vfr.video.isVariableFrameRate)
        let late = try MediaProbe.probe(Fixtures.path("video_after_audio.mp4"))
        #expect(abs(late.video.startSeconds - 0.5) < 0.01 && late.audio?.startSeconds == 0)
        #expect(try MediaProbe.probe(Fixtures.path("no_audio.mp4")).audio == nil)
    }
}
