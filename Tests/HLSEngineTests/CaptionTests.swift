import Foundation
import Testing
@testable import HLSEngine

/// Sidecar captions (issue 22): a caption file is untrusted input, validated with the line
/// that is wrong, then published as a WebVTT SUBTITLES rendition on the video's segments.
@Suite("Sidecar captions")
struct CaptionTests {
    static let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("vstream").path

    static let srt = """
        1
        00:00:00,500 --> 00:00:01,250
        <i>Hello</i> there

        2
        00:00:01,900 --> 00:00:02,600
        {\\an8}Across the seam

        """

    /// A `seconds`-long 320x180 source in `folder` with one subtitle stream made from `srt`,
    /// coded as `codec` and tagged `language`; `extra` adds ffmpeg arguments (a disposition).
    static func subtitledSource(in folder: String, named name: String, seconds: Int, codec: String, language: String,
                                extra: [String] = []) throws -> String {
        try srt.write(toFile: folder + "/captions.srt", atomically: true, encoding: .utf8)
        let source = folder + "/" + name
        let made = try Command.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=\(seconds)",
                                    "-i", folder + "/captions.srt", "-map", "0:v", "-map", "1:s", "-c:v", "libx264", "-preset", "ultrafast",
                                    "-c:s", codec, "-metadata:s:s:0", "language=\(language)"] + extra + [source])
        try #require(made.status == 0, "\(made.stderr)")
        return source
    }

    @Test func srtAndWebVTTAreReadWithoutTheirMarkup() throws {
        let srt = try CaptionFile(data: Data(Self.srt.utf8))
        #expect(srt.cues == [.init(start: 0.5, end: 1.25, text: "Hello there"), .init(start: 1.9, end: 2.6, text: "Across the seam")])
        let vtt = try CaptionFile(data: Data("WEBVTT - a title\n\nNOTE a comment\n\nintro\n00:01.000 --> 00:02.000 align:start\nHi &amp; bye\n\n01:00:00.000 --> 01:00:01.500\nLater\n".utf8))
        #expect(vtt.cues.map(\.start) == [1, 3600] && vtt.cues.map(\.end) == [2, 3601.5])
        #expect(vtt.cues.first?.text == "Hi & bye", "a character reference is its character")
        #expect(vtt.webVTT.contains("\nHi &amp; bye\n"), "and written back as one")
        #expect(srt.webVTT.hasPrefix("WEBVTT\n\n00:00:00.500 --> 00:00:01.250\nHello there\n"))
        // UTF-16 with a byte-order mark, and CRLF line ends.
        let utf16 = Data([0xFF, 0xFE]) + Self.srt.replacingOccurrences(of: "\n", with: "\r\n").data(using: .utf16LittleEndian)!
        #expect(try CaptionFile(data: utf16).cues == srt.cues)
    }

    /// A WebVTT file as YouTube and editors write it: metadata in the header block, STYLE,
    /// REGION and NOTE blocks, cue settings, voice and class spans, inline timestamps, and
    /// character references. Before, the header's "Kind: captions" line refused the file
    /// ("line 2: a cue without a timing line"), and "&amp;" was shown as written.
    @Test func aWebVTTFileWithHeadersStylesAndReferencesIsRead() throws {
        let text = """
            WEBVTT
            Kind: captions
            Language: en

            STYLE\u{20}
            ::cue { color: yellow }

            REGION
            id:fred
            width:40%

            NOTE\tthis comment
            spans two lines

            intro
            00:00.500 --> 00:01.500 align:start position:10% region:fred
            <v Roger>Tom &amp; Jerry &lt;3</v>

            00:00:02.000 --> 00:00:03.000 line:0
            <00:00:02.100><c> caf&#233;</c><00:00:02.500><c.yellow> &#x263A; &bogus; & more</c>

            """
        let file = try CaptionFile(data: Data(text.utf8))
        #expect(file.cues == [.init(start: 0.5, end: 1.5, text: "Tom & Jerry <3"), .init(start: 2, end: 3, text: " café ☺ &bogus; & more")])
        #expect(file.webVTT.contains("\nTom &amp; Jerry &lt;3\n"))
        // A first cue right after WEBVTT, with no blank line, is still a cue.
        let sloppy = try CaptionFile(data: Data("WEBVTT\n00:01.000 --> 00:02.000\nFirst\n".utf8))
        #expect(sloppy.cues == [.init(start: 1, end: 2, text: "First")])
    }

    /// Markup is dropped, text that only looks like it is kept. Before, "I <3 you" was cut at
    /// the "<", and every "{...}" went, "{sic}" included.
    @Test func onlyMarkupIsDroppedFromACue() throws {
        let srt = try CaptionFile(data: Data("""
            1
            00:00:00,500 --> 00:00:01,500
            I <3 you & {sic}, <font color="#ff0000">red</font> {\\an8}<I>up</I> a < b > c

            """.utf8))
        #expect(srt.cues.map(\.text) == ["I <3 you & {sic}, red up a < b > c"])
        let vtt = try CaptionFile(data: Data("WEBVTT\n\n00:01.000 --> 00:02.000\n<c.loud><00:00:01.500>Hey</c> &lt;3\n".utf8))
        #expect(vtt.cues.map(\.text) == ["Hey <3"])
        // The source's own subtitles come from libavcodec as ASS events, where "<" is text.
        #expect(SourceSubtitles.assText("0,0,Default,,0,0,0,,{\\an8}{\\b1}Bold{\\b0} top\\Nnext") == "Bold top\nnext")
        #expect(SourceSubtitles.assText("Dialogue: 0,0:00:00.50,0:00:01.50,Default,,0,0,0,,I <3 you,\\hsee \\{sic\\} \\\\o/")
                == "I <3 you, see {sic} \\o/")
    }

    /// A track with no title is named for its language, as an audio track is, and NAME is
    /// unique in the SUBTITLES group (RFC 8216 §4.3.4.1.1). Before, two English files and an
    /// English stream of the source were all NAME="eng".
    @Test func tracksWithoutATitleAreNamedForTheirLanguageAndNamedOnce() throws {
        let folder = Fixtures.temporaryDirectory("caption-names")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let source = try Self.subtitledSource(in: folder, named: "with-subs.mkv", seconds: 2, codec: "srt", language: "eng")
        let file = folder + "/captions.srt"
        let run = try Command.run([Self.binary, "transcode", source, "-o", folder + "/hls", "--ladder", "180", "--progress", "none",
                                   "--captions", file + ":eng", "--captions", file + ":en", "--captions", file + ":und"])
        #expect(run.status == 0, "\(run.stderr)")
        let master = try String(contentsOfFile: folder + "/hls/master.m3u8", encoding: .utf8)
        let names = master.split(separator: "\n").filter { $0.contains("TYPE=SUBTITLES") }
            .compactMap { $0.firstMatch(of: /LANGUAGE="([^"]+)",NAME="([^"]+)"/).map { "\($0.1)=\($0.2)" } }
        #expect(names == ["eng=English", "en=English (2)", "und=Captions", "eng=English (3)"], "\(master)")
    }

    /// Text made to be slow, read in one pass: a sidecar cue of 1 MiB of unclosed tags (refused
    /// for its length), and a source's ASS event of unclosed braces (kept as text). Before, each
    /// "<" and "{" scanned the rest of its line for the closing one: 80 KB of "<a" took 35 s, and
    /// a MiB would take hours of a server's CPU. The timeout only catches that: it is no goal.
    @Test func unclosedMarkupIsReadInOnePass() throws {
        let folder = Fixtures.temporaryDirectory("unclosed-markup")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let sidecar = folder + "/unclosed.srt"
        try ("1\n00:00:00,500 --> 00:00:01,500\n" + String(repeating: "<a", count: 500_000) + "\n")
            .write(toFile: sidecar, atomically: true, encoding: .utf8)
        let refused = try Command.run([Self.binary, "transcode", Fixtures.path("tiny_256x144.mp4"), "-o", folder + "/refused",
                                       "--captions", sidecar + ":eng", "--progress", "none"], timeout: 60)
        #expect(refused.status == 1 && refused.stderr.contains("line 2: a cue of more than 1000 characters"), "\(refused.status): \(refused.stderr)")

        let script = folder + "/unclosed.ass"
        try """
            [Script Info]
            ScriptType: v4.00+

            [Events]
            Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
            Dialogue: 0,0:00:00.50,0:00:01.50,Default,,0,0,0,,\(String(repeating: "{", count: 300_000))

            """.write(toFile: script, atomically: true, encoding: .utf8)
        let source = folder + "/unclosed.mkv"
        let made = try Command.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", Fixtures.path("tiny_256x144.mp4"), "-i", script,
                                    "-map", "0", "-map", "1", "-c:v", "copy", "-c:a", "copy", "-c:s", "ass", source])
        try #require(made.status == 0, "\(made.stderr)")
        let kept = try Command.run([Self.binary, "transcode", source, "-o", folder + "/kept", "--ladder", "144", "--progress", "none"],
                                   timeout: 60)
        #expect(kept.status == 0, "\(kept.status): \(kept.stderr)")
        #expect(FileManager.default.fileExists(atPath: folder + "/kept/captions/und.vtt"))
    }

    @Test(arguments: [
        ("1\n00:00:02,000 --> 00:00:01,000\nBackwards\n", 2, "ends before it starts"),
        ("1\n00:00:05,000 --> 00:00:06,000\nA\n\n2\n00:00:01,000 --> 00:00:02,000\nB\n", 6, "in order"),
        ("1\n00:00:01,000 -> 00:00:02,000\nArrow\n", 1, "timing line"),
        ("1\n00:00:1,000 --> 00:00:02,000\nShort\n", 2, "hh:mm:ss,mmm"),
        ("1\n00:61:01,000 --> 00:62:02,000\nMinutes\n", 2, "hh:mm:ss,mmm"),
        ("1\n00:00:01,000 --> 00:00:02,000\nFine\n\n2\n00:00:03,000 --> 99:00:00,000\n" + String(repeating: "A", count: 1001) + "\n",
         6, "more than 1000 characters"),
    ])
    func aBadFileIsRefusedWithItsLine(_ text: String, _ line: Int, _ words: String) {
        do {
            _ = try CaptionFile(data: Data(text.utf8))
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.line == line, "\(error)")
            #expect(error.reason.contains(words), "\(error)")
        }
    }

    @Test func notUTF8TooLargeAndEmptyAreRefused() {
        var bytes = Data("1\n00:00:01,000 --> 00:00:02,000\nfine\n\n2\n00:00:03,000 --> 00:00:04,000\n".utf8)
        bytes.append(contentsOf: [0xC3, 0x28, 0x0A])  // an invalid sequence on line 7
        #expect(throws: CaptionFile.Refusal(line: 7, reason: "the file is not UTF-8 (nor UTF-16 with a byte-order mark)")) {
            try CaptionFile(data: bytes)
        }
        for empty in ["", "WEBVTT\n", "WEBVTT\n\nNOTE nothing else\n", "\n\n"] {
            #expect(throws: CaptionFile.Refusal(reason: "the file holds no cue"), "\(empty.debugDescription)") {
                try CaptionFile(data: Data(empty.utf8))
            }
        }
        #expect(throws: CaptionFile.Refusal(reason: "the file is over 1 MiB")) {
            try CaptionFile(data: Data(repeating: 0x41, count: CaptionFile.maxBytes + 1))
        }
    }

    /// `--captions FILE:LANG:NAME`: a SUBTITLES rendition in the master, a WebVTT segment per
    /// video segment with its X-TIMESTAMP-MAP, the cue that spans a seam in both segments,
    /// and the whole file beside the ladder; a bad file stops the command with its line.
    @Test func captionsBecomeASubtitlesRenditionOnTheVideosSegments() throws {
        let folder = Fixtures.temporaryDirectory("captions")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try Self.srt.write(toFile: folder + "/captions.srt", atomically: true, encoding: .utf8)
        let output = folder + "/hls"
        let run = try Command.run([Self.binary, "transcode", Fixtures.path("h264_1080p30_stereo.mp4"), "-o", output, "--ladder", "360",
                                   "--progress", "none", "--captions", folder + "/captions.srt:eng:English (CC)"])
        #expect(run.status == 0, "\(run.stderr)")
        let master = try String(contentsOfFile: output + "/master.m3u8", encoding: .utf8)
        #expect(master.contains(#"#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",LANGUAGE="eng",NAME="English (CC)",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI="captions/eng/index.m3u8""#))
        #expect(master.split(separator: "\n").filter { $0.hasPrefix("#EXT-X-STREAM-INF") }.allSatisfy { $0.contains(#"SUBTITLES="subs""#) })
        let video = try String(contentsOfFile: output + "/360p/index.m3u8", encoding: .utf8)
        let captions = try String(contentsOfFile: output + "/captions/eng/index.m3u8", encoding: .utf8)
        let durations = { (text: String) in text.split(separator: "\n").filter { $0.hasPrefix("#EXTINF") } }
        #expect(durations(captions) == durations(video), "the same segments and durations as the video")
        let first = try String(contentsOfFile: output + "/captions/eng/segment_00000.vtt", encoding: .utf8)
        let second = try String(contentsOfFile: output + "/captions/eng/segment_00001.vtt", encoding: .utf8)
        #expect(first.hasPrefix("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:") && first.contains(",LOCAL:00:00:00.000\n"))
        #expect(first.contains("00:00:00.500 --> 00:00:01.250\nHello there") && first.contains("Across the seam"))
        #expect(second.contains("00:00:01.900 --> 00:00:02.600\nAcross the seam") && !second.contains("Hello"))
        #expect(try String(contentsOfFile: output + "/captions/eng.vtt", encoding: .utf8) == (try CaptionFile(data: Data(Self.srt.utf8))).webVTT)
        // Every segment is WebVTT a player reads (ffmpeg's demuxer; its HLS reader of this
        // release does not follow SUBTITLES renditions).
        for segment in captions.split(separator: "\n").filter({ $0.hasPrefix("segment_") }) {
            let probed = try Command.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0",
                                          output + "/captions/eng/" + segment])
            #expect(probed.status == 0 && probed.stdout.hasPrefix("webvtt"), "\(segment): \(probed.stderr)")
        }

        try "1\n00:00:02,000 --> 00:00:01,000\nBackwards\n".write(toFile: folder + "/bad.srt", atomically: true, encoding: .utf8)
        let refused = try Command.run([Self.binary, "transcode", Fixtures.path("no_audio.mp4"), "-o", folder + "/refused",
                                       "--captions", folder + "/bad.srt:eng"])
        #expect(refused.status != 0 && refused.stderr.contains("bad.srt: line 2: the cue ends before it starts"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/refused/master.m3u8"))
    }
}

/// Captions added to a finished ladder (`LadderCaptions`, what `POST …/captions` runs): the
/// same files a transcode with `--captions` writes, in the master and the MPD; removed, the
/// ladder is as it was.
@Suite("Captions added to a ladder")
struct LadderCaptionTests {
    @Test func anAddedTrackIsTheOneATranscodeWritesAndRemovingItRestoresTheLadder() throws {
        let folder = Fixtures.temporaryDirectory("ladder-captions")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try CaptionTests.srt.write(toFile: folder + "/captions.srt", atomically: true, encoding: .utf8)
        let source = Fixtures.path("h264_1080p30_stereo.mp4")
        for (name, extra) in [("reference", ["--captions", folder + "/captions.srt:eng:English (CC)"]), ("plain", [])] {
            let run = try Command.run([CaptionTests.binary, "transcode", source, "-o", "\(folder)/\(name)", "--ladder", "360",
                                       "--progress", "none", "--dash"] + extra)
            #expect(run.status == 0, "\(run.stderr)")
        }
        let reference = folder + "/reference", plain = folder + "/plain"
        let read = { (path: String) in (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
        let originalMaster = read(plain + "/master.m3u8"), originalMPD = read(plain + "/manifest.mpd")
        // The reference's X-TIMESTAMP-MAP says the ladder's shift.
        let map = try #require(read(reference + "/captions/eng/segment_00000.vtt").firstMatch(of: /MPEGTS:(\d+)/))
        let shift = Double(map.1)! / 90_000

        let ladder = LadderCaptions(folder: plain, segmentsPlaylist: "360p/index.m3u8", timelineShift: shift)
        let track = try SidecarCaptions(language: "eng", name: "English (CC)", file: CaptionFile(data: Data(CaptionTests.srt.utf8)))
        let added = try ladder.add(track, to: [])
        #expect(added.captions.map(\.playlist) == ["captions/eng/index.m3u8"] && added.removed.isEmpty)
        #expect(Array(added.written.suffix(2)) == ["manifest.mpd", "master.m3u8"], "the master last")
        for file in added.written where file.hasPrefix("captions/") {
            #expect(read("\(plain)/\(file)") == read("\(reference)/\(file)"), "\(file) is what a transcode writes")
        }
        let master = read(plain + "/master.m3u8")
        #expect(master.contains(#"#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",LANGUAGE="eng",NAME="English (CC)""#), "\(master)")
        #expect(master.split(separator: "\n").filter { $0.hasPrefix("#EXT-X-STREAM-INF") }.allSatisfy { $0.hasSuffix(#",SUBTITLES="subs""#) })
        #expect(read(plain + "/manifest.mpd").contains("<BaseURL>captions/eng.vtt</BaseURL>"))

        // Again in the same language: replaced, not doubled; then a second language.
        let shorter = try SidecarCaptions(language: "eng", name: "English", file: CaptionFile(data: Data("1\n00:00:00,100 --> 00:00:00,900\nHi\n".utf8)))
        let replaced = try ladder.add(shorter, to: added.captions)
        #expect(replaced.captions.map(\.name) == ["English"])
        #expect(read(plain + "/master.m3u8").components(separatedBy: "TYPE=SUBTITLES").count == 2)
        // A name another track has gets a number: NAME is unique in the group.
        let clash = try ladder.add(SidecarCaptions(language: "fr", name: "English", file: track.file), to: replaced.captions)
        #expect(clash.captions.map(\.name) == ["English", "English (2)"])
        let french = try ladder.add(SidecarCaptions(language: "fr", name: "Français", file: track.file), to: replaced.captions)
        #expect(french.captions.map(\.language) == ["eng", "fr"])
        #expect(read(plain + "/manifest.mpd").components(separatedBy: #"contentType="text""#).count == 3)

        // Both removed: the master and the MPD are the ladder's own again, the files gone.
        let one = try #require(try ladder.remove(language: "eng", from: french.captions))
        let none = try #require(try ladder.remove(language: "fr", from: one.captions))
        #expect(none.captions.isEmpty)
        #expect(try ladder.remove(language: "fr", from: none.captions) == nil)
        #expect(read(plain + "/master.m3u8") == originalMaster)
        #expect(read(plain + "/manifest.mpd") == originalMPD)
        #expect(!FileManager.default.fileExists(atPath: plain + "/captions/fr.vtt")
                && !FileManager.default.fileExists(atPath: plain + "/captions/eng/index.m3u8"))
    }
}

/// The source's own text subtitles (issue 22): mov_text in MP4 and subrip in Matroska become
/// WebVTT renditions with their language, their text at their times, and FORCED where the
/// source says so.
@Suite("Subtitles of the source")
struct SourceSubtitleTests {
    @Test(arguments: [("mp4", "mov_text"), ("mkv", "srt")])
    func textSubtitlesBecomeWebVTTRenditions(_ container: String, _ codec: String) throws {
        let folder = Fixtures.temporaryDirectory("source-subs")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let source = try CaptionTests.subtitledSource(in: folder, named: "with-subs.\(container)", seconds: 4, codec: codec, language: "fra",
                                                      extra: ["-disposition:s:0", "forced"])
        let output = folder + "/hls"
        let run = try Command.run([CaptionTests.binary, "transcode", source, "-o", output, "--ladder", "180", "--progress", "none", "--dash"])
        #expect(run.status == 0, "\(run.stderr)")
        let master = try String(contentsOfFile: output + "/master.m3u8", encoding: .utf8)
        #expect(master.contains(#"TYPE=SUBTITLES,GROUP-ID="subs",LANGUAGE="fra""#) && master.contains("FORCED=YES"), "\(master)")
        let whole = try CaptionFile(data: Data(contentsOf: URL(fileURLWithPath: output + "/captions/fra.vtt")))
        #expect(whole.cues.map(\.text) == ["Hello there", "Across the seam"])
        for (cue, expected) in zip(whole.cues, [(0.5, 1.25), (1.9, 2.6)]) {
            #expect(abs(cue.start - expected.0) <= 0.04 && abs(cue.end - expected.1) <= 0.04, "\(cue)")
        }
        let second = try String(contentsOfFile: output + "/captions/fra/segment_00001.vtt", encoding: .utf8)
        #expect(second.contains("Across the seam") && !second.contains("Hello"), "the seam cue is in the next segment too")
        let mpd = try String(contentsOfFile: output + "/manifest.mpd", encoding: .utf8)
        #expect(mpd.contains(#"contentType="text" mimeType="text/vtt" lang="fra""#) && mpd.contains("<BaseURL>captions/fra.vtt</BaseURL>")
                && mpd.contains(#"value="forced-subtitle""#), "a text AdaptationSet in the DASH manifest: \(mpd)")
        // A DASH player reads it: ffmpeg over HTTP gives a WebVTT stream with the cues. (On a
        // local path its file protocol refuses a .vtt URL unless -allowed_extensions ALL.)
        let server = try StaticHTTPServer(root: output)
        defer { server.stop() }
        let cues = try Command.run(["ffmpeg", "-nostdin", "-v", "error", "-i", server.url("manifest.mpd"),
                                    "-map", "0:s:0", "-f", "webvtt", "-"])
        #expect(cues.status == 0 && cues.stdout.contains("Hello there") && cues.stdout.contains("Across the seam"),
                "ffmpeg's DASH demuxer: \(cues.stderr)")
    }
}

/// Captions in the early ladder (issue 22): a viewer who starts while it transcodes has
/// them from the first segment, and each WebVTT segment published early is the VOD
/// ladder's file.
@Suite("Captions while it transcodes")
struct EarlyCaptionTests {
    /// What the early ladder held when it became playable.
    struct AtPlayable: Sendable {
        var master = ""
        var playlists: [String: String] = [:]
        var firstSegments: [String: String] = [:]
        var wholeFiles: [String] = []
        var variants: [ProgressiveLadder.Variant] = []
    }

    @Test func theEarlyLadderNamesEveryCaptionTrackFromItsFirstSegment() async throws {
        let folder = Fixtures.temporaryDirectory("early-captions")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // A source with a French mov_text stream, and an English sidecar file.
        let source = try CaptionTests.subtitledSource(in: folder, named: "with-subs.mp4", seconds: 8, codec: "mov_text", language: "fra")
        let output = folder + "/hls"
        var options = TranscodeOptions()
        options.progressive = true
        options.rungs = [180]
        options.captions = [try SidecarCaptions(language: "eng", name: "English (CC)", file: CaptionFile(data: Data(CaptionTests.srt.utf8)))]
        let transcoder = Transcoder(input: source, output: output, options: options)
        let tracks = ["captions/eng", "captions/fra"]
        let watcher = Task { () -> AtPlayable in
            var seen = AtPlayable()
            for await publication in transcoder.publications {
                guard case .playable(let variants) = publication else { continue }
                seen.variants = variants
                seen.master = ProgressiveTests.read(output + "/live.m3u8") ?? ""
                for track in tracks {
                    seen.playlists[track] = ProgressiveTests.read("\(output)/\(track)/live.m3u8")
                    seen.firstSegments[track] = ProgressiveTests.read("\(output)/\(track)/segment_00000.vtt")
                    if FileManager.default.fileExists(atPath: "\(output)/\(track).vtt") { seen.wholeFiles.append(track) }
                }
            }
            return seen
        }
        let result = try await transcoder.run()
        let early = await watcher.value

        #expect(early.master.contains(#"#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",LANGUAGE="eng",NAME="English (CC)",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI="captions/eng/live.m3u8""#),
                "\(early.master)")
        #expect(early.master.contains(#"LANGUAGE="fra""#) && early.master.contains(#"URI="captions/fra/live.m3u8""#))
        #expect(early.master.split(separator: "\n").filter { $0.hasPrefix("#EXT-X-STREAM-INF") }.allSatisfy { $0.contains(#"SUBTITLES="subs""#) })
        #expect(early.variants.compactMap(\.captions).map(\.language) == ["eng", "fra"])
        #expect(early.wholeFiles == tracks, "the whole files are there for the page")
        for track in tracks {
            let playlist = ProgressiveTests.Playlist(try #require(early.playlists[track], "\(track) has an EVENT playlist at playable"))
            #expect(playlist.lines.contains("#EXT-X-PLAYLIST-TYPE:EVENT") && !playlist.lines.contains { $0.hasPrefix("#EXT-X-MAP") })
            #expect(!playlist.ended && playlist.segments.first?.uri == "segment_00000.vtt")
            let first = try #require(early.firstSegments[track])
            #expect(first.contains("Hello there") && first.contains("Across the seam"), "\(track): \(first)")

            // At the end: the playlist ended on the VOD playlist's segments, and the segment
            // published early is the VOD ladder's file.
            let event = ProgressiveTests.Playlist(try #require(ProgressiveTests.read("\(output)/\(track)/live.m3u8")))
            let vod = ProgressiveTests.Playlist(try #require(ProgressiveTests.read("\(output)/\(track)/index.m3u8")))
            #expect(event.ended && event.segments.count == vod.segments.count && event.segments.count >= 4)
            #expect(zip(event.segments, vod.segments).allSatisfy { $0.uri == $1.uri && abs($0.duration - $1.duration) < 0.000_01 })
            #expect(ProgressiveTests.read("\(output)/\(track)/segment_00000.vtt") == first)
        }
        #expect(result.captions?.map(\.language) == ["eng", "fra"])
    }
}
