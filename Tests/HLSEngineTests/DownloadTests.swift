import Foundation
import Testing
@testable import HLSEngine

/// `download.mp4`: one rung as a progressive MP4, remuxed from the packets its segments
/// hold, as a download manager or a browser without HLS reads it.
@Suite("MP4 rendition")
struct DownloadTests {
    struct Stream: Decodable {
        var codec_type: String
        var width: Int?
        var height: Int?
        var start_time: String?
        var duration: String?
        var nb_read_frames: String?
        var start: Double { Double(start_time ?? "") ?? 0 }
        var end: Double { start + (Double(duration ?? "") ?? 0) }
    }

    static func streams(_ path: String, countFrames: Bool = false) throws -> [Stream] {
        struct Probe: Decodable { var streams: [Stream] }
        let run = try Command.run(["ffprobe", "-v", "error"] + (countFrames ? ["-count_frames"] : [])
                                  + ["-show_entries", "stream=codec_type,width,height,start_time,duration,nb_read_frames", "-of", "json", path])
        return try JSONDecoder().decode(Probe.self, from: Data(run.stdout.utf8)).streams
    }

    /// The file's top-level boxes, in order.
    static func boxes(_ path: String) throws -> [String] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        var offset = 0, names: [String] = []
        while offset + 8 <= data.count {
            var size = data[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
            names.append(String(decoding: data[offset + 4..<offset + 8], as: UTF8.self))
            if size == 1, offset + 16 <= data.count { size = data[offset + 8..<offset + 16].reduce(0) { $0 << 8 | Int($1) } }
            guard size >= 8 else { break }
            offset += size
        }
        return names
    }

    @Test(arguments: ["h264_1080p30_stereo.mp4", "portrait_rot90.mp4", "video_after_audio.mp4", "vfr.mp4"])
    func itHoldsEveryFrameOfItsRungWithTheAudioInTimeAndItsMoovFirst(_ fixture: String) async throws {
        let outcome = try await TranscodedFixtures.shared.outcome(fixture)
        let download = try #require(outcome.result.download)
        let path = outcome.directory + "/" + download.file
        let rung = try #require(outcome.result.renditions.first { $0.rendition.name == download.rendition })
        // The rung: 720p where the ladder has it, the top rung of a smaller source.
        let expected = Ladder.downloadRendition(outcome.result.renditions.map(\.rendition), preferred: 720)
        #expect(rung.rendition == expected)
        #expect(download.bytes == (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value)

        let boxes = try Self.boxes(path)
        let moov = try #require(boxes.firstIndex(of: "moov")), mdat = try #require(boxes.firstIndex(of: "mdat"))
        #expect(moov < mdat, "moov first, for streaming: \(boxes)")

        let run = try Command.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-map", "0", "-f", "null", "-"])
        #expect(run.status == 0 && run.stderr.isEmpty, "ffmpeg said: \(run.stderr)")

        let streams = try Self.streams(path, countFrames: true)
        let video = try #require(streams.first { $0.codec_type == "video" })
        #expect((video.width, video.height) == (rung.rendition.width, rung.rendition.height))
        // Every frame the rung's segments hold, counted by a decoder in both.
        let segments = try Self.streams(outcome.directory + "/" + rung.playlist, countFrames: true)
        let segmentFrames = try #require(segments.first { $0.codec_type == "video" }?.nb_read_frames)
        #expect(video.nb_read_frames == segmentFrames)
        #expect(Int(segmentFrames) == rung.frameCount)

        // Audio where the source has it, within 100 ms of the video at both ends.
        let source = try Self.streams(outcome.source)
        if let sourceAudio = source.first(where: { $0.codec_type == "audio" }),
           let sourceVideo = source.first(where: { $0.codec_type == "video" }) {
            let audio = try #require(streams.first { $0.codec_type == "audio" })
            #expect(abs((video.start - audio.start) - (sourceVideo.start - sourceAudio.start)) < 0.1,
                    "video starts \(video.start - audio.start) s after the audio; in the source \(sourceVideo.start - sourceAudio.start) s")
            #expect(abs(audio.end - video.end) < 0.1 + max(0, sourceAudio.end - sourceVideo.end), "audio ends at \(audio.end), video at \(video.end)")
        } else {
            #expect(!streams.contains { $0.codec_type == "audio" })
        }
    }

    @Test func theRungIs720pOrTheTopOneOfASmallerSource() {
        func rungs(_ sides: [Int]) -> [Rendition] {
            sides.map { Rendition(name: "\($0)p", width: $0 * 16 / 9 / 2 * 2, height: $0, videoBitrate: 1_000_000) }
        }
        #expect(Ladder.downloadRendition(rungs([360, 720, 1080]), preferred: 720)?.name == "720p")
        #expect(Ladder.downloadRendition(rungs([360, 720, 1080]), preferred: 1080)?.name == "1080p")
        #expect(Ladder.downloadRendition(rungs([360, 540]), preferred: 720)?.name == "540p")
        #expect(Ladder.downloadRendition(rungs([360, 720]), preferred: 240)?.name == "360p")
        let portrait = [Rendition(name: "720p", width: 720, height: 1280, videoBitrate: 1), Rendition(name: "1080p", width: 1080, height: 1920, videoBitrate: 1)]
        #expect(Ladder.downloadRendition(portrait, preferred: 720)?.name == "720p")
        #expect(Ladder.downloadRendition([], preferred: 720) == nil)
    }

    @Test func noneWritesNoMP4() async throws {
        let directory = Fixtures.temporaryDirectory("no-mp4") + "/hls"
        var options = TranscodeOptions()
        options.downloadRung = nil
        let result = try await Transcoder(input: Fixtures.path("no_audio.mp4"), output: directory, options: options).run()
        #expect(result.download == nil)
        #expect(!FileManager.default.fileExists(atPath: directory + "/download.mp4"))
        #expect(!FileManager.default.fileExists(atPath: directory + "/download.mp4.part"))
    }
}
