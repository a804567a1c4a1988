import Foundation
import Testing
@testable import HLSEngine

/// A fixture and what the ladder rules say it must produce.
struct LadderCase: Sendable, CustomTestStringConvertible {
    var fixture: String
    var sizes: [String]
    var hasAudio: Bool
    var testDescription: String { fixture }
}

let ladderCases: [LadderCase] = [
    .init(fixture: "h264_1080p30_stereo.mp4", sizes: ["640x360", "1280x720", "1920x1080"], hasAudio: true),
    .init(fixture: "portrait_rot90.mp4", sizes: ["360x640", "720x1280"], hasAudio: true),
    .init(fixture: "no_audio.mp4", sizes: ["480x360"], hasAudio: false),
    .init(fixture: "tiny_256x144.mp4", sizes: ["256x144"], hasAudio: true),
    .init(fixture: "hevc_10bit_51.mkv", sizes: ["640x360", "1280x720"], hasAudio: true),
    .init(fixture: "anamorphic_sar16x15.ts", sizes: ["480x360"], hasAudio: true),
    .init(fixture: "vfr.mp4", sizes: ["640x360"], hasAudio: false),
    .init(fixture: "video_after_audio.mp4", sizes: ["640x360"], hasAudio: true),
    .init(fixture: "prores_422.mov", sizes: ["640x360"], hasAudio: false),
]

/// Reads every transcoded fixture back with libavformat and checks what a player relies on.
@Suite("Transcode output", .serialized)
struct TranscodeOutputTests {
    private func read(_ fixture: String, format: SegmentFormat = .fmp4) async throws -> (TranscodedFixtures.Outcome, HLSOutput) {
        let outcome = try await TranscodedFixtures.shared.outcome(fixture, format: format)
        return (outcome, try HLSOutput(directory: outcome.directory))
    }

    @Test(arguments: ladderCases)
    func ladderFollowsTheRules(_ testCase: LadderCase) async throws {
        let (_, output) = try await read(testCase.fixture)
        #expect(output.variants.map { "\($0.width)x\($0.height)" } == testCase.sizes)
        for variant in output.variants {
            for segment in variant.segments {
                // What the decoder sees: the advertised size, 8-bit 4:2:0, square pixels, no rotation left.
                #expect("\(segment.width)x\(segment.height)" == "\(variant.width)x\(variant.height)")
                #expect(segment.pixelFormat == "yuv420p")
                #expect(segment.sampleAspect.num == segment.sampleAspect.den || segment.sampleAspect.num == 0)
                #expect(!segment.hasRotation)
            }
        }
    }

    @Test(arguments: ladderCases)
    func everySegmentStartsWithAnIDR(_ testCase: LadderCase) async throws {
        let (_, output) = try await read(testCase.fixture)
        for variant in output.variants {
            #expect(!variant.segments.isEmpty)
            for (index, segment) in variant.segments.enumerated() {
                let first = try #require(segment.video.first, "\(variant.uri) segment \(index) has no video")
                #expect(first.isKeyframe && first.firstSliceType == 5, "\(variant.uri) segment \(index)")
            }
        }
    }

    @Test(arguments: ladderCases)
    func segmentsLastTwoSecondsAndAlignAcrossRenditions(_ testCase: LadderCase) async throws {
        let (_, output) = try await read(testCase.fixture)
        var boundaries: [[Double]] = []
        for variant in output.variants {
            let starts = variant.segments.compactMap(\.firstVideoPTS)
            #expect(starts.count == variant.segments.count)
            for index in 0..<(starts.count - 1) {
                let duration = starts[index + 1] - starts[index]
                let frames = variant.segments[index].video.map(\.pts).sorted()
                let longestFrame = zip(frames.dropFirst(), frames).map { $0 - $1 }.max() ?? 0
                #expect(abs(duration - 2) <= longestFrame + 0.001, "\(variant.uri) segment \(index): \(duration) s")
                // EXTINF is the real duration.
                #expect(abs(variant.playlist.segments[index].duration - duration) < 0.001)
            }
            let last = try #require(variant.segments.last)
            #expect(last.videoEnd - (last.firstVideoPTS ?? 0) <= 2 + 0.05)
            boundaries.append(starts)
        }
        for other in boundaries.dropFirst() {
            #expect(other.count == boundaries[0].count)
            for (a, b) in zip(other, boundaries[0]) { #expect(abs(a - b) < 0.001) }
        }
    }

    @Test(arguments: ladderCases)
    func everyRenditionHasEverySourceFrame(_ testCase: LadderCase) async throws {
        let (outcome, output) = try await read(testCase.fixture)
        let sourceFrames = try Command.ffprobeDecodedFrames(outcome.source)
        #expect(sourceFrames > 0)
        for variant in output.variants {
            #expect(variant.videoFrames == sourceFrames, "\(variant.uri)")
        }
        #expect(outcome.result.renditions.allSatisfy { $0.frameCount == sourceFrames })
    }

    @Test(arguments: ladderCases)
    func masterAttributesMatchTheStreams(_ testCase: LadderCase) async throws {
        let (_, output) = try await read(testCase.fixture)
        #expect(output.masterText.contains("#EXT-X-INDEPENDENT-SEGMENTS"))
        let bandwidths = output.variants.compactMap { Int($0.attributes["BANDWIDTH"] ?? "") }
        #expect(bandwidths == bandwidths.sorted(), "lowest rung first")
        for variant in output.variants {
            let attributes = variant.attributes
            let init_ = try #require(variant.segments.first)
            let expectedCodecs = [init_.avc1, testCase.hasAudio ? "mp4a.40.2" : nil].compactMap { $0 }.joined(separator: ",")
            #expect(attributes["CODECS"] == expectedCodecs)

            let duration = variant.playlist.segments.reduce(0) { $0 + $1.duration }
            let bytes = variant.segments.reduce(0) { $0 + $1.bytes }
            let measuredAverage = Double(bytes * 8) / duration
            let peak = zip(variant.segments, variant.playlist.segments).filter { $1.duration >= 1 }
                .map { Double($0.bytes * 8) / $1.duration }.max() ?? measuredAverage
            let average = try #require(Double(attributes["AVERAGE-BANDWIDTH"] ?? ""))
            let bandwidth = try #require(Double(attributes["BANDWIDTH"] ?? ""))
            #expect(abs(average - measuredAverage) / measuredAverage < 0.01)
            #expect(bandwidth >= peak * 0.999 && bandwidth >= average)
            // FRAME-RATE is the maximum rate: at least the average, at most the fastest frame pair.
            let frameRate = try #require(Double(attributes["FRAME-RATE"] ?? ""))
            let times = variant.segments.flatMap { $0.video.map(\.pts) }.sorted()
            let fastest = 1 / (zip(times.dropFirst(), times).map { $0 - $1 }.min() ?? 1)
            #expect(frameRate >= Double(variant.videoFrames) / duration * 0.99 && frameRate <= fastest * 1.01)

            let playlist = variant.playlist
            #expect(playlist.version == 6 && playlist.isVOD && playlist.hasEndList && playlist.map == "init.mp4")
            let longest = playlist.segments.map { Int($0.duration.rounded()) }.max() ?? 0
            #expect(playlist.targetDuration == longest)
        }
    }

    @Test(arguments: ladderCases.filter(\.hasAudio))
    func audioIsAACAndStaysInSync(_ testCase: LadderCase) async throws {
        let (outcome, output) = try await read(testCase.fixture)
        let source = try MediaProbe.probe(outcome.source)
        let sourceOffset = source.video.startSeconds - (source.audio?.startSeconds ?? 0)
        for variant in output.variants {
            let segments = variant.segments
            #expect(segments.allSatisfy { $0.audioCodec == "aac" && $0.audioSampleRate == 48_000 && $0.audioProfile == 1 })
            let videoStart = try #require(segments.first?.firstVideoPTS)
            let audioStart = try #require(segments.compactMap { $0.audioPTS.min() }.min())
            // Where the first real audio sample plays: after the AAC priming (1024 samples).
            let offset = videoStart - (audioStart + 1024.0 / 48_000)
            #expect(abs(offset - sourceOffset) < 0.05, "video starts \(offset) s after audio; source \(sourceOffset) s")
            let videoEnd = segments.map(\.videoEnd).max() ?? 0
            let audioEnd = segments.map(\.audioEnd).max() ?? 0
            #expect(abs(audioEnd - videoEnd) < abs(sourceOffset) + 0.15, "audio ends \(audioEnd), video \(videoEnd)")
        }
    }

    @Test func variantsWithoutAudioCarryNoAudio() async throws {
        let (_, output) = try await read("no_audio.mp4")
        #expect(output.variants.allSatisfy { $0.segments.allSatisfy { $0.audioPTS.isEmpty && $0.audioCodec == nil } })
    }

    @Test func mpegTSSegmentsAreStandaloneAndAligned() async throws {
        let (outcome, output) = try await read("h264_1080p30_stereo.mp4", format: .mpegts)
        #expect(outcome.result.segmentFormat == .mpegts)
        let sourceFrames = try Command.ffprobeDecodedFrames(outcome.source)
        for variant in output.variants {
            #expect(variant.playlist.map == nil && variant.playlist.version == 3)
            #expect(variant.segments.allSatisfy { $0.video.first?.firstSliceType == 5 && $0.avc1 != nil })
            #expect(variant.videoFrames == sourceFrames)
            #expect(variant.attributes["CODECS"] == "\(variant.segments[0].avc1 ?? "?"),mp4a.40.2")
        }
        let starts = output.variants.map { $0.segments.compactMap(\.firstVideoPTS) }
        #expect(starts.allSatisfy { $0 == starts[0] })
    }
}
