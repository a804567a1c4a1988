import Foundation
import Testing
@testable import HLSEngine

/// Every audio stream of the source becomes an audio rendition (issue 22): a dubbed film
/// keeps its dubs. Checked as a viewer's player sees the ladder: the master's AUDIO group,
/// the DASH manifest's AdaptationSets, and the ffmpeg CLI picking a track by its language
/// and hearing that track's own tone.
@Suite("Audio tracks", .serialized)
struct AudioTrackTests {
    /// 6 s of 320x180 video, English at 440 Hz (the default) and French at 880 Hz, and an
    /// English text subtitle stream of `codec`.
    static func dubbedSource(in folder: String, container: String, subtitleCodec: String) throws -> String {
        try CaptionTests.srt.write(toFile: folder + "/captions.srt", atomically: true, encoding: .utf8)
        let source = folder + "/dubbed.\(container)"
        let made = try Command.run([
            "ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=6",
            "-f", "lavfi", "-i", "sine=frequency=440:duration=6", "-f", "lavfi", "-i", "sine=frequency=880:duration=6",
            "-i", folder + "/captions.srt", "-map", "0:v", "-map", "1:a", "-map", "2:a", "-map", "3:s",
            "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-ac", "2", "-c:s", subtitleCodec,
            "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fra", "-metadata:s:a:1", "title=Version française",
            "-metadata:s:s:0", "language=eng", "-disposition:a:0", "default", "-disposition:a:1", "0", source,
        ])
        #expect(made.status == 0, "\(made.stderr)")
        return source
    }

    /// The dominant frequency of the track `player` picks with `-map 0:a:m:language:LANG`,
    /// from the zero crossings of its decoded samples (a pure tone crosses twice a period).
    static func toneHeard(in playlist: String, language: String) throws -> Double {
        let pcm = (playlist as NSString).deletingLastPathComponent + "/heard-\(language).raw"
        defer { try? FileManager.default.removeItem(atPath: pcm) }
        let heard = try Command.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", playlist, "-map", "0:a:m:language:\(language)",
                                     "-ac", "1", "-ar", "48000", "-f", "s16le", pcm])
        #expect(heard.status == 0, "\(heard.stderr)")
        let samples = try Data(contentsOf: URL(fileURLWithPath: pcm)).withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
        guard samples.count > 48_000 else { return 0 }
        let crossings = zip(samples, samples.dropFirst()).filter { ($0 < 0) != ($1 < 0) }.count
        return Double(crossings) / 2 / (Double(samples.count) / 48_000)
    }

    static func mediaLines(_ master: String, type: String) -> [String] {
        master.split(separator: "\n").map(String.init).filter { $0.hasPrefix("#EXT-X-MEDIA:TYPE=\(type),") }
    }

    @Test(arguments: [("mp4", "mov_text"), ("mkv", "srt")])
    func everyAudioTrackBecomesARenditionWithItsLanguage(_ container: String, _ codec: String) throws {
        let folder = Fixtures.temporaryDirectory("audio-tracks")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let source = try Self.dubbedSource(in: folder, container: container, subtitleCodec: codec)
        let output = folder + "/hls"
        let run = try Command.run([CaptionTests.binary, "transcode", source, "-o", output, "--ladder", "180", "--progress", "none"])
        #expect(run.status == 0, "\(run.stderr)")
        let master = try String(contentsOfFile: output + "/master.m3u8", encoding: .utf8)
        let audio = Self.mediaLines(master, type: "AUDIO")
        #expect(audio.count == 2, "\(master)")
        #expect(audio.first?.contains(#"LANGUAGE="eng",NAME="English",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2""#) == true, "\(audio)")
        // Matroska keeps a track's title; MP4 has none, and the language names it.
        let name = container == "mkv" ? "Version française" : "French"
        #expect(audio.last?.contains(#"LANGUAGE="fra",NAME="\#(name)",DEFAULT=NO,AUTOSELECT=YES"#) == true, "\(audio)")
        #expect(audio.allSatisfy { $0.contains(#"GROUP-ID="audio""#) })
        let variants = master.split(separator: "\n").filter { $0.hasPrefix("#EXT-X-STREAM-INF") }
        #expect(!variants.isEmpty && variants.allSatisfy { $0.contains(#"AUDIO="audio""#) && $0.contains(#"SUBTITLES="subs""#) })
        #expect(Self.mediaLines(master, type: "SUBTITLES").first?.contains(#"LANGUAGE="eng""#) == true)
        // The player picks a track by its language and hears that track, not the other.
        let french = try Self.toneHeard(in: output + "/master.m3u8", language: "fra")
        let english = try Self.toneHeard(in: output + "/master.m3u8", language: "eng")
        #expect(abs(french - 880) < 15, "the fra track sounds at \(french) Hz")
        #expect(abs(english - 440) < 15, "the eng track sounds at \(english) Hz")
    }

    @Test func theDASHManifestHasAnAdaptationSetPerTrack() throws {
        let folder = Fixtures.temporaryDirectory("audio-tracks-dash")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let source = try Self.dubbedSource(in: folder, container: "mp4", subtitleCodec: "mov_text")
        let output = folder + "/hls"
        let run = try Command.run([CaptionTests.binary, "transcode", source, "-o", output, "--ladder", "180", "--dash", "--progress", "json"])
        #expect(run.status == 0, "\(run.stderr)")
        let mpd = try String(contentsOfFile: output + "/manifest.mpd", encoding: .utf8)
        let sets = mpd.split(separator: "\n").filter { $0.contains(#"contentType="audio""#) }
        #expect(sets.count == 2 && sets[0].contains(#"lang="eng""#) && sets[1].contains(#"lang="fra""#), "\(mpd)")
        #expect(mpd.contains(#"initialization="audio-2/init.mp4""#) && mpd.contains("<Label>French</Label>"))
        // The result lists the tracks, for an app (the service's audioTracks).
        let result = try JSONDecoder().decode(TranscodeResult.self, from: Data((run.stdout.split(separator: "\n").last ?? "").utf8))
        #expect(result.audioTracks?.map(\.language) == ["eng", "fra"] && result.audioTracks?.map(\.playlist) == ["audio/index.m3u8", "audio-2/index.m3u8"])
    }

    /// The early ladder (watch while it transcodes) has every track too, named as in the
    /// master: its EVENT playlists end with the VOD's segments, and a player that picks
    /// the dub by its language on `live.m3u8` hears the dub.
    @Test func theEarlyLadderHasEveryTrack() throws {
        let folder = Fixtures.temporaryDirectory("audio-tracks-live")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let source = try Self.dubbedSource(in: folder, container: "mkv", subtitleCodec: "srt")
        let output = folder + "/hls"
        let run = try Command.run([CaptionTests.binary, "transcode", source, "-o", output, "--ladder", "180", "--progressive",
                                   "--progress", "none"])
        #expect(run.status == 0, "\(run.stderr)")
        let live = try String(contentsOfFile: output + "/live.m3u8", encoding: .utf8)
        let audio = Self.mediaLines(live, type: "AUDIO")
        #expect(audio.count == 2, "\(live)")
        #expect(audio.first?.contains(#"LANGUAGE="eng",NAME="English",DEFAULT=YES"#) == true, "\(audio)")
        #expect(audio.last?.contains(#"LANGUAGE="fra",NAME="Version française",DEFAULT=NO"#) == true
                && audio.last?.contains(#"URI="audio-2/live.m3u8""#) == true, "\(audio)")
        let segments = { (path: String) throws -> [String] in
            try String(contentsOfFile: output + "/" + path, encoding: .utf8).split(separator: "\n").map(String.init).filter { $0.hasSuffix(".m4s") }
        }
        let event = try String(contentsOfFile: output + "/audio-2/live.m3u8", encoding: .utf8)
        #expect(event.contains("#EXT-X-PLAYLIST-TYPE:EVENT") && event.hasSuffix("#EXT-X-ENDLIST\n"), "\(event)")
        #expect(try segments("audio-2/live.m3u8") == segments("audio-2/index.m3u8"))
        let french = try Self.toneHeard(in: output + "/live.m3u8", language: "fra")
        #expect(abs(french - 880) < 15, "the fra track of the early ladder sounds at \(french) Hz")
    }

    /// The service's layout (progressive, loudness on) on a Matroska source with a subtitle
    /// stream, in fMP4 and in TS (`--segment-format ts`, for old players): every track is kept
    /// (in TS, as segments of audio alone; before, every track but the first was left out
    /// with a note) and every track is normalised. Before, reading the subtitles rewound the
    /// input, and the seek landed past the first audio packet: the early encode lost 23 ms,
    /// the normalised encode did not line up with it, and the tracks kept the source's level.
    @Test(arguments: ["fmp4", "ts"])
    func everyTrackIsKeptAndNormalisedInTheServicesLayout(_ format: String) throws {
        let folder = Fixtures.temporaryDirectory("audio-tracks-\(format)")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let source = try Self.dubbedSource(in: folder, container: "mkv", subtitleCodec: "srt")
        let output = folder + "/hls"
        let run = try Command.run([CaptionTests.binary, "transcode", source, "-o", output, "--ladder", "180", "--segment-format", format,
                                   "--progressive", "--progress", "json"])
        #expect(run.status == 0, "\(run.stderr)")
        let result = try JSONDecoder().decode(TranscodeResult.self, from: Data((run.stdout.split(separator: "\n").last ?? "").utf8))
        #expect(result.notes == nil, "nothing left out or left as it is: \(result.notes ?? [])")
        #expect(result.republishedAudio == ["audio", "audio-2"], "\(String(describing: result.republishedAudio))")
        let master = try String(contentsOfFile: output + "/master.m3u8", encoding: .utf8)
        let audio = Self.mediaLines(master, type: "AUDIO")
        #expect(audio.count == 2 && audio.last?.contains(#"LANGUAGE="fra""#) == true, "\(master)")
        let playlist = try String(contentsOfFile: output + "/audio-2/index.m3u8", encoding: .utf8)
        #expect(playlist.contains(format == "ts" ? "segment_00000.ts" : "segment_00000.m4s") && playlist.contains("#EXT-X-MAP") == (format == "fmp4"),
                "\(playlist)")
        let french = try Self.toneHeard(in: output + "/master.m3u8", language: "fra")
        let english = try Self.toneHeard(in: output + "/master.m3u8", language: "eng")
        #expect(abs(french - 880) < 15 && abs(english - 440) < 15, "fra \(french) Hz, eng \(english) Hz")
        // download.mp4 is remuxed with the normalised default track.
        let download = try Command.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0", output + "/download.mp4"])
        #expect(download.stdout.split(separator: "\n").sorted() == ["audio", "video"], "\(download.stdout)")
    }

    /// Split and stitch keeps every track: chunk 0 encodes them, the stitch lists them.
    @Test func aChunkedRunKeepsEveryTrack() throws {
        let folder = Fixtures.temporaryDirectory("audio-tracks-chunks")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let source = try Self.dubbedSource(in: folder, container: "mp4", subtitleCodec: "mov_text")
        let output = folder + "/hls"
        let run = try Command.run([CaptionTests.binary, "transcode", source, "-o", output, "--ladder", "180",
                                   "--chunk-seconds", "2", "--parallel-chunks", "2", "--progress", "none"])
        #expect(run.status == 0, "\(run.stderr)")
        let master = try String(contentsOfFile: output + "/master.m3u8", encoding: .utf8)
        #expect(Self.mediaLines(master, type: "AUDIO").count == 2, "\(master)")
        let french = try Self.toneHeard(in: output + "/master.m3u8", language: "fra")
        #expect(abs(french - 880) < 15, "the fra track sounds at \(french) Hz")
    }

    /// 320x180 video and `tracks` AAC tones (300 Hz, 400 Hz, …), titled "Track 1", "Track 2", …,
    /// each `seconds` long, in Matroska.
    static func manyTrackSource(in folder: String, tracks: Int, seconds: Int) throws -> String {
        let source = folder + "/tracks-\(tracks).mkv"
        var arguments = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=\(seconds)"]
        for track in 0..<tracks { arguments += ["-f", "lavfi", "-i", "sine=frequency=\(300 + 100 * track):duration=\(seconds)"] }
        arguments += ["-map", "0:v"] + (1...tracks).flatMap { ["-map", "\($0):a"] }
        arguments += ["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac"]
        arguments += (0..<tracks).flatMap { ["-metadata:s:a:\($0)", "title=Track \($0 + 1)"] }
        let made = try Command.run(arguments + [source])
        #expect(made.status == 0, "\(made.stderr)")
        return source
    }

    /// Eight tracks cost one decode and one encode each, within the engine's bounds; a
    /// ninth is left out with a note.
    @Test func nineTracksGiveEightRenditionsWithinTheBounds() throws {
        let folder = Fixtures.temporaryDirectory("audio-tracks-nine")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let source = try Self.manyTrackSource(in: folder, tracks: 9, seconds: 10)
        let output = folder + "/hls"
        let run = try Command.run([CaptionTests.binary, "transcode", source, "-o", output, "--ladder", "180", "--progress", "none"],
                                  timeout: 180, measuringMemory: true)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("more than 8 audio tracks, left out"), "\(run.stderr)")
        let master = try String(contentsOfFile: output + "/master.m3u8", encoding: .utf8)
        let audio = Self.mediaLines(master, type: "AUDIO")
        #expect(audio.count == 8 && audio.last?.contains(#"NAME="Track 8""#) == true, "\(audio)")
        #expect(run.maxRSS < 1 << 30, "eight tracks peaked at \(run.maxRSS >> 20) MiB")
    }

    /// While the loudness measurement runs, a whole run holds up to 30 s of each track for the
    /// gain, as the source's compressed packets: eight tracks of 30 s then cost little more than
    /// with `--loudness off`. Held decoded and resampled (12 MiB a track), they cost over 90 MiB.
    @Test func theLoudnessHoldOfEightTracksIsCompressed() throws {
        let folder = Fixtures.temporaryDirectory("audio-tracks-hold")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let source = try Self.manyTrackSource(in: folder, tracks: 8, seconds: 30)
        var peaks: [String: Int] = [:]
        for loudness in ["off", "-16"] {
            let run = try Command.run([CaptionTests.binary, "transcode", source, "-o", folder + "/hls-\(loudness)", "--ladder", "180",
                                       "--loudness", loudness, "--progress", "none"], timeout: 180, measuringMemory: true)
            #expect(run.status == 0, "\(run.stderr)")
            peaks[loudness] = run.maxRSS
        }
        let off = peaks["off"] ?? 0, on = peaks["-16"] ?? 0
        #expect(off > 0 && on - off < 60 << 20, "peak RSS \(on >> 20) MiB with loudness, \(off >> 20) MiB without")
    }
}
