import Foundation
import Testing
@testable import HLSEngine

/// The scrubbing storyboard: `storyboard.vtt` and its JPEG sheets, as a player that shows
/// previews under the seek bar reads them.
@Suite("Storyboard")
struct StoryboardTests {
    struct Cue {
        var start: Double
        var end: Double
        var sheet: String
        var rect: (x: Int, y: Int, width: Int, height: Int)
    }

    /// A strict reader of the subset we write: the header, then blank-line-separated cues
    /// of `start --> end` and `sheet#xywh=x,y,w,h`.
    static func cues(_ text: String) throws -> [Cue] {
        var blocks = text.components(separatedBy: "\n\n")
        #expect(blocks.removeFirst() == "WEBVTT")
        return try blocks.filter { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }.map { block in
            let lines = block.split(separator: "\n").map(String.init)
            try #require(lines.count == 2, "a cue is a timing line and a target: \(block)")
            let times = lines[0].components(separatedBy: " --> ")
            try #require(times.count == 2)
            let target = lines[1].components(separatedBy: "#xywh=")
            try #require(target.count == 2)
            let numbers = target[1].split(separator: ",").compactMap { Int($0) }
            try #require(numbers.count == 4)
            return Cue(start: try seconds(times[0]), end: try seconds(times[1]), sheet: target[0],
                       rect: (numbers[0], numbers[1], numbers[2], numbers[3]))
        }
    }

    static func seconds(_ timestamp: String) throws -> Double {
        let parts = timestamp.split(separator: ":")
        try #require(parts.count == 3)
        return try #require(Double(parts[0])) * 3600 + (try #require(Double(parts[1]))) * 60 + (try #require(Double(parts[2])))
    }

    /// The sheet's size, as ffprobe decodes it.
    static func size(ofImage path: String) throws -> (width: Int, height: Int) {
        let run = try Command.run(["ffprobe", "-v", "error", "-show_entries", "stream=width,height", "-of", "csv=p=0", path])
        let numbers = run.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",").compactMap { Int($0) }
        try #require(numbers.count == 2, "ffprobe could not read \(path): \(run.stderr)")
        return (numbers[0], numbers[1])
    }

    @Test(arguments: ["h264_1080p30_stereo.mp4", "portrait_rot90.mp4", "vfr.mp4"])
    func theIndexParsesPointsInsideItsSheetsAndCoversTheVideo(_ fixture: String) async throws {
        let outcome = try await TranscodedFixtures.shared.outcome(fixture)
        #expect(outcome.result.storyboard == Storyboard.indexName)
        let text = try String(contentsOfFile: outcome.directory + "/" + Storyboard.indexName, encoding: .utf8)
        let cues = try Self.cues(text)
        try #require(!cues.isEmpty)
        // Contiguous from 0 to the end of the video (within a frame of the ladder's duration).
        #expect(cues.first?.start == 0)
        for (cue, next) in zip(cues, cues.dropFirst()) { #expect(cue.end == next.start) }
        #expect(cues.allSatisfy { $0.end > $0.start })
        let last = try #require(cues.last)
        #expect(abs(last.end - outcome.result.durationSeconds) < 0.1, "ends at \(last.end), the video at \(outcome.result.durationSeconds)")
        // About one tile every 2 s.
        #expect(cues.count == Int((outcome.result.durationSeconds / 2).rounded(.up)))

        var sizes: [String: (width: Int, height: Int)] = [:]
        for cue in cues {
            if sizes[cue.sheet] == nil { sizes[cue.sheet] = try Self.size(ofImage: outcome.directory + "/" + cue.sheet) }
            let sheet = try #require(sizes[cue.sheet])
            #expect(cue.rect.x >= 0 && cue.rect.y >= 0 && cue.rect.x + cue.rect.width <= sheet.width
                    && cue.rect.y + cue.rect.height <= sheet.height, "\(cue.rect) outside \(sheet)")
            #expect(cue.rect.width == 160)
        }
        // The tiles have the video's upright shape.
        let top = try #require(outcome.result.renditions.last?.rendition)
        let tileHeight = Double(try #require(cues.first).rect.height)
        #expect(abs(tileHeight / 160 - Double(top.height) / Double(top.width)) < 0.02)
    }

    @Test func aLongVideoFillsSheetsRowByRowAndItsLastSheetKeepsOnlyItsRows() {
        let layout = Storyboard(pictureWidth: 1920, pictureHeight: 1080)
        #expect((layout.tileWidth, layout.tileHeight) == (160, 90))
        #expect(layout.place(0) == (0, 0, 0))
        #expect(layout.place(11) == (0, 160, 90))
        #expect(layout.place(100) == (1, 0, 0))
        let cues = try? Self.cues(layout.index(tiles: 101, duration: 201.5))
        #expect(cues?.count == 101)
        #expect(cues?.last?.sheet == "storyboard/sheet_1.jpg")
        #expect(cues?.last?.end == 201.5)
    }

    @Test func itCanBeTurnedOff() async throws {
        let directory = Fixtures.temporaryDirectory("no-storyboard") + "/hls"
        var options = TranscodeOptions()
        options.writeStoryboard = false
        let result = try await Transcoder(input: Fixtures.path("no_audio.mp4"), output: directory, options: options).run()
        #expect(result.storyboard == nil)
        #expect(!FileManager.default.fileExists(atPath: directory + "/" + Storyboard.indexName))
        #expect(!FileManager.default.fileExists(atPath: directory + "/" + Storyboard.folder))
    }
}
