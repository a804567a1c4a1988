import Foundation
import Testing
@testable import HLSEngine

/// Tracks for viewers with a disability, as the source marks them: an audio description
/// (the "visual impaired" disposition) and captions for the deaf and hard of hearing
/// ("hearing impaired", SDH) are marked in both masters and the MPD, so a player asked for
/// one picks it, and an untitled one is named for what it is, not "English (2)".
@Suite("Accessible tracks")
struct AccessibilityTests {
    @Test func anAudioDescriptionAndSDHCaptionsAreMarkedWhereverTheyAreListed() throws {
        let folder = Fixtures.temporaryDirectory("accessible")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try CaptionTests.srt.write(toFile: folder + "/captions.srt", atomically: true, encoding: .utf8)
        let source = folder + "/accessible.mkv"
        let made = try Command.run([
            "ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=4",
            "-f", "lavfi", "-i", "sine=frequency=440:duration=4", "-f", "lavfi", "-i", "sine=frequency=660:duration=4",
            "-i", folder + "/captions.srt", "-i", folder + "/captions.srt",
            "-map", "0:v", "-map", "1:a", "-map", "2:a", "-map", "3:s", "-map", "4:s",
            "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-c:s", "srt",
            "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=eng",
            "-disposition:a:0", "default", "-disposition:a:1", "visual_impaired",
            "-metadata:s:s:0", "language=eng", "-metadata:s:s:1", "language=eng", "-disposition:s:0", "hearing_impaired",
            source])
        try #require(made.status == 0, "\(made.stderr)")

        let probe = try Command.run([CaptionTests.binary, "probe", source])
        #expect(probe.stdout.contains("track: audio, #2, aac, eng, 1 channels, audio description"), "\(probe.stdout)")
        #expect(probe.stdout.contains("track: subtitle, #3, subrip, eng, hearing impaired"), "\(probe.stdout)")

        let output = folder + "/hls"
        let run = try Command.run([CaptionTests.binary, "transcode", source, "-o", output, "--ladder", "180", "--progress", "none",
                                   "--dash", "--progressive"])
        #expect(run.status == 0, "\(run.stderr)")
        let describes = #"CHARACTERISTICS="public.accessibility.describes-video""#
        let transcribes = #"CHARACTERISTICS="public.accessibility.transcribes-spoken-dialog,public.accessibility.describes-music-and-sound""#
        for master in ["master.m3u8", "live.m3u8"] {
            let lines = try String(contentsOfFile: "\(output)/\(master)", encoding: .utf8).split(separator: "\n").map(String.init)
            let audio = lines.filter { $0.contains("TYPE=AUDIO") }, captions = lines.filter { $0.contains("TYPE=SUBTITLES") }
            #expect(audio.count == 2 && captions.count == 2, "\(master): \(lines)")
            #expect(audio.first.map { $0.contains(#"NAME="English",DEFAULT=YES"#) && !$0.contains("CHARACTERISTICS") } == true, "\(master)")
            #expect(audio.last.map { $0.contains(#"NAME="English (audio description)",DEFAULT=NO"#) && $0.contains(describes) } == true,
                    "\(master): \(audio)")
            #expect(captions.first.map { $0.contains(#"NAME="English (SDH)""#) && $0.contains(transcribes) } == true, "\(master)")
            #expect(captions.last.map { $0.contains(#"NAME="English""#) && !$0.contains("CHARACTERISTICS") } == true, "\(master)")
        }
        let mpd = try String(contentsOfFile: output + "/manifest.mpd", encoding: .utf8)
        #expect(mpd.contains(#"<Role schemeIdUri="urn:mpeg:dash:role:2011" value="description"/>"#)
                && mpd.contains(#"<Accessibility schemeIdUri="urn:tva:metadata:cs:AudioPurposeCS:2007" value="1"/>"#), "\(mpd)")
        #expect(mpd.contains(#"value="caption""#) && mpd.contains(#"value="subtitle""#), "\(mpd)")

        // A track added later keeps the marks of those already there.
        let shift = try #require(try String(contentsOfFile: output + "/captions/eng/segment_00000.vtt", encoding: .utf8)
            .firstMatch(of: /MPEGTS:(\d+)/).flatMap { Double($0.1) }) / 90_000
        let ladder = LadderCaptions(folder: output, segmentsPlaylist: "180p/index.m3u8", timelineShift: shift)
        let listed = [TranscodeResult.Caption(language: "eng", name: "English (SDH)", file: "captions/eng.vtt",
                                              playlist: "captions/eng/index.m3u8", forced: false, hearingImpaired: true),
                      TranscodeResult.Caption(language: "eng", name: "English", file: "captions/eng-2.vtt",
                                              playlist: "captions/eng-2/index.m3u8", forced: false)]
        let french = try SidecarCaptions(language: "fra", name: nil, file: CaptionFile(data: Data(CaptionTests.srt.utf8)))
        let added = try ladder.add(french, to: listed)
        #expect(added.captions.map(\.name) == ["English (SDH)", "English", "French"])
        let master = try String(contentsOfFile: output + "/master.m3u8", encoding: .utf8)
        #expect(master.components(separatedBy: transcribes).count == 2, "\(master)")
        #expect(try String(contentsOfFile: output + "/manifest.mpd", encoding: .utf8).contains(#"value="caption""#))
    }

    /// `--captions-sdh`: a sidecar file for the deaf and hard of hearing, marked and named as
    /// the source's SDH streams are; `--captions` beside it is not.
    @Test func aSidecarFileCanBeMarkedSDH() throws {
        let folder = Fixtures.temporaryDirectory("sidecar-sdh")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try CaptionTests.srt.write(toFile: folder + "/captions.srt", atomically: true, encoding: .utf8)
        let output = folder + "/hls"
        let run = try Command.run([CaptionTests.binary, "transcode", Fixtures.path("tiny_256x144.mp4"), "-o", output, "--progress", "none",
                                   "--captions", folder + "/captions.srt:eng", "--captions-sdh", folder + "/captions.srt:eng"])
        #expect(run.status == 0, "\(run.stderr)")
        let captions = try String(contentsOfFile: output + "/master.m3u8", encoding: .utf8).split(separator: "\n")
            .filter { $0.contains("TYPE=SUBTITLES") }
        #expect(captions.count == 2, "\(captions)")
        #expect(captions.first.map { $0.contains(#"NAME="English""#) && !$0.contains("CHARACTERISTICS") } == true, "\(captions)")
        #expect(captions.last.map { $0.contains(#"NAME="English (SDH)""#) && $0.contains("public.accessibility.transcribes-spoken-dialog") } == true,
                "\(captions)")
    }
}
