import Foundation
import Testing
@testable import HLSEngine

/// Loudness normalisation (issue 22): every audio track measured (EBU R128, libebur128) and
/// brought to −16 LUFS by one static gain, its true peak kept at or under −1 dBTP. The
/// output is measured by ffmpeg's own `ebur128` filter, independent of libebur128.
@Suite("Loudness", .serialized)
struct LoudnessTests {
    @Test func theGainReachesTheTargetUnlessThePeakWouldPassTheCeiling() {
        let quiet = Loudness.Measurement(integrated: -30, range: 0, truePeak: -29.8)
        #expect(Loudness.gain(for: quiet, target: -16) == 14)
        #expect(Loudness.gain(for: .init(integrated: -8, range: 0, truePeak: -6.7), target: -16) == -8)
        // Quiet but peaky (a door slam in a whisper): raised only until the peak is at −1 dBTP.
        #expect(Loudness.gain(for: .init(integrated: -30, range: 12, truePeak: -3), target: -16) == 2)
        // A silent track has no loudness to raise.
        #expect(Loudness.gain(for: .init(integrated: nil, range: nil, truePeak: nil), target: -16) == 0)
    }

    /// 6 s of video with a stereo tone whose amplitude `amplitude` gives the source's level.
    static func toneSource(in folder: String, amplitudes: [Double]) throws -> String {
        let source = folder + "/tone.mkv"
        var arguments = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=6"]
        for amplitude in amplitudes {
            let wave = "\(amplitude)*sin(2*PI*997*t)"
            arguments += ["-f", "lavfi", "-i", "aevalsrc=\(wave)|\(wave):s=48000:d=6"]
        }
        arguments += ["-map", "0:v"] + amplitudes.indices.flatMap { ["-map", "\($0 + 1):a"] }
        arguments += ["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-b:a", "192k", source]
        let made = try Command.run(arguments)
        #expect(made.status == 0, "\(made.stderr)")
        return source
    }

    /// ffmpeg's `ebur128` filter on audio stream `index` of `path`: integrated loudness and true peak.
    static func ffmpegLoudness(_ path: String, stream: String = "0:a:0") throws -> (integrated: Double, truePeak: Double) {
        let run = try Command.run(["ffmpeg", "-nostdin", "-nostats", "-i", path, "-map", stream, "-af", "ebur128=peak=true",
                                   "-f", "null", "-"])
        #expect(run.status == 0, "\(run.stderr.suffix(500))")
        // The summary comes last: "I:  -16.0 LUFS" and, under "True peak:", "Peak:  -3.2 dBFS".
        let summary = run.stderr.components(separatedBy: "Summary:").last ?? ""
        func value(_ label: String) -> Double {
            summary.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix(label) }
                .flatMap { line in line.split(separator: " ").dropFirst().first.flatMap { Double($0) } } ?? .nan
        }
        return (value("I:"), value("Peak:"))
    }

    static func transcode(_ source: String, to output: String, _ extra: [String] = []) throws -> TranscodeResult {
        let run = try Command.run([CaptionTests.binary, "transcode", source, "-o", output, "--ladder", "180", "--progress", "json"] + extra)
        #expect(run.status == 0, "\(run.stderr)")
        return try JSONDecoder().decode(TranscodeResult.self, from: Data((run.stdout.split(separator: "\n").last ?? "").utf8))
    }

    /// A quiet upload (−30 LUFS) and a loud one (−8 LUFS) both play at −16 ± 1 LU, with their
    /// true peak at or under −1 dBTP; the result says what was measured and done.
    @Test(arguments: [(0.0316, -30.0), (0.4, -8.0)])
    func quietAndLoudSourcesBothComeOutAtTheTarget(_ amplitude: Double, _ level: Double) throws {
        let folder = Fixtures.temporaryDirectory("loudness")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let source = try Self.toneSource(in: folder, amplitudes: [amplitude])
        let before = try Self.ffmpegLoudness(source)
        #expect(abs(before.integrated - level) < 0.5, "the source measures \(before.integrated) LUFS")
        let result = try Self.transcode(source, to: folder + "/hls")
        let after = try Self.ffmpegLoudness(folder + "/hls/master.m3u8")
        #expect(abs(after.integrated - -16) <= 1, "\(level) LUFS came out at \(after.integrated) LUFS")
        #expect(after.truePeak <= -1, "true peak \(after.truePeak) dBTP")
        let track = try #require(result.loudness?.first)
        #expect(abs((track.source.integrated ?? 0) - before.integrated) < 0.5 && abs(track.gain - (-16 - level)) < 0.5, "\(track)")
        #expect(abs((track.output.integrated ?? 0) - -16) < 0.2, "\(track)")
        // The download plays at the same level as the ladder.
        #expect(abs(try Self.ffmpegLoudness(folder + "/hls/download.mp4").integrated - after.integrated) < 0.3)
    }

    @Test func offLeavesTheSourcesLevel() throws {
        let folder = Fixtures.temporaryDirectory("loudness-off")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let source = try Self.toneSource(in: folder, amplitudes: [0.0316])
        let result = try Self.transcode(source, to: folder + "/hls", ["--loudness", "off"])
        #expect(result.loudness == nil)
        let before = try Self.ffmpegLoudness(source), after = try Self.ffmpegLoudness(folder + "/hls/master.m3u8")
        #expect(abs(after.integrated - before.integrated) <= 0.5, "\(before.integrated) LUFS became \(after.integrated)")
        let refused = try Command.run([CaptionTests.binary, "transcode", source, "-o", folder + "/bad", "--loudness", "-2"])
        #expect(refused.status != 0 && refused.stderr.contains("--loudness"), "\(refused.stderr)")
    }

    /// Each track gets its own gain: a quiet dub and a loud original both end at the target.
    @Test func everyTrackIsNormalisedOnItsOwn() throws {
        let folder = Fixtures.temporaryDirectory("loudness-tracks")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let source = try Self.toneSource(in: folder, amplitudes: [0.4, 0.0316])
        let result = try Self.transcode(source, to: folder + "/hls", ["--loudness", "-18"])
        #expect(result.loudness?.map(\.folder) == ["audio", "audio-2"])
        for stream in ["0:a:0", "0:a:1"] {
            let after = try Self.ffmpegLoudness(folder + "/hls/master.m3u8", stream: stream)
            #expect(abs(after.integrated - -18) <= 1 && after.truePeak <= -1, "\(stream): \(after)")
        }
    }

    /// A run that publishes as it goes cannot wait for the measurement, which reads the whole
    /// source: the early ladder plays each track at the source's level from its first
    /// segment, and the finished ladder is normalised all the same. Here the measurement
    /// cannot even start until the video is playable (its read of the source is held shut
    /// until then), as when a long upload is still arriving.
    @Test func aRunThatPublishesAsItGoesIsNormalisedWhenItEnds() async throws {
        let folder = Fixtures.temporaryDirectory("loudness-progressive")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let source = try Self.toneSource(in: folder, amplitudes: [0.0316, 0.4])  // −30 and −8 LUFS
        let output = folder + "/hls"
        var options = TranscodeOptions()
        options.progressive = true
        options.dash = true
        options.rungs = [180]
        let gated = try SecondReaderHeldShut(path: source)
        let transcoder = Transcoder(source: gated, name: source, output: output, options: options)
        let tracks = ["audio", "audio-2"]
        let watcher = Task { () -> (early: [String: (initialization: Data, segment: Data)], provisional: [String: Set<Bool>]) in
            var early: [String: (initialization: Data, segment: Data)] = [:]
            var provisional: [String: Set<Bool>] = [:]
            for await publication in transcoder.publications {
                if case .segment(let segment) = publication { provisional[segment.rendition, default: []].insert(segment.provisional == true) }
                guard case .playable = publication, early.isEmpty else { continue }
                // What a viewer who starts now gets: each track's first segment, as published.
                for track in tracks {
                    early[track] = (FileManager.default.contents(atPath: "\(output)/\(track)/init.mp4") ?? Data(),
                                    FileManager.default.contents(atPath: "\(output)/\(track)/segment_00000.m4s") ?? Data())
                }
                gated.open()
            }
            return (early, provisional)
        }
        let result = try await transcoder.run()
        let (early, provisional) = await watcher.value

        #expect(result.republishedAudio == tracks, "\(result.notes ?? [])")
        // Every audio segment it published is said to be replaced (a service keeps it out of
        // caches), and no video segment is.
        #expect(provisional == ["180p": [false], "audio": [true], "audio-2": [true]], "\(provisional)")
        for (index, (track, level)) in zip(tracks, [-30.0, -8.0]).enumerated() {
            // The early segment: the source's level, published before the gain was known.
            let first = folder + "/early-\(track).mp4"
            let publishedFirst = try #require(early[track])
            try (publishedFirst.initialization + publishedFirst.segment).write(to: URL(fileURLWithPath: first))
            let published = try Self.ffmpegLoudness(first)
            #expect(abs(published.integrated - level) <= 1, "\(track) was published at \(published.integrated) LUFS")
            // The finished track: at the target, its true peak under the ceiling.
            let after = try Self.ffmpegLoudness(output + "/master.m3u8", stream: "0:a:\(index)")
            #expect(abs(after.integrated - -16) <= 1 && after.truePeak <= -1, "\(track): \(after)")
            let report = try #require(result.loudness?.first { $0.folder == track })
            #expect(abs(report.gain - (-16 - level)) < 0.5, "\(report)")
            // The same segments at the same places: a player that loaded the EVENT playlist
            // early finds the normalised files where it expects them.
            let event = ProgressiveTests.Playlist(try #require(ProgressiveTests.read("\(output)/\(track)/live.m3u8")))
            let vod = ProgressiveTests.Playlist(try #require(ProgressiveTests.read("\(output)/\(track)/index.m3u8")))
            #expect(event.ended && event.segments.map(\.uri) == vod.segments.map(\.uri) && vod.segments.count == 3)
            let finished = try Data(contentsOf: URL(fileURLWithPath: "\(output)/\(track)/segment_00000.m4s"))
            #expect(publishedFirst.segment != finished, "the finished segment is a new encode")
            #expect(Self.timing(publishedFirst.segment, after: publishedFirst.initialization) != nil)
            #expect(Self.timing(publishedFirst.segment, after: publishedFirst.initialization) == Self.timing(finished, after: publishedFirst.initialization))
        }
        #expect(abs(try Self.ffmpegLoudness(output + "/download.mp4").integrated - -16) <= 1, "download.mp4 carries the normalised track")
        let left = try FileManager.default.contentsOfDirectory(atPath: output)
        #expect(!left.contains { $0.hasSuffix(".normalised") }, "\(left)")

        // Byte for byte the audio of a run that waited for the gain.
        options.progressive = false
        _ = try await Transcoder(input: source, output: folder + "/waited", options: options).run()
        for track in tracks {
            for file in ["init.mp4", "segment_00000.m4s", "segment_00002.m4s"] {
                #expect(FileManager.default.contents(atPath: "\(output)/\(track)/\(file)")
                        == FileManager.default.contents(atPath: "\(folder)/waited/\(track)/\(file)"), "\(track)/\(file)")
            }
        }
    }

    /// One picture and a minute of quiet audio, published as it goes: the ladder keeps the
    /// whole minute (its audio rendition cuts what follows the picture alone), and the second
    /// encode, cut the same way, replaces the published track, normalised.
    @Test func aStillPictureWithLongAudioIsNormalisedToo() async throws {
        let folder = Fixtures.temporaryDirectory("loudness-still")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for arguments in [["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-frames:v", "1", "-c:v", "libx264", folder + "/one.mp4"],
                          ["-f", "lavfi", "-i", "aevalsrc=0.0316*sin(2*PI*997*t)|0.0316*sin(2*PI*997*t):s=48000:d=60", "-c:a", "aac",
                           folder + "/quiet.m4a"],
                          ["-i", folder + "/one.mp4", "-i", folder + "/quiet.m4a", "-map", "0:v", "-map", "1:a", "-c", "copy",
                           folder + "/still.mp4"]] {
            let made = try Command.run(["ffmpeg", "-nostdin", "-v", "error", "-y"] + arguments)
            #expect(made.status == 0, "\(made.stderr)")
        }
        var options = TranscodeOptions()
        options.progressive = true
        options.dash = true
        options.rungs = [180]
        let result = try await Transcoder(input: folder + "/still.mp4", output: folder + "/hls", options: options).run()
        #expect(result.republishedAudio == ["audio"], "\(result.notes ?? [])")
        let after = try Self.ffmpegLoudness(folder + "/hls/master.m3u8")
        #expect(abs(after.integrated - -16) <= 1, "\(after)")
        #expect(abs(result.durationSeconds - 60) < 0.1, "the whole minute: \(result.durationSeconds)")
    }

    /// A fragment's place on its track's timeline (`tfdt` and the samples' durations).
    static func timing(_ fragment: Data, after initialization: Data) -> FragmentTiming? {
        FragmentTiming.read(Array(fragment), defaultSampleDuration: FragmentTiming.defaultSampleDuration(initialization: Array(initialization)))
    }
}

/// A source file whose second reader (the loudness measurement's) is held shut until
/// `open()`: a measurement that cannot start, as when the upload is still arriving.
final class SecondReaderHeldShut: ByteSource, @unchecked Sendable {
    private let file: FileByteSource
    private let gate = DispatchSemaphore(value: 0)
    private let shut: HeldShut

    init(path: String) throws {
        file = try FileByteSource(path: path)
        shut = HeldShut(file: file, gate: gate)
    }

    var size: Int64? { file.size }
    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(TranscodeError.Reason) -> Int {
        try file.read(at: offset, into: buffer)
    }
    func concurrentReader() -> any ByteSource { shut }
    func open() { gate.signal() }

    private final class HeldShut: ByteSource, @unchecked Sendable {
        // @unchecked: `opened` is only touched by the one thread that reads through it.
        let file: FileByteSource
        let gate: DispatchSemaphore
        var opened = false
        init(file: FileByteSource, gate: DispatchSemaphore) {
            self.file = file
            self.gate = gate
        }
        var size: Int64? { file.size }
        func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(TranscodeError.Reason) -> Int {
            if !opened {
                // Bounded, so an engine that waited for the gain before the first segment fails the test instead of hanging it.
                guard gate.wait(timeout: .now() + 120) == .success else { throw .io("held shut: the video never became playable") }
                opened = true
            }
            return try file.read(at: offset, into: buffer)
        }
    }
}
