import Foundation
import Testing
@testable import HLSEngine

/// `vstream probe` lists every audio and subtitle stream (issue 22): what a dubbed film
/// with captions carries, before the ladder can offer it.
@Suite("Probing tracks")
struct TrackProbeTests {
    static let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("vstream").path

    /// Two audio tracks (English by default, French 5.1 with a title) and forced English
    /// subrip captions, in Matroska (which keeps titles and every disposition as given).
    static func dubbedSource() throws -> (path: String, folder: String) {
        let folder = Fixtures.temporaryDirectory("tracks")
        let captions = folder + "/captions.srt"
        try "1\n00:00:00,500 --> 00:00:01,500\nHello there\n\n2\n00:00:01,600 --> 00:00:02,000\nGoodbye\n"
            .write(toFile: captions, atomically: true, encoding: .utf8)
        let path = folder + "/dubbed.mkv"
        let made = try Command.run([
            "ffmpeg", "-nostdin", "-v", "error", "-y",
            "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=2",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2",
            "-f", "lavfi", "-i", "sine=frequency=880:sample_rate=48000:duration=2",
            "-i", captions,
            "-map", "0:v", "-map", "1:a", "-map", "2:a", "-map", "3:s",
            "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-ac:a:1", "6", "-c:s", "srt",
            "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fra", "-metadata:s:a:1", "title=Français",
            "-metadata:s:s:0", "language=eng", "-disposition:a:0", "default", "-disposition:a:1", "0",
            "-disposition:s:0", "forced", path])
        #expect(made.status == 0, "\(made.stderr)")
        return (path, folder)
    }

    @Test func everyAudioAndSubtitleStreamIsListedWithItsLanguageAndDisposition() throws {
        let (path, folder) = try Self.dubbedSource()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let run = try Command.run([Self.binary, "probe", path, "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let info = try JSONDecoder().decode(MediaInfo.self, from: Data(run.stdout.utf8))
        #expect(info.tracks.map(\.kind) == [.audio, .audio, .subtitle])
        #expect(info.tracks.map(\.language) == ["eng", "fra", "eng"])
        #expect(info.tracks.map(\.codec) == ["aac", "aac", "subrip"])
        #expect(info.tracks.map(\.isDefault) == [true, false, false])
        #expect(info.tracks[2].isForced && info.tracks[2].isText == true)
        #expect(info.tracks[1].title == "Français" && info.tracks[1].channels == 6 && info.tracks[0].channels == 1)

        let text = try Command.run([Self.binary, "probe", path])
        #expect(text.stdout.contains("track: audio, #1, aac, eng, 1 channels, default"))
        #expect(text.stdout.contains("track: audio, #2, aac, fra, 6 channels \"Français\""))
        #expect(text.stdout.contains("track: subtitle, #3, subrip, eng, forced"))
    }

    @Test func aFileWithoutTagsHasUndeterminedTracks() throws {
        let info = try MediaProbe.probe(Fixtures.path("h264_1080p30_stereo.mp4"))
        #expect(info.tracks.count == 1 && info.tracks[0].kind == .audio && info.tracks[0].channels == 2)
        #expect(["und", "eng"].contains(info.tracks[0].language))
        #expect(try MediaProbe.probe(Fixtures.path("no_audio.mp4")).tracks.isEmpty)
    }
}
