import Foundation
import Testing
@testable import HLSEngine

/// The audio task's tracks encoded in spans at once (`AudioSpans`, issue 21): the same
/// segments as one encoder gives (names, durations, `tfdt`, every sample once), and no seam
/// a listener could find: at each seam the decoded sound is as close to the source as the
/// one encoder's is there. A source whose timeline the spans cannot reproduce is encoded by
/// one encoder, byte for byte as before.
@Suite("Audio in spans", .serialized)
struct AudioSpanTests {
    /// `seconds` of small pictures and tonal stereo sound (plucked notes and a warbling
    /// tone, which AAC codes as waveforms, so the decoded sound can be compared with the
    /// source sample by sample), `rate` Hz, AAC in MP4.
    static func tonalSource(_ name: String, seconds: Int, rate: Int = 48_000, audioFilter: String? = nil) throws -> String {
        let left = "0.3*sin(2*PI*220*t)*exp(-8*mod(t\\,0.37))+0.15*sin(2*PI*1375*t+3*sin(2*PI*2*t))"
        let right = "0.25*sin(2*PI*330*t)*exp(-6*mod(t\\,0.29))+0.1*sin(2*PI*2750*t)"
        return try ChunkTests.source(name, ["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30",
                                            "-f", "lavfi", "-i", "aevalsrc=\(left)|\(right):s=\(rate)", "-t", String(seconds)]
                                           + (audioFilter.map { ["-af", $0] } ?? [])
                                           + ["-c:v", "libx264", "-preset", "ultrafast", "-g", "60", "-c:a", "aac", "-b:a", "192k"])
    }

    /// `tonalSource`, with the AAC packet that starts past `seconds` zeroed in place: the
    /// decoder refuses it ("channel element 0.0 duplicate"), and the sample table still
    /// promises every sample, so no check before the spans start can see it.
    static func damagedSource(_ name: String, seconds: Int, damagedAt: Double) throws -> String {
        let input = try tonalSource(name, seconds: seconds)
        let packets = try Command.run(["ffprobe", "-v", "error", "-select_streams", "a", "-show_entries", "packet=pts_time,pos,size",
                                       "-of", "compact=p=0", input], timeout: 60)
        // `pts_time=30.016000|size=488|pos=3599062|`, a packet a line.
        func field(_ name: String, of line: Substring) -> Substring? {
            line.split(separator: "|").first { $0.hasPrefix(name + "=") }?.dropFirst(name.count + 1)
        }
        let packet = try #require(packets.stdout.split(separator: "\n").first { line in
            field("pts_time", of: line).flatMap { Double($0) }.map { $0 > damagedAt } ?? false
        })
        let position = try #require(field("pos", of: packet).flatMap { UInt64($0) })
        let size = try #require(field("size", of: packet).flatMap { Int($0) })
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: input))
        defer { try? handle.close() }
        try handle.seek(toOffset: position)
        try handle.write(contentsOf: Data(count: size))
        return input
    }

    static func manifest(_ folder: String) throws -> AudioTaskManifest {
        try JSONDecoder().decode(AudioTaskManifest.self, from: Data(contentsOf: URL(fileURLWithPath: "\(folder)/audio.json")))
    }

    /// A track's sound as a player decodes it: `init.mp4` and every segment, in order.
    static func decoded(_ folder: String, _ segments: [SegmentedMuxer.Segment]) throws -> [Float] {
        var bytes = try Data(contentsOf: URL(fileURLWithPath: "\(folder)/init.mp4"))
        for segment in segments { bytes += try Data(contentsOf: URL(fileURLWithPath: "\(folder)/\(segment.fileName)")) }
        let joined = folder + ".joined.mp4"
        try bytes.write(to: URL(fileURLWithPath: joined))
        defer { try? FileManager.default.removeItem(atPath: joined) }
        return try pcm(["-i", joined])
    }

    /// Mono float samples at 48 kHz (the left channel), through the ffmpeg CLI.
    static func pcm(_ input: [String], filter: String? = nil) throws -> [Float] {
        let raw = FileManager.default.temporaryDirectory.appendingPathComponent("vstream-pcm-\(UUID().uuidString).f32").path
        defer { try? FileManager.default.removeItem(atPath: raw) }
        let run = try Command.run(["ffmpeg", "-nostdin", "-v", "error", "-y"] + input + ["-vn"] + (filter.map { ["-af", $0] } ?? [])
                                  + ["-ac", "1", "-ar", "48000", "-f", "f32le", raw], timeout: 120)
        #expect(run.status == 0, "\(run.stderr)")
        let data = try Data(contentsOf: URL(fileURLWithPath: raw))
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    /// The signal-to-noise ratio of `decoded[at...]` against `reference[at + lag...]` over `count` samples, in dB.
    static func snr(_ decoded: [Float], _ reference: [Float], at: Int, lag: Int, count: Int) -> Double {
        var signal = 0.0, noise = 0.0
        for index in at..<(at + count) where index >= 0 && index < decoded.count && index + lag >= 0 && index + lag < reference.count {
            let wanted = Double(reference[index + lag])
            signal += wanted * wanted
            noise += (Double(decoded[index]) - wanted) * (Double(decoded[index]) - wanted)
        }
        return 10 * log10(signal / max(noise, 1e-20))
    }

    /// The lowest SNR of any 256-sample window within two AAC frames of `sample`.
    static func worstWindow(_ decoded: [Float], _ reference: [Float], around sample: Int, lag: Int) -> Double {
        stride(from: sample - 2048, through: sample + 2048 - 256, by: 128)
            .map { snr(decoded, reference, at: $0, lag: lag, count: 256) }.min() ?? -.infinity
    }

    @Test func theSpansGiveTheOneEncodersSegmentsAndNoSeam() throws {
        // Long enough that the later spans' encoders start after the track's start, 10 s
        // before their spans (`AudioSpans.prerollFrames`).
        let input = try Self.tonalSource("tonal", seconds: 44)
        let folder = Fixtures.temporaryDirectory("audio-spans")
        defer { try? FileManager.default.removeItem(atPath: folder); try? FileManager.default.removeItem(atPath: (input as NSString).deletingLastPathComponent) }
        try ChunkTests.transcode(input, "\(folder)/one", ["--only-audio", "--chunk-seconds", "4", "--audio-span-seconds", "0"])
        try ChunkTests.transcode(input, "\(folder)/spans", ["--only-audio", "--chunk-seconds", "4", "--audio-span-seconds", "6"])
        let one = try Self.manifest("\(folder)/one"), spans = try Self.manifest("\(folder)/spans")
        #expect(one.spans == nil && one.spansDeclined == nil)
        #expect((spans.spans ?? 0) >= 6 && spans.spansDeclined == nil, "44 s in spans of 6 s: \(String(describing: spans.spans))")
        #expect(!FileManager.default.fileExists(atPath: "\(folder)/spans/.spans"), "no span's folder is left")
        #expect(spans.loudness == one.loudness, "one gain for the whole track, from one measurement")

        let a = try #require(one.tracks.first), b = try #require(spans.tracks.first)
        #expect(b.segments.map(\.fileName) == a.segments.map(\.fileName))
        #expect(b.segments.map(\.timing) == a.segments.map(\.timing), "the same tfdt and durations in every fragment")
        #expect(b.segments.allSatisfy { $0.timing != nil })
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(folder)/spans/audio").sorted()
                == FileManager.default.contentsOfDirectory(atPath: "\(folder)/one/audio").sorted())
        #expect(FileManager.default.contents(atPath: "\(folder)/spans/audio/init.mp4")
                == FileManager.default.contents(atPath: "\(folder)/one/audio/init.mp4"))
        // The run's plan (the pictures are 30 fps from 0) and its spans.
        let plan = ChunkPlan(frameTimes: (0..<1320).map { Double($0) / 30 }, segmentDuration: 2, chunkSeconds: 4)
        let seams = AudioSpans.spans(of: plan, seconds: 6).dropFirst().map(\.firstSegment)
        #expect(seams.count + 1 == spans.spans)
        // The first span is a run of the whole track from its start, as far as it goes.
        for segment in a.segments.prefix(seams.first ?? 0) {
            #expect(FileManager.default.contents(atPath: "\(folder)/spans/audio/\(segment.fileName)")
                    == FileManager.default.contents(atPath: "\(folder)/one/audio/\(segment.fileName)"), "\(segment.fileName)")
        }

        // Every sample once, and each seam as close to the source as the one encoder is there.
        let oneSound = try Self.decoded("\(folder)/one/audio", a.segments)
        let spanSound = try Self.decoded("\(folder)/spans/audio", b.segments)
        #expect(spanSound.count == oneSound.count, "the same number of samples")
        let gain = one.loudness?.first?.gain ?? 0
        let source = try Self.pcm(["-i", input], filter: "volume=\(gain)dB")
        // The decoded track starts with the encoder's priming: find the lag once, on the one encoder.
        let lag = try #require((-3072...0).max { Self.snr(oneSound, source, at: 48_000, lag: $0, count: 4_800)
                                                   < Self.snr(oneSound, source, at: 48_000, lag: $1, count: 4_800) })
        #expect(Self.snr(oneSound, source, at: 48_000, lag: lag, count: 48_000) > 20, "the lag is found")
        // As close to the source over the whole track as one encoder, and at every seam.
        let whole = (count: spanSound.count - 48_000, start: 4_800)
        let overallOne = Self.snr(oneSound, source, at: whole.start, lag: lag, count: whole.count)
        let overallSpans = Self.snr(spanSound, source, at: whole.start, lag: lag, count: whole.count)
        #expect(overallSpans > overallOne - 1, "\(overallSpans) dB over the track in spans, \(overallOne) dB from one encoder")
        let origin = try #require(b.segments.first?.timing?.decodeTime)
        for index in seams {
            let tfdt = try #require(b.segments[index].timing?.decodeTime)
            let seam = Int(Double(tfdt - origin) / Double(b.timescale) * 48_000)
            let withOne = Self.worstWindow(oneSound, source, around: seam, lag: lag)
            let withSpans = Self.worstWindow(spanSound, source, around: seam, lag: lag)
            #expect(withSpans > 12 && withSpans > withOne - 6,
                    "\(b.segments[index].fileName): \(withSpans) dB at the seam, against \(withOne) dB from one encoder")
            print("seam at segment \(index): \(withSpans) dB in spans, \(withOne) dB from one encoder")
        }
        print("over the track: \(overallSpans) dB in spans, \(overallOne) dB from one encoder")
    }

    /// Where the spans could not place every sample where one encoder does (44.1 kHz, whose
    /// resampler would start afresh in each span; a track whose timestamps jump; a damaged
    /// packet, which a whole run steps over with its count then behind the timestamps), the
    /// task encodes the track whole, byte for byte as with `--audio-span-seconds 0`. The
    /// damaged packet is found only once the spans run, and they are abandoned then: before,
    /// the span that found it stopped the whole task, which failed as "cancelled".
    @Test(arguments: ["44.1 kHz", "a gap", "a damaged packet"])
    func aTrackTheSpansCannotPlaceIsEncodedWhole(_ kind: String) throws {
        let input = switch kind {
        case "44.1 kHz": try Self.tonalSource("cd-rate", seconds: 20, rate: 44_100)
        case "a gap": try Self.tonalSource("gap", seconds: 20, audioFilter: "asetpts='PTS+gte(T\\,9)*0.5/TB'")
        default: try Self.damagedSource("damaged", seconds: 20, damagedAt: 15)
        }
        let folder = Fixtures.temporaryDirectory("audio-spans-declined")
        defer { try? FileManager.default.removeItem(atPath: folder); try? FileManager.default.removeItem(atPath: (input as NSString).deletingLastPathComponent) }
        try ChunkTests.transcode(input, "\(folder)/one", ["--only-audio", "--chunk-seconds", "4", "--audio-span-seconds", "0"])
        try ChunkTests.transcode(input, "\(folder)/spans", ["--only-audio", "--chunk-seconds", "4", "--audio-span-seconds", "4"])
        let spans = try Self.manifest("\(folder)/spans")
        #expect(spans.spans == nil, "\(kind): one encoder")
        // Only the damaged packet is met at run time, once the spans have started.
        #expect(spans.spansDeclined == (kind == "a damaged packet" ? "a damaged packet" : nil), "\(kind)")
        #expect(!FileManager.default.fileExists(atPath: "\(folder)/spans/.spans"), "no span's folder is left")
        let files = try FileManager.default.contentsOfDirectory(atPath: "\(folder)/one/audio").sorted()
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(folder)/spans/audio").sorted() == files)
        for file in files {
            #expect(FileManager.default.contents(atPath: "\(folder)/spans/audio/\(file)")
                    == FileManager.default.contents(atPath: "\(folder)/one/audio/\(file)"), "\(kind): audio/\(file)")
        }
    }

    /// The spans are whole segments: the first covers chunk 0 at least, the last takes the
    /// remainder, and each is given its own segments' starts and the next span's first.
    @Test func theSpansAreWholeSegments() {
        let plan = ChunkPlan(frameTimes: (0..<3000).map { Double($0) / 30 }, segmentDuration: 2, chunkSeconds: 20)  // 50 segments
        let spans = AudioSpans.spans(of: plan, seconds: 30)
        #expect(spans.map(\.firstSegment) == [0, 15, 30], "15 segments each; the last takes the 20 left")
        #expect(spans.first?.start == nil && spans.last?.end == nil)
        #expect(spans[1].start == plan.segmentStarts[15] && spans[0].end == plan.segmentStarts[15])
        #expect(spans[0].cuts == Array(plan.segmentStarts[0...15]) && spans[2].cuts == Array(plan.segmentStarts[30...]))
        #expect(spans.last?.closesAt == plan.lastFrameTime && spans.dropLast().allSatisfy { $0.closesAt == nil })
        #expect(AudioSpans.spans(of: ChunkPlan(frameTimes: (0..<3000).map { Double($0) / 30 }, segmentDuration: 2, chunkSeconds: 40),
                                 seconds: 30).map(\.firstSegment) == [0, 20, 35], "the first span covers chunk 0's 20 segments")
        #expect(AudioSpans.spans(of: plan, seconds: 60).isEmpty, "too short for two spans")
        #expect(AudioSpans.spans(of: plan, seconds: 0).isEmpty, "0: one encoder")
    }

    /// A service's audio task (publishing each segment as it closes, `ChunkTasks+Audio`) in
    /// spans: every segment is reported once (in whatever order the spans end), each with its
    /// whole-track number, and its file is in the track's folder with the reported bytes when
    /// the report comes (the service stores it then). `audio.json` lists the same.
    struct Seen: Sendable {
        let segment: PublishedSegment
        let inPlace: Bool
    }

    @Test func aPublishingTaskReportsEverySpansSegmentOnceWithItsFileInPlace() async throws {
        let input = try Self.tonalSource("published", seconds: 44)
        let folder = Fixtures.temporaryDirectory("audio-spans-published")
        defer { try? FileManager.default.removeItem(atPath: folder); try? FileManager.default.removeItem(atPath: (input as NSString).deletingLastPathComponent) }
        var options = TranscodeOptions()
        options.dash = true
        options.progressive = true
        options.chunk = .audioTask(seconds: 4)
        options.audioSpanSeconds = 6
        let output = "\(folder)/task"
        let transcoder = Transcoder(input: input, output: output, options: options)
        let reports = Task {
            var seen: [Seen] = []
            for await case .segment(let segment) in transcoder.publications {
                let size = (try? FileManager.default.attributesOfItem(atPath: "\(output)/\(segment.rendition)/\(segment.uri)"))?[.size] as? Int
                seen.append(Seen(segment: segment, inPlace: size.map(Int64.init) == segment.bytes))
            }
            return seen
        }
        _ = try await transcoder.run()
        let seen = await reports.value
        let manifest = try Self.manifest(output)
        #expect((manifest.spans ?? 0) > 1)
        let track = try #require(manifest.tracks.first)
        #expect(seen.map(\.segment.index).sorted() == Array(0..<track.segments.count), "every segment once")
        #expect(seen.filter { !$0.inPlace }.isEmpty, "each file in place, whole, when reported")
        for segment in seen.map(\.segment) {
            #expect(segment.rendition == "audio" && segment.uri == track.segments[segment.index].fileName, "\(segment.index)")
        }
        let outline = try AudioTaskOutline(folder: output)
        #expect(outline.published.map(\.uri) == track.segments.map(\.fileName))
    }

    /// A service's task whose spans met a damaged packet after some had published: the one
    /// encoder's rerun reports every segment again as `replaces`, so the store writes it over
    /// the spans' copy (`AudioTaskStore`); its files are the one encoder's, and `audio.json`
    /// (whose outline a service stores from) says the same.
    @Test func abandonedSpansHaveEverySegmentReportedAgainAsReplacing() async throws {
        let input = try Self.damagedSource("replaced", seconds: 44, damagedAt: 36)
        let folder = Fixtures.temporaryDirectory("audio-spans-replaced")
        defer { try? FileManager.default.removeItem(atPath: folder); try? FileManager.default.removeItem(atPath: (input as NSString).deletingLastPathComponent) }
        try ChunkTests.transcode(input, "\(folder)/one", ["--only-audio", "--chunk-seconds", "4", "--audio-span-seconds", "0"])
        var options = TranscodeOptions()
        options.dash = true
        options.progressive = true
        options.chunk = .audioTask(seconds: 4)
        options.audioSpanSeconds = 6
        options.cores = 2  // the damaged span starts after the first ones have published
        let output = "\(folder)/task"
        let transcoder = Transcoder(input: input, output: output, options: options)
        let reports = Task {
            var seen: [PublishedSegment] = []
            for await case .segment(let segment) in transcoder.publications { seen.append(segment) }
            return seen
        }
        _ = try await transcoder.run()
        let seen = await reports.value
        let manifest = try Self.manifest(output)
        #expect(manifest.spans == nil && manifest.spansDeclined == "a damaged packet")
        let track = try #require(manifest.tracks.first)
        let first = seen.prefix { $0.replaces != true }, again = seen.dropFirst(first.count)
        #expect(!first.isEmpty, "the spans published before the damaged one")
        #expect(again.allSatisfy { $0.replaces == true }, "after the fallback, every report replaces")
        #expect(again.map(\.index).sorted() == Array(0..<track.segments.count), "every segment once again")
        #expect(Set(first.map(\.index)).isSubset(of: Set(again.map(\.index))), "every span's report is replaced")
        for file in try FileManager.default.contentsOfDirectory(atPath: "\(folder)/one/audio") {
            #expect(FileManager.default.contents(atPath: "\(output)/audio/\(file)")
                    == FileManager.default.contents(atPath: "\(folder)/one/audio/\(file)"), "audio/\(file)")
        }
        let outline = try AudioTaskOutline(folder: output)
        #expect(outline.published.count == track.segments.count && outline.published.allSatisfy { $0.replaces == true })
    }
}
