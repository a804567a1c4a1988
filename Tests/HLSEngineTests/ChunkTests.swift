import Foundation
import Testing
@testable import HLSEngine

/// Split and stitch (issue 21): a video encoded as chunks of whole segments, side by side
/// or one at a time anywhere, then stitched, against the same video in one run. The
/// chunks' segments must be the whole run's: the same numbers, frames, timing and
/// `tfdt` in every rung, the same `init.mp4`, the same audio, and playlists a player
/// cannot tell apart.
@Suite("Split and stitch", .serialized)
struct ChunkTests {
    static let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("vstream").path

    /// A source made for the case (the ffmpeg CLI), removed after.
    static func source(_ name: String, _ arguments: [String], container: String = "mp4") throws -> String {
        let path = Fixtures.temporaryDirectory("chunk-source") + "/\(name).\(container)"
        let made = try Command.run(["ffmpeg", "-nostdin", "-v", "error", "-y"] + arguments + [path], timeout: 120)
        #expect(made.status == 0, "\(made.stderr)")
        return path
    }

    /// 20 s of moving pictures with B-frames and stereo audio, 640x360.
    static func bFrameSource() throws -> String {
        try source("bframes", ["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
                               "-t", "20", "-c:v", "libx264", "-preset", "veryfast", "-bf", "3", "-g", "48", "-c:a", "aac", "-shortest"])
    }

    /// Open GOPs (recovery points, not IDRs) every 45 frames, so a chunk starts mid-GOP.
    static func openGOPSource() throws -> String {
        try source("opengop", ["-f", "lavfi", "-i", "testsrc2=size=480x270:rate=25", "-t", "12", "-c:v", "libx264", "-preset", "veryfast",
                               "-x264-params", "open-gop=1:keyint=45:min-keyint=45:scenecut=0:bframes=3"])
    }

    static func transcode(_ input: String, _ output: String, _ arguments: [String]) throws {
        let run = try Command.run([binary, "transcode", input, "-o", output, "--progress", "none"] + arguments, timeout: 300)
        #expect(run.status == 0, "\(arguments): \(run.stderr)")
    }

    /// Transcodes `input` whole and in chunks of `chunkSeconds`, `parallel` at once, and
    /// expects the same ladder from both.
    static func expectChunkedLadderIsWhole(_ input: String, chunkSeconds: Int, parallel: Int) throws {
        let folder = Fixtures.temporaryDirectory("chunks-compare")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try transcode(input, "\(folder)/whole", ["--dash", "--chunk-seconds", "0"])
        try transcode(input, "\(folder)/chunked", ["--chunk-seconds", String(chunkSeconds), "--parallel-chunks", String(parallel)])
        try expectSameLadder(whole: "\(folder)/whole", chunked: "\(folder)/chunked")
    }

    /// Every rung's segments in the chunked ladder are the whole run's.
    static func expectSameLadder(whole: String, chunked: String, comparesManifest: Bool = true) throws {
        let rungs = try FileManager.default.contentsOfDirectory(atPath: whole).filter { $0.hasSuffix("p") }.sorted()
        #expect(!rungs.isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: chunked).filter { $0.hasSuffix("p") }.sorted() == rungs)
        for rung in rungs {
            let wholePlaylist = try String(contentsOfFile: "\(whole)/\(rung)/index.m3u8", encoding: .utf8)
            #expect(try String(contentsOfFile: "\(chunked)/\(rung)/index.m3u8", encoding: .utf8) == wholePlaylist,
                    "\(rung): the same segments and durations (EXTINF)")
            #expect(FileManager.default.contents(atPath: "\(whole)/\(rung)/init.mp4") == FileManager.default.contents(atPath: "\(chunked)/\(rung)/init.mp4"),
                    "\(rung): the same init.mp4 (SPS/PPS)")
            let segments = wholePlaylist.split(separator: "\n").filter { $0.hasPrefix("segment_") }.map(String.init)
            var frames = 0
            for segment in segments {
                let a = try SegmentMedia(path: "\(whole)/\(rung)/\(segment)", initialization: "\(whole)/\(rung)/init.mp4")
                let b = try SegmentMedia(path: "\(chunked)/\(rung)/\(segment)", initialization: "\(chunked)/\(rung)/init.mp4")
                #expect(b.video.map(\.pts).sorted() == a.video.map(\.pts).sorted(), "\(rung)/\(segment): the same frames at the same times")
                #expect(b.video.first?.firstSliceType == 5, "\(rung)/\(segment) starts with an IDR")
                let timing = { (folder: String) in
                    FragmentTiming.read([UInt8](FileManager.default.contents(atPath: "\(folder)/\(rung)/\(segment)") ?? Data()))?.decodeTime
                }
                #expect(timing(chunked) != nil && timing(chunked) == timing(whole), "\(rung)/\(segment): the same tfdt")
                frames += b.video.count
            }
            let wholeFrames = try Command.ffprobeDecodedFrames("\(whole)/\(rung)/index.m3u8")
            #expect(frames == wholeFrames, "\(rung): every frame once")
        }
        if FileManager.default.fileExists(atPath: "\(whole)/audio/index.m3u8") {
            #expect(try String(contentsOfFile: "\(chunked)/audio/index.m3u8", encoding: .utf8)
                    == String(contentsOfFile: "\(whole)/audio/index.m3u8", encoding: .utf8))
            for file in try FileManager.default.contentsOfDirectory(atPath: "\(whole)/audio") where file.hasSuffix(".m4s") || file == "init.mp4" {
                #expect(FileManager.default.contents(atPath: "\(chunked)/audio/\(file)") == FileManager.default.contents(atPath: "\(whole)/audio/\(file)"),
                        "audio/\(file): encoded once, for the whole file, byte for byte the whole run's")
            }
        }
        if comparesManifest {
            let strip = { (path: String) in
                (try String(contentsOfFile: path, encoding: .utf8)).replacingOccurrences(of: #"bandwidth="[0-9]+""#, with: "", options: .regularExpression)
            }
            #expect(try strip("\(chunked)/manifest.mpd") == strip("\(whole)/manifest.mpd"), "the same DASH timeline")
        }
        // Poster, storyboard and download.mp4, as a whole run writes them.
        #expect(FileManager.default.contents(atPath: "\(chunked)/poster.jpg") == FileManager.default.contents(atPath: "\(whole)/poster.jpg"),
                "the poster: the same frame, about 10% in")
        #expect(try String(contentsOfFile: "\(chunked)/storyboard.vtt", encoding: .utf8)
                == String(contentsOfFile: "\(whole)/storyboard.vtt", encoding: .utf8), "storyboard cues numbered over the whole")
        for sheet in try FileManager.default.contentsOfDirectory(atPath: "\(whole)/storyboard") {
            #expect(FileManager.default.contents(atPath: "\(chunked)/storyboard/\(sheet)") == FileManager.default.contents(atPath: "\(whole)/storyboard/\(sheet)"),
                    "storyboard/\(sheet)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(chunked)/storyboard").sorted()
                == FileManager.default.contentsOfDirectory(atPath: "\(whole)/storyboard").sorted(), "sheets only, no raw tile left")
        if FileManager.default.fileExists(atPath: "\(whole)/download.mp4") {
            let rung = try #require(try FileManager.default.contentsOfDirectory(atPath: whole).filter { $0.hasSuffix("p") }.sorted {
                Int($0.dropLast()) ?? 0 < Int($1.dropLast()) ?? 0
            }.last { (Int($0.dropLast()) ?? 0) <= 720 } ?? rungs.first)
            #expect(try Command.ffprobeDecodedFrames("\(chunked)/download.mp4") == Command.ffprobeDecodedFrames("\(whole)/\(rung)/index.m3u8"),
                    "download.mp4 holds every frame of its rung")
            let decoded = try Command.run(["ffmpeg", "-nostdin", "-v", "error", "-i", "\(chunked)/download.mp4", "-map", "0", "-f", "null", "-"])
            #expect(decoded.status == 0 && decoded.stderr.isEmpty, "\(decoded.stderr)")
        }
        let master = try String(contentsOfFile: "\(chunked)/master.m3u8", encoding: .utf8)
        #expect(master.contains("EXT-X-MEDIA:TYPE=AUDIO") == FileManager.default.fileExists(atPath: "\(whole)/audio"))
        let played = try Command.run(["ffmpeg", "-nostdin", "-v", "error", "-i", "\(chunked)/master.m3u8", "-map", "0", "-f", "null", "-"])
        #expect(played.status == 0 && played.stderr.isEmpty, "the ffmpeg CLI plays the stitched ladder: \(played.stderr)")
    }

    @Test func chunksSideBySideGiveTheWholeRunsSegments() throws {
        let input = try Self.bFrameSource()
        let folder = Fixtures.temporaryDirectory("chunks")
        defer { try? FileManager.default.removeItem(atPath: folder); try? FileManager.default.removeItem(atPath: (input as NSString).deletingLastPathComponent) }
        try Self.transcode(input, "\(folder)/whole", ["--dash", "--chunk-seconds", "0"])
        try Self.transcode(input, "\(folder)/chunked", ["--chunk-seconds", "4", "--parallel-chunks", "2"])
        try Self.expectSameLadder(whole: "\(folder)/whole", chunked: "\(folder)/chunked")
        #expect(!FileManager.default.fileExists(atPath: "\(folder)/chunked/.chunks"), "the chunks' folders are gone")
    }

    /// Captions in a chunked run: chunk 0 carries the sidecar file and the source's text
    /// subtitles, and the stitch cuts them on the whole video's segments, as a whole run does.
    @Test func captionsOfAChunkedRunAreTheWholeRuns() throws {
        let folder = Fixtures.temporaryDirectory("chunks-captions")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try CaptionTests.srt.write(toFile: folder + "/eng.srt", atomically: true, encoding: .utf8)
        try "1\n00:00:05,500 --> 00:00:09,000\nAcross two chunks\n".write(toFile: folder + "/fra.srt", atomically: true, encoding: .utf8)
        let input = folder + "/subs.mp4"
        let made = try Command.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=12",
                                    "-i", folder + "/fra.srt", "-map", "0:v", "-map", "1:s", "-c:v", "libx264", "-preset", "ultrafast",
                                    "-g", "25", "-c:s", "mov_text", "-metadata:s:s:0", "language=fra", input])
        #expect(made.status == 0, "\(made.stderr)")
        let sidecar = ["--captions", folder + "/eng.srt:eng:English"]
        try Self.transcode(input, "\(folder)/whole", ["--dash", "--chunk-seconds", "0", "--ladder", "180"] + sidecar)
        try Self.transcode(input, "\(folder)/chunked", ["--chunk-seconds", "4", "--parallel-chunks", "2", "--ladder", "180"] + sidecar)
        let read = { (path: String) in (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
        let media = { (master: String) in master.split(separator: "\n").filter { $0.contains("TYPE=SUBTITLES") } }
        #expect(media(read("\(folder)/chunked/master.m3u8")).count == 2)
        #expect(media(read("\(folder)/chunked/master.m3u8")) == media(read("\(folder)/whole/master.m3u8")))
        let files = try FileManager.default.subpathsOfDirectory(atPath: "\(folder)/whole/captions").sorted()
        #expect(try FileManager.default.subpathsOfDirectory(atPath: "\(folder)/chunked/captions").sorted() == files)
        for file in files where file.contains(".") {
            #expect(read("\(folder)/chunked/captions/\(file)") == read("\(folder)/whole/captions/\(file)"), "\(file)")
        }
        #expect(read("\(folder)/chunked/captions/fra.vtt").contains("Across two chunks"))
        #expect(read("\(folder)/chunked/manifest.mpd").contains("<BaseURL>captions/eng.vtt</BaseURL>"))

        // While it transcodes, chunked: chunk 0 publishing as it goes writes its own
        // segments' captions, and a service extending the EVENT playlists with a later chunk
        // cuts that chunk's from chunk 0's manifest. Both are the whole run's files.
        try Self.transcode(input, "\(folder)/c0", ["--only-chunk", "0", "--chunk-seconds", "4", "--ladder", "180", "--progressive"] + sidecar)
        try Self.transcode(input, "\(folder)/c2", ["--only-chunk", "2", "--chunk-seconds", "4", "--ladder", "180"] + sidecar)
        let early = read("\(folder)/c0/live.m3u8")
        #expect(early.contains(#"URI="captions/eng/live.m3u8""#) && early.contains(#"URI="captions/fra/live.m3u8""#), "\(early)")
        let chunkZero = try ChunkOutline(folder: "\(folder)/c0")
        for track in ["eng", "fra"] {
            let named = read("\(folder)/c0/captions/\(track)/live.m3u8").split(separator: "\n").filter { $0.hasSuffix(".vtt") }
            #expect(named.count == chunkZero.endSegment, "\(track): chunk 0's segments")
            for file in named {
                #expect(read("\(folder)/c0/captions/\(track)/\(file)") == read("\(folder)/whole/captions/\(track)/\(file)"), "\(track)/\(file)")
            }
        }
        let captions = try #require(try ChunkLiveCaptions(manifest: Data(contentsOf: URL(fileURLWithPath: "\(folder)/c0/chunk.json"))))
        #expect(captions.folders == ["captions/eng", "captions/fra"] && captions.rung == "180p")
        let later = captions.files(for: try ChunkOutline(folder: "\(folder)/c2").published)
        #expect(later.count == 2 * 2, "two segments of chunk 2 for each track")
        for file in later { #expect(file.text == read("\(folder)/whole/\(file.path)"), "\(file.path)") }
        #expect(later.contains { $0.text.contains("Across two chunks") }, "the cue that spans the seam")
        let chunkTwo = try Data(contentsOf: URL(fileURLWithPath: "\(folder)/c2/chunk.json"))
        #expect(throws: TranscodeError.Reason.self, "only chunk 0's manifest has the captions") { try ChunkLiveCaptions(manifest: chunkTwo) }
    }

    /// `--only-chunk k` on each chunk (as separate workers would), then `vstream stitch`,
    /// gives what `--parallel-chunks` gives, in any order of the folders.
    @Test func onlyChunkThenStitchEqualsParallelChunks() throws {
        let input = try Self.bFrameSource()
        let folder = Fixtures.temporaryDirectory("chunks-stitch")
        defer { try? FileManager.default.removeItem(atPath: folder); try? FileManager.default.removeItem(atPath: (input as NSString).deletingLastPathComponent) }
        try Self.transcode(input, "\(folder)/whole", ["--dash", "--chunk-seconds", "0"])
        for index in 0..<5 { try Self.transcode(input, "\(folder)/c\(index)", ["--only-chunk", String(index), "--chunk-seconds", "4"]) }
        #expect(FileManager.default.fileExists(atPath: "\(folder)/c0/audio/init.mp4"), "chunk 0 encodes the audio")
        #expect(!FileManager.default.fileExists(atPath: "\(folder)/c1/audio"), "no other chunk does")
        #expect(!FileManager.default.fileExists(atPath: "\(folder)/c0/master.m3u8"), "a chunk alone is not a ladder")
        let past = try Command.run([Self.binary, "transcode", input, "-o", "\(folder)/c5", "--only-chunk", "5", "--chunk-seconds", "4"])
        #expect(past.status != 0 && past.stderr.contains("chunk 5 does not exist"), "\(past.stderr)")
        // What a service reads to extend the EVENT playlists as chunks finish: the stored
        // chunk.json alone names the chunk's segments, every one a file of the folder.
        for index in 0..<5 {
            let chunk = "\(folder)/c\(index)"
            let outline = try ChunkOutline(folder: chunk)
            let named = try ChunkOutline.publishedSegments(manifest: Data(contentsOf: URL(fileURLWithPath: chunk + "/chunk.json")))
            #expect(named == outline.published && !named.isEmpty)
            #expect(named.allSatisfy { FileManager.default.fileExists(atPath: "\(chunk)/\($0.rendition)/\($0.uri)") })
            let rung = named.filter { $0.rendition == named.first?.rendition }.map(\.index)
            #expect(rung == Array(outline.firstSegment..<outline.endSegment))
        }
        #expect(throws: TranscodeError.Reason.self) { try ChunkOutline.publishedSegments(manifest: Data("{}".utf8)) }
        // A stored manifest naming a file outside its rendition's folder is refused, not fetched.
        let stored = try String(contentsOfFile: "\(folder)/c1/chunk.json", encoding: .utf8)
        let escaping = stored.replacingOccurrences(of: "\"segment_00002.m4s\"", with: "\"..\\/..\\/x.m4s\"")
        #expect(escaping != stored)
        #expect(throws: TranscodeError.Reason.self) { try ChunkOutline.publishedSegments(manifest: Data(escaping.utf8)) }

        let stitched = try Command.run([Self.binary, "stitch", "\(folder)/stitched"] + [3, 1, 4, 0, 2].map { "\(folder)/c\($0)" })
        #expect(stitched.status == 0, "\(stitched.stderr)")
        try Self.expectSameLadder(whole: "\(folder)/whole", chunked: "\(folder)/stitched")
    }

    /// The audio as a task of its own (`--only-audio`, beside `--only-chunk 0 --audio-apart`),
    /// as `--parallel-chunks` runs it: every track of the whole file, byte for byte a whole
    /// run's. The stitch refuses an audio task that does not fit: missing, one too many, or
    /// encoded with other settings (another timeline shift: no B-frames).
    @Test func theAudioTaskGivesTheWholeRunsAudio() throws {
        let input = try Self.source("two-tracks", [
            "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-f", "lavfi", "-i", "sine=frequency=660:sample_rate=44100", "-map", "0:v", "-map", "1:a", "-map", "2:a", "-t", "10",
            "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fra",
            "-c:v", "libx264", "-preset", "veryfast", "-bf", "3", "-g", "48", "-c:a", "aac"])
        let folder = Fixtures.temporaryDirectory("chunks-audio-task")
        defer { try? FileManager.default.removeItem(atPath: folder); try? FileManager.default.removeItem(atPath: (input as NSString).deletingLastPathComponent) }
        try Self.transcode(input, "\(folder)/whole", ["--dash", "--chunk-seconds", "0"])
        try Self.transcode(input, "\(folder)/c0", ["--only-chunk", "0", "--audio-apart", "--chunk-seconds", "4"])
        try Self.transcode(input, "\(folder)/with-audio", ["--only-chunk", "0", "--chunk-seconds", "4"])
        for index in 1..<3 { try Self.transcode(input, "\(folder)/c\(index)", ["--only-chunk", String(index), "--chunk-seconds", "4"]) }
        try Self.transcode(input, "\(folder)/audio", ["--only-audio", "--chunk-seconds", "4"])
        try Self.transcode(input, "\(folder)/other", ["--only-audio", "--chunk-seconds", "4", "--preset", "ultrafast"])
        #expect(!FileManager.default.fileExists(atPath: "\(folder)/c0/audio"), "chunk 0 left the audio to the task")
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(folder)/audio").sorted() == ["audio", "audio-2", "audio.json"],
                "the task writes every track and no video")

        let chunks = (0..<3).map { "\(folder)/c\($0)" }
        for (given, reason) in [(chunks, "audio task"), (chunks + ["\(folder)/other"], "shifted by"),
                                (["\(folder)/with-audio"] + chunks.dropFirst() + ["\(folder)/audio"], "one too many")] {
            let refused = try Command.run([Self.binary, "stitch", "\(folder)/out"] + given)
            #expect(refused.status != 0 && refused.stderr.contains(reason), "\(reason): \(refused.stderr)")
            #expect(!FileManager.default.fileExists(atPath: "\(folder)/out/master.m3u8"))
        }
        let stitched = try Command.run([Self.binary, "stitch", "\(folder)/stitched", "\(folder)/audio"] + chunks.reversed())
        #expect(stitched.status == 0, "\(stitched.stderr)")
        try Self.expectSameLadder(whole: "\(folder)/whole", chunked: "\(folder)/stitched")
        let second = try FileManager.default.contentsOfDirectory(atPath: "\(folder)/whole/audio-2")
        #expect(second.contains("init.mp4") && second.count > 3)
        for file in second {
            #expect(FileManager.default.contents(atPath: "\(folder)/stitched/audio-2/\(file)")
                    == FileManager.default.contents(atPath: "\(folder)/whole/audio-2/\(file)"), "audio-2/\(file)")
        }
        let master = try String(contentsOfFile: "\(folder)/stitched/master.m3u8", encoding: .utf8)
        #expect(master.contains("LANGUAGE=\"fr\"") || master.contains("LANGUAGE=\"fra\""), "\(master)")
    }

    /// A chunk selection sent before the audio task existed still decodes, as chunk 0 carrying
    /// the audio; the new field survives the trip (the supervised engine gets it as JSON).
    @Test func aChunkSelectionWithoutItsAudioFieldCarriesTheAudio() throws {
        let old = try JSONDecoder().decode(ChunkSelection.self, from: Data(#"{"index":0,"seconds":10}"#.utf8))
        #expect(old == ChunkSelection(index: 0, seconds: 10, audio: .withChunkZero) && old.encodesAudio)
        for selection in [ChunkSelection(index: 0, seconds: 10, audio: .apart), .audioTask(seconds: 4)] {
            #expect(try JSONDecoder().decode(ChunkSelection.self, from: JSONEncoder().encode(selection)) == selection)
        }
        #expect(!ChunkSelection(index: 0, seconds: 10, audio: .apart).encodesAudio && ChunkSelection.audioTask(seconds: 4).encodesAudio)
        #expect(!ChunkSelection(index: 2, seconds: 10).encodesAudio)
    }

    /// Damaged media inside one chunk fails that chunk with the reason a whole run gives
    /// the same file (frames the index promised could not be read), never as a split
    /// problem that a service would retry or transcode whole; the other chunks encode.
    @Test func aChunkOfDamagedMediaFailsForTheMediaAsAWholeRunDoes() throws {
        let input = try Self.source("damaged", ["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30:duration=12",
                                               "-c:v", "libx264", "-g", "60", "-movflags", "+faststart"])
        let folder = Fixtures.temporaryDirectory("chunks-damaged")
        defer { try? FileManager.default.removeItem(atPath: folder); try? FileManager.default.removeItem(atPath: (input as NSString).deletingLastPathComponent) }
        // Garbage over 15 kB in the middle of the file: frames of chunk 1 (4 to 8 s) alone.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: input))
        let start = bytes.count / 2
        for offset in start..<min(start + 15_000, bytes.count) { bytes[offset] = UInt8(truncatingIfNeeded: offset &* 7) }
        try bytes.write(to: URL(fileURLWithPath: input))

        let whole = try Command.run([Self.binary, "transcode", input, "-o", "\(folder)/whole", "--progress", "none"])
        #expect(whole.status != 0 && whole.stderr.contains("the file is truncated"), "\(whole.stderr)")
        var reasons: [Int: String] = [:]
        for index in 0..<3 {
            let chunk = try Command.run([Self.binary, "transcode", input, "-o", "\(folder)/c\(index)", "--only-chunk", String(index),
                                         "--chunk-seconds", "4", "--progress", "none"])
            if chunk.status != 0 { reasons[index] = chunk.stderr }
        }
        #expect(reasons.count == 1, "only the damaged chunk fails: \(reasons)")
        #expect(reasons.values.allSatisfy { $0.contains("the file is truncated") && !$0.contains("plan") }, "\(reasons)")
    }

    /// An upload cut off (a fast-start MP4 whose media data stops at 60%) is refused chunked
    /// with the whole run's reason and count, and by every chunk run. Before, the plan took
    /// the frames that were there, and the chunks published a shorter video that the whole
    /// run refuses.
    @Test func aCutOffUploadIsRefusedChunkedAsWhole() throws {
        let input = try Self.source("cut", ["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30:duration=8", "-f", "lavfi",
                                            "-i", "sine=frequency=440:duration=8", "-c:v", "libx264", "-preset", "ultrafast",
                                            "-c:a", "aac", "-movflags", "+faststart"])
        let folder = Fixtures.temporaryDirectory("chunks-cut")
        defer { try? FileManager.default.removeItem(atPath: folder); try? FileManager.default.removeItem(atPath: (input as NSString).deletingLastPathComponent) }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: input))
        try bytes.prefix(bytes.count * 6 / 10).write(to: URL(fileURLWithPath: input))

        let whole = try Command.run([Self.binary, "transcode", input, "-o", "\(folder)/whole", "--progress", "none", "--chunk-seconds", "0"])
        let reason = try #require(whole.stderr.split(separator: "\n").last { $0.contains("the file is truncated") },
                                  "the whole run: \(whole.stderr)")
        for arguments in [["--chunk-seconds", "2", "--parallel-chunks", "2"], ["--only-chunk", "1", "--chunk-seconds", "2"]] {
            let chunked = try Command.run([Self.binary, "transcode", input, "-o", "\(folder)/chunked", "--progress", "none"] + arguments)
            #expect(chunked.status == whole.status && chunked.stderr.split(separator: "\n").last == reason,
                    "\(arguments): \(chunked.stderr)")
            #expect(!FileManager.default.fileExists(atPath: "\(folder)/chunked"), "\(arguments) left an output")
        }
    }

    /// The stitch verifies before it trusts: a chunk encoded with other settings (another
    /// SPS/PPS), or a chunk missing, is refused with the reason, and nothing is written.
    @Test func theStitchRefusesChunksThatDoNotFit() throws {
        let input = try Self.openGOPSource()
        let folder = Fixtures.temporaryDirectory("chunks-refused")
        defer { try? FileManager.default.removeItem(atPath: folder); try? FileManager.default.removeItem(atPath: (input as NSString).deletingLastPathComponent) }
        for index in 0..<3 { try Self.transcode(input, "\(folder)/c\(index)", ["--only-chunk", String(index), "--chunk-seconds", "4"]) }
        try Self.transcode(input, "\(folder)/other", ["--only-chunk", "1", "--chunk-seconds", "4", "--preset", "ultrafast"])

        let missing = try Command.run([Self.binary, "stitch", "\(folder)/out", "\(folder)/c0", "\(folder)/c2"])
        #expect(missing.status != 0 && missing.stderr.contains("3 chunks"), "\(missing.stderr)")
        // A segment gone from the last chunk: refused before anything of the first is moved.
        let segments = try FileManager.default.contentsOfDirectory(atPath: "\(folder)/c2/270p").filter { $0.hasSuffix(".m4s") }.sorted()
        let lost = try #require(segments.last)
        try FileManager.default.moveItem(atPath: "\(folder)/c2/270p/\(lost)", toPath: "\(folder)/\(lost)")
        let gap = try Command.run([Self.binary, "stitch", "\(folder)/out", "\(folder)/c0", "\(folder)/c1", "\(folder)/c2"])
        #expect(gap.status != 0 && gap.stderr.contains("is missing"), "\(gap.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(folder)/c0/270p").filter { $0.hasSuffix(".m4s") }.count == 2,
                "chunk 0 keeps its segments")
        try FileManager.default.moveItem(atPath: "\(folder)/\(lost)", toPath: "\(folder)/c2/270p/\(lost)")
        // A manifest naming a file outside its folder: refused, and that file left alone (a
        // refused stitch used to remove it while undoing its moves).
        let manifestPath = "\(folder)/c2/chunk.json"
        let original = try Data(contentsOf: URL(fileURLWithPath: manifestPath))
        let outside = "\(folder)/outside.m4s"
        try Data("keep".utf8).write(to: URL(fileURLWithPath: outside))
        try Data(String(decoding: original, as: UTF8.self).replacingOccurrences(of: "\"\(lost)\"", with: "\"..\\/..\\/outside.m4s\"").utf8)
            .write(to: URL(fileURLWithPath: manifestPath))
        let escaping = try Command.run([Self.binary, "stitch", "\(folder)/out", "\(folder)/c0", "\(folder)/c1", "\(folder)/c2"])
        #expect(escaping.status != 0 && escaping.stderr.contains("names a file outside its folder"), "\(escaping.stderr)")
        #expect(FileManager.default.contents(atPath: outside) == Data("keep".utf8))
        try original.write(to: URL(fileURLWithPath: manifestPath))
        let mixed = try Command.run([Self.binary, "stitch", "\(folder)/out", "\(folder)/c0", "\(folder)/other", "\(folder)/c2"])
        #expect(mixed.status != 0 && mixed.stderr.contains("init.mp4"), "\(mixed.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(folder)/out/master.m3u8"))
        #expect(FileManager.default.fileExists(atPath: "\(folder)/c0/360p/init.mp4") || FileManager.default.fileExists(atPath: "\(folder)/c0/270p/init.mp4"),
                "a refused stitch moved nothing out of the chunks")
    }

    @Test func anOpenGOPSourceStitchesCorrectly() throws {
        let input = try Self.openGOPSource()
        defer { try? FileManager.default.removeItem(atPath: (input as NSString).deletingLastPathComponent) }
        try Self.expectChunkedLadderIsWhole(input, chunkSeconds: 4, parallel: 3)
    }

    /// Matroska: seeking to a chunk's first keyframe can land past audio packets stored before
    /// it, and chunk 0 carries the whole file's audio. Before, chunk 0 sought to its start like
    /// the others and its audio began one AAC frame (23 ms) late, so the stitched audio was not
    /// the whole run's (and the service's normalised encode did not line up with it).
    @Test func aMatroskaSourceStitchesCorrectly() throws {
        let input = try Self.source("matroska", ["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
                                                 "-t", "8", "-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-c:a", "aac", "-shortest"],
                                    container: "mkv")
        defer { try? FileManager.default.removeItem(atPath: (input as NSString).deletingLastPathComponent) }
        try Self.expectChunkedLadderIsWhole(input, chunkSeconds: 2, parallel: 2)
    }

    /// MPEG-TS has no index: a seek lands on a timestamp, keyframe or not. With one keyframe
    /// in 10 s (a broadcast or screen capture), a chunk's run used to seek a second before
    /// its start, past the only keyframe, and decode nothing ("chunk 1 has no frame where the
    /// plan puts one"). It now seeks to the plan's keyframe and skips what comes before it.
    @Test func anMPEGTSSourceWithLongGOPsStitchesCorrectly() throws {
        let input = try Self.source("longgop", ["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30", "-f", "lavfi", "-i", "sine=frequency=440",
                                                "-t", "12", "-c:v", "libx264", "-preset", "ultrafast", "-g", "300", "-bf", "2",
                                                "-c:a", "aac", "-shortest"],
                                    container: "ts")
        defer { try? FileManager.default.removeItem(atPath: (input as NSString).deletingLastPathComponent) }
        try Self.expectChunkedLadderIsWhole(input, chunkSeconds: 4, parallel: 2)
    }

    @Test func aRotatedSourceStitchesCorrectly() throws {
        try Self.expectChunkedLadderIsWhole(Fixtures.path("portrait_rot90.mp4"), chunkSeconds: 2, parallel: 2)
    }

    /// Every video packet of a rung, as a player reads the ladder: (pts, dts, duration).
    static func packets(_ folder: String, _ rung: String) throws -> [String] {
        let segments = try FileManager.default.contentsOfDirectory(atPath: "\(folder)/\(rung)").filter { $0.hasPrefix("segment_") }.sorted()
        var joined = FileManager.default.contents(atPath: "\(folder)/\(rung)/init.mp4") ?? Data()
        for segment in segments { joined.append(FileManager.default.contents(atPath: "\(folder)/\(rung)/\(segment)") ?? Data()) }
        let path = "\(folder)/\(rung)-joined.mp4"
        try joined.write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let probe = try Command.run(["ffprobe", "-v", "error", "-show_entries", "packet=pts,dts,duration", "-of", "csv=p=0", path])
        #expect(probe.status == 0, "\(probe.stderr)")
        return probe.stdout.split(separator: "\n").map(String.init)
    }

    /// A variable-frame-rate source stitches into the whole run's ladder, packet for packet.
    /// x264 times a run's first packets from that run's own first frames, so each chunk
    /// takes the whole run's decode times, shift and last duration from the plan
    /// (`WholeRunVideoTiming`); without them the fixture's second chunk sat 0.13 s late,
    /// and the irregular source's `download.mp4` could not even be muxed.
    @Test(arguments: ["fixture", "irregular"])
    func aVariableFrameRateSourceStitchesCorrectly(_ kind: String) throws {
        let folder = Fixtures.temporaryDirectory("chunks-vfr")
        // The fixture: 30 fps for a second, then 10 fps. The irregular one: frames 1/60 s
        // and 2/60 s apart in a pattern that never settles, B-frames, and audio.
        let input = kind == "fixture" ? Fixtures.path("vfr.mp4") : try Self.source("irregular", [
            "-f", "lavfi", "-i", "testsrc2=size=480x270:rate=60", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "12",
            "-vf", "select='not(mod(n\\,2))+eq(mod(n\\,7)\\,3)+eq(mod(n\\,11)\\,5)'", "-fps_mode", "vfr",
            "-c:v", "libx264", "-preset", "veryfast", "-bf", "3", "-g", "50", "-c:a", "aac", "-shortest"])
        defer {
            try? FileManager.default.removeItem(atPath: folder)
            if kind != "fixture" { try? FileManager.default.removeItem(atPath: (input as NSString).deletingLastPathComponent) }
        }
        let probe = try MediaProbe.probe(input)
        #expect(probe.video.isVariableFrameRate)
        try Self.transcode(input, "\(folder)/whole", ["--dash", "--chunk-seconds", "0"])
        try Self.transcode(input, "\(folder)/chunked", ["--chunk-seconds", "2", "--parallel-chunks", "3"])
        let plan = try ChunkedTranscode.plan(input: input, segmentDuration: 2, chunkSeconds: 2)
        #expect(plan.chunks.count >= 2, "cut, not transcoded whole")
        try Self.expectSameLadder(whole: "\(folder)/whole", chunked: "\(folder)/chunked")
        let rungs = try FileManager.default.contentsOfDirectory(atPath: "\(folder)/whole").filter { $0.hasSuffix("p") }
        for rung in rungs {
            let whole = try Self.packets("\(folder)/whole", rung)
            #expect(whole.count == probe.video.frameCount)
            #expect(try Self.packets("\(folder)/chunked", rung) == whole, "\(rung): every packet's pts, dts and duration")
        }
        // One chunk at a time, as separate workers, then `vstream stitch`: the same ladder.
        var chunks: [String] = []
        for chunk in plan.chunks {
            chunks.append("\(folder)/c\(chunk.index)")
            try Self.transcode(input, chunks[chunk.index], ["--only-chunk", String(chunk.index), "--chunk-seconds", "2"])
        }
        let stitched = try Command.run([Self.binary, "stitch", "\(folder)/stitched"] + chunks.reversed())
        #expect(stitched.status == 0, "\(stitched.stderr)")
        for rung in rungs {
            #expect(try Self.packets("\(folder)/stitched", rung) == Self.packets("\(folder)/whole", rung), "\(rung), stitched from --only-chunk")
        }
    }

    /// The whole run's timing of a chunk's first and last packets, from the plan alone.
    @Test func aChunkTakesTheWholeRunsDecodeTimesFromThePlan() throws {
        // 90 kHz ticks, frames 1/60 s or 2/60 s apart: every difference in ticks is visible.
        let ticks = (0..<240).reduce(into: [Int64]()) { times, index in
            times.append((times.last ?? 0) + (index == 0 ? 0 : (index % 3 == 0 ? 3000 : 1500)))
        }
        let plan = ChunkPlan(frameTimes: ticks.map { Double($0) / 90_000 }, segmentDuration: 1, chunkSeconds: 1)
        #expect(plan.chunks.count >= 3)
        let second = plan.chunks[1]
        let timing = WholeRunVideoTiming(plan: plan, chunk: second, secondsPerTick: 1.0 / 90_000)
        let first = plan.chunks[0].frames  // the file's index of the second chunk's first frame
        for delay in 0...2 {
            #expect(timing.firstPacketDelay(reorderDelay: delay) == ticks[delay] - ticks[0])
            for packet in 0..<4 {
                #expect(timing.decodeTime(ofPacket: packet, reorderDelay: delay) == (packet < delay ? ticks[first - delay + packet] : nil),
                        "delay \(delay), packet \(packet): the frames before the chunk")
            }
            let end = first + second.frames
            #expect(timing.lastPacketDuration(reorderDelay: delay) == ticks[end - delay] - ticks[end - 1 - delay])
        }
        let opening = WholeRunVideoTiming(plan: plan, chunk: plan.chunks[0], secondsPerTick: 1.0 / 90_000)
        #expect(opening.decodeTime(ofPacket: 0, reorderDelay: 2) == nil, "chunk 0's first packets are the whole run's")
        let closing = WholeRunVideoTiming(plan: plan, chunk: plan.chunks[plan.chunks.count - 1], secondsPerTick: 1.0 / 90_000)
        #expect(closing.lastPacketDuration(reorderDelay: 2) == nil, "the last chunk ends as the whole run does")
    }

    /// The plan: whole segments on the whole file's clock, the nearest whole number of
    /// segments per chunk, every frame in exactly one chunk.
    @Test func thePlanCutsWholeSegmentsOnTheWholeFilesClock() {
        let times = (0..<600).map { Double($0) / 30 + 0.5 }  // 20 s at 30 fps, starting at 0.5 s
        let plan = ChunkPlan(frameTimes: times.shuffled(), segmentDuration: 2, chunkSeconds: 4.6)
        #expect(plan.segmentStarts.count == 10 && plan.origin == 0.5 && plan.lastFrameTime == times.last)
        #expect(plan.chunks.map(\.firstSegment) == [0, 2, 4, 6, 8], "4.6 s is nearer 2 segments than 3")
        #expect(plan.chunks.map(\.frames) == [120, 120, 120, 120, 120])
        #expect(plan.chunks.last?.end == nil && plan.chunks[1].start == plan.segmentStarts[2])
        #expect(plan.chunks.allSatisfy { chunk in times.filter(chunk.contains).count == chunk.frames })
        #expect(ChunkPlan(frameTimes: times, segmentDuration: 2, chunkSeconds: 0).chunks.count == 1, "0: whole")
        #expect(ChunkPlan(frameTimes: times, segmentDuration: 2, chunkSeconds: 0.1).chunks.count == 10, "at least a segment")
        #expect(ChunkPlan(frameTimes: [], segmentDuration: 2, chunkSeconds: 4).chunks.isEmpty)
    }

    /// `--max-duration` bounds the plan as it bounds a whole run: a source that declares
    /// 90 minutes is refused before a packet is read (before, the plan read all 90 minutes'
    /// packets first: 14 s for a refusal a whole run gives in 0.2 s), and the planner itself
    /// stops once the packets pass the limit, for a container that undercounts its length,
    /// instead of keeping every timestamp of the file.
    @Test func aChunkPlanStopsAtTheDurationLimit() throws {
        do {
            _ = try ChunkedTranscode.plan(input: Fixtures.path("hostile/bomb_90min_1080p.mkv"), segmentDuration: 2, chunkSeconds: 4,
                                          maxDurationSeconds: 3600)
            Issue.record("a 90-minute source was planned under a one-hour limit")
        } catch {
            guard case .tooLong(let seconds, 3600) = error.reason else {
                Issue.record("\(error.reason.userMessage)")
                return
            }
            #expect(abs(seconds - 5400) < 1, "the declared length")
        }
        let input = try Self.source("twelve", ["-f", "lavfi", "-i", "testsrc2=size=160x90:rate=30", "-t", "12", "-c:v", "libx264",
                                               "-preset", "ultrafast"])
        defer { try? FileManager.default.removeItem(atPath: (input as NSString).deletingLastPathComponent) }
        let plan = { (limit: Double) throws -> Result<ChunkPlan, ChunkPlanner.Refusal> in
            let opened = try MediaProbe.open(FileByteSource(path: input), name: input)
            let info = try MediaProbe.describe(opened, countPackets: false)  // no declared-length check: the planner's own bound
            return try ChunkPlanner.plan(opened, info: info, segmentDuration: 2, chunkSeconds: 4, maxDurationSeconds: limit,
                                         cancellation: CancellationFlag())
        }
        #expect(throws: TranscodeError.Reason.tooLong(seconds: 182.0 / 30, limit: 6)) { try plan(6) }
        let planned = try plan(60).get()
        #expect(planned.chunks.reduce(0) { $0 + $1.frames } == 360, "under the limit, every frame is planned")
    }

    /// Ctrl-C stops every chunk, and nothing is left: no chunks' folder, no output folder
    /// the run made.
    @Test func ctrlCStopsTheChunksAndLeavesNothing() throws {
        let input = try Self.source("long", ["-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-t", "30", "-c:v", "libx264",
                                             "-preset", "ultrafast"])
        let folder = Fixtures.temporaryDirectory("chunks-interrupted")
        defer { try? FileManager.default.removeItem(atPath: folder); try? FileManager.default.removeItem(atPath: (input as NSString).deletingLastPathComponent) }
        let output = folder + "/out"
        let child = try Command.spawn([Self.binary, "transcode", input, "-o", output, "--chunk-seconds", "6", "--parallel-chunks", "2",
                                       "--progress", "none"])
        var started = false
        for _ in 0..<600 where !started {
            started = FileManager.default.fileExists(atPath: output + "/.chunks/0/720p")
            if !started { usleep(20_000) }
        }
        #expect(started, "the chunks began")
        child.signal(SIGINT)
        let status = child.wait(timeout: 20)
        #expect(status != 0 && status != 137, "it stopped on its own after Ctrl-C")
        #expect(!FileManager.default.fileExists(atPath: output), "nothing left: \((try? FileManager.default.subpathsOfDirectory(atPath: output)) ?? [])")
    }
}
