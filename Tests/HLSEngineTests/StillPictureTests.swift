import Foundation
import Testing
@testable import HLSEngine

/// A still picture with long audio (a podcast's cover, a song's artwork): the sound is kept to
/// its end where the layout allows, bounded by `--max-duration` even when the container lies
/// about its length, and audio that is dropped costs no memory.
@Suite("A still picture with long audio")
struct StillPictureTests {
    /// One 320x180 frame, then `seconds` of a 997 Hz tone, in `container` (mp4 or mkv).
    /// `declaresLengths: false` writes the Matroska file through a pipe, as a recorder that
    /// cannot seek back does: no track declares its length.
    static func source(in folder: String, seconds: Int, container: String = "mp4", declaresLengths: Bool = true) throws -> String {
        let source = folder + "/still-\(seconds).\(container)"
        for arguments in [["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-frames:v", "1", "-c:v", "libx264", folder + "/one.mp4"],
                          ["-f", "lavfi", "-i", "sine=frequency=997:sample_rate=48000:duration=\(seconds)", "-ac", "2", "-c:a", "aac",
                           folder + "/tone.m4a"]] {
            let made = try Command.run(["ffmpeg", "-nostdin", "-v", "error", "-y"] + arguments)
            #expect(made.status == 0, "\(made.stderr)")
        }
        let join = "ffmpeg -nostdin -v error -y -i '\(folder)/one.mp4' -i '\(folder)/tone.m4a' -map 0:v -map 1:a -c copy"
        let made = try Command.run(["sh", "-c", declaresLengths ? "\(join) '\(source)'" : "\(join) -f matroska - > '\(source)'"])
        #expect(made.status == 0, "\(made.stderr)")
        return source
    }

    static func extinfs(_ path: String) -> [Double] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n")
            .filter { $0.hasPrefix("#EXTINF:") }.compactMap { Double($0.dropFirst(8).split(separator: ",")[0]) }
    }

    /// The latest audio packet's time a player reads from `path` (a master or an MP4).
    static func lastAudioTime(_ path: String) throws -> Double {
        let played = try Command.run(["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries", "packet=pts_time", "-of", "csv=p=0", path])
        // TS lines end with a comma (the program's empty field).
        return played.stdout.split(separator: "\n").compactMap { Double($0.split(separator: ",").first ?? "") }.max() ?? 0
    }

    static func mpdDuration(_ path: String) throws -> Double {
        let mpd = try String(contentsOfFile: path, encoding: .utf8)
        return mpd.firstMatch(of: /mediaPresentationDuration="PT([0-9.]+)S"/).flatMap { Double($0.1) } ?? 0
    }

    /// The three layouts a still picture can get: CMAF with DASH, CMAF alone, and TS.
    enum Layout: String, CaseIterable { case dash, cmaf, ts }

    /// One picture, then a minute of audio: the ladder keeps the whole minute in a rendition
    /// of audio alone (chosen for it when the layout is not DASH; in TS, segments of audio
    /// alone), cut into 2 s segments past the picture, and the picture's one frame keeps its
    /// duration, as ffprobe reads it. Before, everything 2 s past the picture was dropped,
    /// and the frame read as 0 s long.
    @Test(arguments: Layout.allCases)
    func aStillPictureWithAMinuteOfAudioKeepsTheMinute(layout: Layout) async throws {
        let folder = Fixtures.temporaryDirectory("still-picture")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let source = try Self.source(in: folder, seconds: 60)
        var options = TranscodeOptions()
        options.dash = layout == .dash
        options.segmentFormat = layout == .ts ? .mpegts : .fmp4
        options.rungs = [180]
        options.loudness = nil
        let output = folder + "/hls"
        let result = try await Transcoder(input: source, output: output, options: options).run()
        #expect(abs(result.durationSeconds - 60) < 0.1, "the ladder lasts as long as its audio: \(result.durationSeconds)")
        let audio = Self.extinfs(output + "/audio/index.m3u8")
        #expect(abs(audio.reduce(0, +) - 60) < 0.1 && audio.allSatisfy { $0 <= 2.05 }, "\(audio)")
        #expect(Self.extinfs(output + "/180p/index.m3u8") == [0.04], "one frame of 1/25 s")
        // The frame's duration, as a probe reads it from the segment (the SPS's frame rate).
        var joined = layout == .ts ? Data() : FileManager.default.contents(atPath: output + "/180p/init.mp4") ?? Data()
        joined.append(FileManager.default.contents(atPath: output + "/180p/segment_00000.\(layout == .ts ? "ts" : "m4s")") ?? Data())
        try joined.write(to: URL(fileURLWithPath: folder + "/frame.\(layout == .ts ? "ts" : "mp4")"))
        let frame = try Command.run(["ffprobe", "-v", "error", "-show_entries", "packet=duration_time", "-of", "csv=p=0",
                                     folder + "/frame.\(layout == .ts ? "ts" : "mp4")"])
        #expect(frame.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0.040000", "\(frame.stdout)")
        // A player hears the whole minute, through the master and in download.mp4.
        for path in [output + "/master.m3u8", output + "/download.mp4"] {
            let last = try Self.lastAudioTime(path)
            #expect(last > 59.9, "\(path): audio to \(last) s")
        }
        guard layout == .dash else { return }
        let declared = try Self.mpdDuration(output + "/manifest.mpd")
        #expect(abs(declared - 60) < 0.1, "the MPD's duration: \(declared)")
    }

    /// Matroska gives every track the file's length unless its own `DURATION` tag is read:
    /// by that tag, the picture lasts 0.06 s and the sound a minute, so the layout that keeps
    /// the sound is chosen without `--dash`. Before, the picture read as a minute long, and the
    /// muxed ladder kept 2 s of the sound.
    @Test func aMatroskaStillPictureKeepsItsSoundByItsTracksOwnLengths() async throws {
        let folder = Fixtures.temporaryDirectory("still-matroska")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let source = try Self.source(in: folder, seconds: 60, container: "mkv")
        var options = TranscodeOptions()
        options.rungs = [180]
        options.loudness = nil
        let output = folder + "/hls"
        let result = try await Transcoder(input: source, output: output, options: options).run()
        #expect(abs(result.durationSeconds - 60) < 0.1, "\(result.durationSeconds)")
        let audio = Self.extinfs(output + "/audio/index.m3u8").reduce(0, +)
        #expect(abs(audio - 60) < 0.1, "the audio playlist lasts \(audio) s")
        #expect(DeclaredLength.parse("00:01:00.021000000") == 60.021)
        #expect(DeclaredLength.parse("1:00:00") == 3600)
        for junk in ["", "60", "00:61:00", "00:00:nan", "00:00:inf", "-1:00:00", "00:00:59:00", "99999999999:00:00"] {
            #expect(DeclaredLength.parse(junk) == nil, "\(junk)")
        }
    }

    /// A Matroska file that says it lasts 5 s and holds 40 s of sound (its Segment Duration
    /// rewritten): the probe's duration check passes it, so `--max-duration 20` must bound
    /// the audio itself, in the early encode and in the normalised one that replaces it (the
    /// service's layout: progressive, DASH, loudness on). Before, the audio past the bound was
    /// dropped and then counted as a gap, so the ladder held 40 s: 20 of tone, 20 of silence.
    @Test func aContainerThatUnderstatesItsLengthCannotStretchTheAudioPastMaxDuration() async throws {
        let folder = Fixtures.temporaryDirectory("still-lying")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let honest = try Self.source(in: folder, seconds: 40, container: "mkv")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: honest))
        // EBML Duration (0x4489), an 8-byte float in TimestampScale units (ms).
        let duration = try #require(bytes.firstRange(of: Data([0x44, 0x89, 0x88])))
        withUnsafeBytes(of: Double(5000).bitPattern.bigEndian) { bytes.replaceSubrange(duration.upperBound..<duration.upperBound + 8, with: $0) }
        let lying = folder + "/lying.mkv"
        try bytes.write(to: URL(fileURLWithPath: lying))
        #expect(abs((try MediaProbe.probe(lying).durationSeconds ?? 0) - 5) < 0.01, "the container says 5 s")

        for (limit, expected) in [(nil, 40.0), (20.0, 20.0)] as [(Double?, Double)] {
            var options = TranscodeOptions()
            options.rungs = [180]
            options.progressive = true
            options.dash = true
            options.maxDurationSeconds = limit
            let output = folder + "/hls-\(limit.map { String(Int($0)) } ?? "none")"
            let result = try await Transcoder(input: lying, output: output, options: options).run()
            #expect(result.republishedAudio == ["audio"], "the normalised encode took the early one's place")
            let audio = Self.extinfs(output + "/audio/index.m3u8").reduce(0, +)
            #expect(abs(audio - expected) < 0.1, "--max-duration \(limit ?? 0): the audio playlist lasts \(audio) s")
            let downloaded = try Self.lastAudioTime(output + "/download.mp4")
            #expect(abs(downloaded - expected) < 0.1, "download.mp4's audio ends at \(downloaded) s")
            let declared = try Self.mpdDuration(output + "/manifest.mpd")
            #expect(abs(declared - expected) < 0.1, "the MPD's duration: \(declared)")
        }
    }

    /// A muxed ladder drops audio more than 30 s ahead of the video. One picture, then ten
    /// minutes of sound, drops nine and a half of them: that must cost no memory, and the
    /// command says what it left out. Before, each
    /// dropped frame was counted as a gap and as much silence was buffered in its stead, 384 KB
    /// a second (peak RSS 90 MiB with a minute, 185 MiB with five).
    @Test func audioDroppedToTheEndOfAMuxedLadderHoldsNoMemory() throws {
        let folder = Fixtures.temporaryDirectory("still-muxed")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var peaks: [Int: Int] = [:]
        for seconds in [60, 600] {
            // Lengths undeclared: the layout cannot know the sound outlasts the picture.
            let source = try Self.source(in: folder, seconds: seconds, container: "mkv", declaresLengths: false)
            let output = folder + "/ts-\(seconds)"
            let run = try Command.run([CommandLineTests.binary, "transcode", source, "-o", output, "--segment-format", "ts",
                                       "--ladder", "180", "--loudness", "off", "--progress", "none"],
                                      timeout: 180, measuringMemory: true)
            #expect(run.status == 0, "\(run.stderr)")
            peaks[seconds] = run.maxRSS
            // The muxed ladder keeps the picture's segment and 2 s of sound past it.
            #expect(!FileManager.default.fileExists(atPath: output + "/audio"), "the muxed layout")
            let kept = Self.extinfs(output + "/180p/index.m3u8").reduce(0, +)
            #expect(kept < 3, "the muxed ladder lasts \(kept) s")
            // What was left out is said, not lost in silence.
            let note = "audio: the last \(seconds - 2).0 s play past the picture and were left out"
            #expect(run.stderr.contains(note), "\(run.stderr)")
        }
        let short = peaks[60] ?? 0, long = peaks[600] ?? 0
        #expect(short > 0 && long < short + 30 << 20, "peak RSS \(short >> 20) MiB with a minute, \(long >> 20) MiB with ten")
    }
}
