import Foundation
import HLSEngine
import Testing

/// Progressive publishing: EVENT playlists that only grow and name only written
/// segments, an early master once every rung has one, `master.m3u8` only at the end,
/// and players that follow the growing ladder to its end.
@Suite("Progressive publishing", .serialized)
struct ProgressiveTests {
    struct Playlist: Sendable {
        var lines: [Substring]
        var segments: [(uri: String, duration: Double)]
        var targetDuration: Int
        var ended: Bool

        init(_ text: String) {
            lines = text.split(separator: "\n")
            var segments: [(String, Double)] = []
            var duration: Double?
            for line in lines {
                if line.hasPrefix("#EXTINF:") { duration = Double(line.dropFirst(8).split(separator: ",")[0]) }
                else if !line.hasPrefix("#"), let seconds = duration { segments.append((String(line), seconds)); duration = nil }
            }
            self.segments = segments
            targetDuration = lines.first { $0.hasPrefix("#EXT-X-TARGETDURATION:") }.flatMap { Int($0.dropFirst(22)) } ?? 0
            ended = lines.contains("#EXT-X-ENDLIST")
        }

        /// RFC 8216 §4.3.3.1, and an EVENT playlist's own tags.
        var isValidEvent: Bool {
            lines.first == "#EXTM3U" && lines.contains("#EXT-X-PLAYLIST-TYPE:EVENT") && lines.contains("#EXT-X-MAP:URI=\"init.mp4\"")
                && lines.contains { $0.hasPrefix("#EXT-X-START:TIME-OFFSET=0") }
                && segments.allSatisfy { Int($0.duration.rounded()) <= targetDuration && $0.duration > 0 }
        }
    }

    static func read(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }

    /// The player the watcher starts, handed back to the test.
    final class PlayerBox: @unchecked Sendable {
        var child: Command.Child?
        var variants: [String] = []
    }

    @Test func eventPlaylistsGrowNameOnlyWrittenSegmentsAndEndAsTheVODLadder() async throws {
        let output = Fixtures.temporaryDirectory("progressive")
        defer { try? FileManager.default.removeItem(atPath: output) }
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let server = try StaticHTTPServer(root: output)
        defer { server.stop() }
        var options = TranscodeOptions()
        options.progressive = true
        let source = Fixtures.path("upload_30mb.mp4")
        let transcoder = Transcoder(input: source, output: output, options: options)

        // What a viewer started at the early master sees, as it happens.
        let box = PlayerBox()
        let transcoderRungs = ["360p", "720p"]  // upload_30mb.mp4 is 720p: no upscaling
        let liveURL = server.url("live.m3u8")
        let watcher = Task { () -> (checks: [String], snapshots: [Int: Playlist], playableBeforeEnd: Bool) in
            var problems: [String] = []
            var snapshots: [Int: Playlist] = [:]
            var counts: [String: Int] = [:]
            var playableBeforeEnd = false
            for await publication in transcoder.publications {
                if FileManager.default.fileExists(atPath: output + "/master.m3u8") { problems.append("master.m3u8 before the end") }
                switch publication {
                case .segment(let segment):
                    // Before every rung has a segment there is nothing to name yet.
                    guard let text = Self.read("\(output)/\(segment.rendition)/live.m3u8") else {
                        if playableBeforeEnd { problems.append("no live.m3u8 after \(segment.rendition) \(segment.index)") }
                        continue
                    }
                    let playlist = Playlist(text)
                    if !playlist.isValidEvent { problems.append("invalid EVENT playlist: \(text)") }
                    if playlist.ended { problems.append("ENDLIST before the end") }
                    if playlist.segments.count < (counts[segment.rendition] ?? 0) { problems.append("\(segment.rendition) shrank") }
                    counts[segment.rendition] = playlist.segments.count
                    for named in playlist.segments where !FileManager.default.fileExists(atPath: "\(output)/\(segment.rendition)/\(named.uri)") {
                        problems.append("\(named.uri) named before it was written")
                    }
                    if segment.rendition == "720p", [0, 2].contains(playlist.segments.count - 1), snapshots[playlist.segments.count - 1] == nil {
                        snapshots[playlist.segments.count - 1] = playlist
                    }
                    // Every rung names the same segments: a switch never lands short.
                    let lengths = Set(transcoderRungs.compactMap { Self.read("\(output)/\($0)/live.m3u8").map { Playlist($0).segments.count } })
                    if lengths.count > 1 { problems.append("rungs differ: \(lengths)") }
                case .ended(let rendition):
                    problems.append("\(rendition) ended before the others: only a still picture's rungs do")
                case .playable(let variants):
                    playableBeforeEnd = true
                    let master = Self.read(output + "/live.m3u8") ?? ""
                    box.variants = variants.map(\.name)
                    for variant in variants where !master.contains("CODECS=\"\(variant.codecs)\"") || !variant.codecs.hasPrefix("avc1.64") {
                        problems.append("codecs \(variant.codecs) in \(master)")
                    }
                    for variant in variants where !master.contains("\(variant.name)/live.m3u8") { problems.append("master lacks \(variant.name)") }
                    // A player started now follows the EVENT playlists to their end.
                    box.child = try? Command.spawn(["ffmpeg", "-nostdin", "-v", "error", "-live_start_index", "0",
                                                 "-i", liveURL, "-map", "0:v:0", "-f", "framemd5", output + "/frames.txt"])
                }
            }
            return (problems, snapshots, playableBeforeEnd)
        }
        let result = try await transcoder.run()
        let watched = await watcher.value
        #expect(watched.checks.isEmpty, "\(watched.checks.prefix(5))")
        #expect(watched.playableBeforeEnd)
        #expect(box.variants == result.renditions.map(\.rendition.name), "the early master names every rung")
        #expect(watched.snapshots.keys.sorted() == [0, 2], "after the first segment and after the third")

        for rendition in result.renditions.map(\.rendition.name) {
            let event = Playlist(try #require(Self.read("\(output)/\(rendition)/live.m3u8")))
            let vod = Playlist(try #require(Self.read("\(output)/\(rendition)/index.m3u8")))
            #expect(event.ended && event.isValidEvent)
            #expect(event.segments.map(\.uri) == vod.segments.map(\.uri), "the same segments")
            #expect(zip(event.segments, vod.segments).allSatisfy { abs($0.duration - $1.duration) < 0.000_01 })
            if rendition == "720p" {
                // The playlist only grew: each snapshot is a prefix of the end.
                for snapshot in watched.snapshots.values {
                    #expect(Array(event.segments.prefix(snapshot.segments.count)).map(\.uri) == snapshot.segments.map(\.uri))
                }
            }
        }
        let player = try #require(box.child)
        #expect(player.wait(timeout: 120) == 0)
        let frames = (Self.read(output + "/frames.txt") ?? "").split(separator: "\n").filter { !$0.hasPrefix("#") }.count
        #expect(frames == result.sourceFrames, "the viewer started at the early master decoded every frame")
    }

    /// A rendition that runs on past the others keeps its end in the early ladder: a still
    /// picture's sound past its one segment, and a picture past its sound. Each ended EVENT
    /// playlist names what its VOD playlist names, and a player that follows the early master
    /// hears and sees the ends. Before, every ended playlist stopped at the shortest
    /// rendition's count: 2 s of a 30 s still picture's sound, 6 s of a 10 s picture whose
    /// sound stops at 4 s.
    @Test(arguments: ["still picture", "sound that stops early"])
    func anEndedEarlyLadderKeepsTheEndOfEveryRendition(source kind: String) async throws {
        let folder = Fixtures.temporaryDirectory("progressive-ends")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let source: String
        if kind == "still picture" {
            source = try StillPictureTests.source(in: folder, seconds: 30)
        } else {
            source = folder + "/short-sound.mp4"
            let made = try Command.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=10",
                                        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=4", "-ac", "2",
                                        "-c:v", "libx264", "-c:a", "aac", source])
            try #require(made.status == 0, "\(made.stderr)")
        }
        var options = TranscodeOptions()
        options.progressive = true
        options.dash = true
        options.rungs = [180]
        let output = folder + "/out"
        let result = try await Transcoder(input: source, output: output, options: options).run()
        for rendition in ["180p", "audio"] {
            let event = Playlist(try #require(Self.read("\(output)/\(rendition)/live.m3u8")))
            let vod = Playlist(try #require(Self.read("\(output)/\(rendition)/index.m3u8")))
            #expect(event.ended && event.isValidEvent, "\(rendition)")
            #expect(event.segments.map(\.uri) == vod.segments.map(\.uri), "\(rendition): \(event.segments.count) of \(vod.segments.count) segments")
            #expect(zip(event.segments, vod.segments).allSatisfy { abs($0.duration - $1.duration) < 0.000_01 }, "\(rendition)")
        }
        // What a player of the early master reads: the last audio packet, the last frame.
        let lastTime = { (stream: String) throws -> Double in
            let read = try Command.run(["ffprobe", "-v", "error", "-live_start_index", "0", "-select_streams", stream,
                                        "-show_entries", "packet=pts_time", "-of", "csv=p=0", output + "/live.m3u8"])
            return read.stdout.split(separator: "\n").compactMap { Double($0.split(separator: ",").first ?? "") }.max() ?? 0
        }
        let (sound, picture) = kind == "still picture" ? (30.0, 0.0) : (4.0, 10.0)
        #expect(try lastTime("a:0") > sound - 0.5, "\(result.durationSeconds) s")
        #expect(try lastTime("v:0") > picture - 0.5)
    }

    @Test func aTranscodeThatIsNotProgressivePublishesNothing() async throws {
        let output = Fixtures.temporaryDirectory("not-progressive")
        defer { try? FileManager.default.removeItem(atPath: output) }
        let transcoder = Transcoder(input: Fixtures.path("tiny_256x144.mp4"), output: output)
        let counter = Task { var count = 0; for await _ in transcoder.publications { count += 1 }; return count }
        _ = try await transcoder.run()
        #expect(await counter.value == 0)
        #expect(!FileManager.default.fileExists(atPath: output + "/live.m3u8"))
    }

    @Test func theLadderKeepsOnlyTheContiguousRunAndIgnoresRepeats() {
        var ladder = ProgressiveLadder(renditions: ["360p", "720p"], initializationURI: "init.mp4", segmentDuration: 2)
        let segment = { (rendition: String, index: Int) in
            PublishedSegment(rendition: rendition, index: index, uri: "segment_\(index).m4s", duration: 2, bytes: 10)
        }
        #expect(ladder.add(segment("360p", 1)) == false, "segment 1 waits for segment 0")
        #expect(ladder.segments(of: "360p").isEmpty && !ladder.isPlayable)
        #expect(ladder.add(segment("360p", 0)) == false, "720p has no segment yet")
        #expect(ladder.has("360p", 1) && ladder.segments(of: "360p").isEmpty)
        #expect(ladder.add(segment("360p", 0)) == false, "a repeat changes nothing")
        #expect(ladder.add(segment("1080p", 0)) == false, "not a rung of this ladder")
        #expect(!ladder.isPlayable)
        #expect(ladder.add(segment("720p", 0)) == true)
        #expect(ladder.isPlayable && ladder.publishedCount == 1)
        #expect(ladder.add(segment("720p", 1)) == true, "both rungs have segment 1 now")
        #expect(ladder.segments(of: "360p").map(\.index) == [0, 1] && ladder.segments(of: "720p").map(\.index) == [0, 1])
        let text = ladder.eventPlaylist("360p", ended: false)
        #expect(text.contains("#EXT-X-PLAYLIST-TYPE:EVENT") && !text.contains("ENDLIST") && text.contains("segment_1.m4s"))
        #expect(ladder.eventPlaylist("360p", ended: true).hasSuffix("#EXT-X-ENDLIST\n"))
        // Segment 2 of one rung waits for the other's while the ladder grows; once ended, each
        // playlist names its own run (a track that runs on past the others keeps its end).
        #expect(ladder.add(segment("360p", 2)) == false)
        #expect(!ladder.eventPlaylist("360p", ended: false).contains("segment_2.m4s"))
        #expect(ladder.eventPlaylist("360p", ended: true).contains("segment_2.m4s"))
        #expect(!ladder.eventPlaylist("720p", ended: true).contains("segment_2.m4s"))
        #expect(ladder.targetDuration == 3)
    }

    /// A still picture's rung ends with its one segment while the sound goes on: its playlist
    /// ends there, the sound's grows without waiting for it, and captions follow the rung.
    @Test func aRenditionThatEndsFirstHoldsTheOthersBackNoLonger() {
        var ladder = ProgressiveLadder(renditions: ["180p", "audio"], initializationURI: "init.mp4", segmentDuration: 2)
        ladder.includeCaptions("captions/eng", following: "180p")
        let segment = { (rendition: String, index: Int) in
            PublishedSegment(rendition: rendition, index: index, uri: "segment_\(index).m4s", duration: rendition == "180p" ? 0.04 : 2, bytes: 10)
        }
        #expect(ladder.add(segment("180p", 0)) == false)
        #expect(ladder.end("audio") == true && ladder.ended == ["audio"] && ladder.segments(of: "180p").count == 1,
                "the rung no longer waits for a rendition that ended")
        #expect(!ladder.isPlayable, "but every rendition needs a segment for the ladder to be playable")
        ladder = ProgressiveLadder(renditions: ["180p", "audio"], initializationURI: "init.mp4", segmentDuration: 2)
        ladder.includeCaptions("captions/eng", following: "180p")
        #expect(ladder.add(segment("180p", 0)) == false && ladder.add(segment("audio", 0)) == true)
        for index in 1...3 { #expect(ladder.add(segment("audio", index)) == false, "held back to the picture's one segment") }
        #expect(ladder.end("180p") == true && ladder.publishedCount == 4 && ladder.isPlayable)
        #expect(ladder.end("180p") == false, "once")
        let rung = ladder.eventPlaylist("180p", ended: false)
        #expect(rung.hasSuffix("#EXT-X-ENDLIST\n") && rung.components(separatedBy: ".m4s").count - 1 == 1, "\(rung)")
        let sound = ladder.eventPlaylist("audio", ended: false)
        #expect(!sound.contains("ENDLIST") && sound.components(separatedBy: ".m4s").count - 1 == 4, "\(sound)")
        #expect(ladder.add(segment("audio", 4)) == true, "the sound grows alone")
        let captions = ladder.eventPlaylist("captions/eng", ended: false)
        #expect(captions.hasSuffix("#EXT-X-ENDLIST\n") && captions.components(separatedBy: ".vtt").count - 1 == 1, "\(captions)")
    }
}
