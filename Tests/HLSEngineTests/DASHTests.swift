import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import HLSEngine

/// A DASH ladder (`TranscodeOptions.dash`): one track per file, `manifest.mpd` beside
/// `master.m3u8`, read back by an XML parser, ffprobe, the ffmpeg CLI and GStreamer.
@Suite("DASH ladder", .serialized)
struct DASHTests {
    static let fixtures = ["h264_1080p30_stereo.mp4", "vfr.mp4", "video_after_audio.mp4"]

    /// One Representation of `manifest.mpd`, as an XML parser reads it.
    struct Representation {
        var id = ""
        var contentType = ""
        var codecs = ""
        var timescale = 0
        var initialization = ""
        var media = ""
        var startNumber = 0
        /// (t, d) of every segment, `r` and omitted `t` expanded.
        var timeline: [(t: UInt64, d: UInt64)] = []

        func segmentPath(_ index: Int) -> String {
            // The template's only variable is $Number%05d$.
            media.replacingOccurrences(of: "$Number%05d$", with: String(format: "%05d", startNumber + index))
        }
    }

    final class ManifestReader: NSObject, XMLParserDelegate {
        var representations: [Representation] = []
        var mediaPresentationDuration = ""
        private var contentType = ""
        private var next: UInt64 = 0

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            switch name {
            case "MPD": mediaPresentationDuration = attributes["mediaPresentationDuration"] ?? ""
            case "AdaptationSet": contentType = attributes["contentType"] ?? ""
            case "Representation":
                representations.append(Representation(id: attributes["id"] ?? "", contentType: contentType,
                                                      codecs: attributes["codecs"] ?? ""))
            case "SegmentTemplate":
                representations[representations.count - 1].timescale = Int(attributes["timescale"] ?? "") ?? 0
                representations[representations.count - 1].initialization = attributes["initialization"] ?? ""
                representations[representations.count - 1].media = attributes["media"] ?? ""
                representations[representations.count - 1].startNumber = Int(attributes["startNumber"] ?? "") ?? 1
                next = 0
            case "S":
                let d = UInt64(attributes["d"] ?? "") ?? 0
                var t = attributes["t"].flatMap { UInt64($0) } ?? next
                for _ in 0...(Int(attributes["r"] ?? "") ?? 0) {
                    representations[representations.count - 1].timeline.append((t, d))
                    t += d
                }
                next = t
            default: break
            }
        }
    }

    static func manifest(_ directory: String) throws -> ManifestReader {
        let reader = ManifestReader()
        let parser = try #require(XMLParser(contentsOf: URL(fileURLWithPath: directory + "/manifest.mpd")))
        parser.delegate = reader
        #expect(parser.parse(), "manifest.mpd is not well-formed XML: \(String(describing: parser.parserError))")
        return reader
    }

    /// A segment's packets as ffprobe reads them (init + segment): their types, and their
    /// decode times in the track's ticks.
    static func packets(_ directory: String, initialization: String, segment: String) throws
        -> (types: Set<String>, dts: [UInt64]) {
        let joined = Fixtures.temporaryDirectory("dash-probe") + "/joined.mp4"
        defer { try? FileManager.default.removeItem(atPath: (joined as NSString).deletingLastPathComponent) }
        var data = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + initialization))
        data.append(try Data(contentsOf: URL(fileURLWithPath: directory + "/" + segment)))
        try data.write(to: URL(fileURLWithPath: joined))
        let run = try Command.run(["ffprobe", "-v", "error", "-show_entries", "packet=codec_type,dts", "-of", "csv=p=0", joined])
        #expect(run.status == 0, "ffprobe: \(run.stderr)")
        let streams = try Command.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0", joined])
        let dts = run.stdout.split(separator: "\n").compactMap { line in
            line.split(separator: ",").dropFirst().first.flatMap { UInt64($0) }
        }
        return (Set(streams.stdout.split(separator: "\n").map(String.init)), dts)
    }

    @Test(arguments: fixtures)
    func everyFileHoldsOneTrackAndTheMasterNamesTheAudioRendition(_ fixture: String) async throws {
        let outcome = try await TranscodedFixtures.shared.outcome(fixture, dash: true)
        #expect(outcome.result.dashManifest == "manifest.mpd")
        let master = try String(contentsOfFile: outcome.directory + "/master.m3u8", encoding: .utf8)
        let reader = try Self.manifest(outcome.directory)
        for representation in reader.representations {
            let want = representation.contentType == "audio" ? "audio" : "video"
            for index in representation.timeline.indices {
                let probe = try Self.packets(outcome.directory, initialization: representation.initialization,
                                             segment: representation.segmentPath(index))
                #expect(probe.types == [want], "\(representation.segmentPath(index)) holds \(probe.types)")
            }
        }
        guard outcome.result.hasAudio else {
            // A silent source: no audio rendition, and no group for the variants to name.
            #expect(!master.contains("#EXT-X-MEDIA") && !reader.representations.contains { $0.contentType == "audio" })
            return
        }
        let media = try #require(master.split(separator: "\n").first { $0.hasPrefix("#EXT-X-MEDIA:") })
        let attributes = HLSOutput.attributes(String(media.dropFirst("#EXT-X-MEDIA:".count)))
        #expect(attributes["TYPE"] == "AUDIO" && attributes["URI"] == "audio/index.m3u8" && attributes["DEFAULT"] == "YES")
        let group = try #require(attributes["GROUP-ID"])
        let variants = master.split(separator: "\n").filter { $0.hasPrefix("#EXT-X-STREAM-INF:") }
        #expect(variants.count == outcome.result.renditions.count)
        for variant in variants {
            let values = HLSOutput.attributes(String(variant.dropFirst("#EXT-X-STREAM-INF:".count)))
            #expect(values["AUDIO"] == group)
            #expect(values["CODECS"]?.contains("mp4a.40.2") == true)
        }

        // The audio rendition's playlist names exactly the files the MPD does.
        let audio = try MediaPlaylistFile(path: outcome.directory + "/audio/index.m3u8")
        let audioRepresentation = try #require(reader.representations.first { $0.contentType == "audio" })
        #expect(audio.segments.map { "audio/" + $0.uri } == audioRepresentation.timeline.indices.map(audioRepresentation.segmentPath))
    }

    /// The SegmentTimeline is what the files say: each S@t is the segment's first decode
    /// time as ffprobe reads it, each S@d reaches the next segment's, and the last one
    /// covers its own samples.
    @Test(arguments: fixtures)
    func theTimelineIsEachSegmentsOwnDecodeTimeAndDuration(_ fixture: String) async throws {
        let outcome = try await TranscodedFixtures.shared.outcome(fixture, dash: true)
        let reader = try Self.manifest(outcome.directory)
        #expect(reader.representations.filter { $0.contentType == "video" }.map(\.id)
                == outcome.result.renditions.map(\.rendition.name))
        #expect(reader.representations.contains { $0.contentType == "audio" && $0.codecs == "mp4a.40.2" } == outcome.result.hasAudio)
        for representation in reader.representations {
            #expect(representation.timescale > 0)
            let files = try FileManager.default.contentsOfDirectory(atPath: outcome.directory + "/" + representation.id)
            #expect(representation.timeline.count == files.filter { $0.hasSuffix(".m4s") }.count,
                    "\(representation.id): the timeline and the folder disagree")
            for (index, entry) in representation.timeline.enumerated() {
                let probe = try Self.packets(outcome.directory, initialization: representation.initialization,
                                             segment: representation.segmentPath(index))
                let first = try #require(probe.dts.min(), "\(representation.segmentPath(index)) has no packet")
                #expect(first == entry.t, "\(representation.segmentPath(index)): S@t \(entry.t), tfdt \(first)")
                if index + 1 < representation.timeline.count {
                    #expect(entry.t + entry.d == representation.timeline[index + 1].t)
                } else {
                    #expect(entry.t + entry.d > probe.dts.max() ?? 0, "the last S@d ends before its last sample")
                }
            }
        }
        // Its duration is the ladder's.
        let seconds = Double(reader.mediaPresentationDuration.dropFirst(2).dropLast()) ?? 0
        #expect(abs(seconds - outcome.result.durationSeconds) < 0.002)
    }

    @Test(arguments: fixtures)
    func ffmpegDecodesEveryFrameOfTheManifestOverHTTP(_ fixture: String) async throws {
        let outcome = try await TranscodedFixtures.shared.outcome(fixture, dash: true)
        let server = try StaticHTTPServer(root: outcome.directory)
        defer { server.stop() }
        let run = try Command.run(["ffmpeg", "-nostdin", "-v", "error", "-i", server.url("manifest.mpd"), "-map", "0", "-f", "null", "-"])
        #expect(run.status == 0 && run.stderr.isEmpty, "ffmpeg said: \(run.stderr)")
        // Each video Representation decodes to its rung's frames (ffmpeg, one stream at a
        // time: ffprobe -count_frames drops a last frame of some streams), and there is
        // one audio stream.
        for (index, rung) in outcome.result.renditions.enumerated() {
            let decode = try Command.run(["ffmpeg", "-nostdin", "-v", "error", "-i", server.url("manifest.mpd"),
                                          "-map", "0:v:\(index)", "-f", "null", "-", "-progress", "pipe:1"])
            let frames = decode.stdout.split(separator: "\n").last { $0.hasPrefix("frame=") }.flatMap { Int($0.dropFirst(6)) }
            #expect(frames == rung.frameCount, "\(rung.rendition.name): \(frames ?? 0) frames over DASH")
        }
        struct Probe: Decodable { struct Stream: Decodable { var codec_type: String }; var streams: [Stream] }
        let probe = try Command.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "json", server.url("manifest.mpd")])
        let types = try JSONDecoder().decode(Probe.self, from: Data(probe.stdout.utf8)).streams.map(\.codec_type)
        #expect(types.filter { $0 == "video" }.count == outcome.result.renditions.count)
        #expect(types.filter { $0 == "audio" }.count == (outcome.result.hasAudio ? 1 : 0))
    }

    @Test func gstreamerDashdemuxPlaysTheManifestToTheEnd() async throws {
        let outcome = try await TranscodedFixtures.shared.outcome("h264_1080p30_stereo.mp4", dash: true)
        let server = try StaticHTTPServer(root: outcome.directory)
        defer { server.stop() }
        let run = try Command.run(["gst-launch-1.0", "playbin", "uri=\(server.url("manifest.mpd"))",
                                   "video-sink=fakesink sync=true", "audio-sink=fakesink sync=true"], timeout: 90)
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("Got EOS from element \"playbin"))
        #expect(!run.stderr.contains("ERROR"))
    }

    /// The HLS side of the same ladder: ffmpeg plays the master with its audio group.
    @Test func ffmpegPlaysTheDemuxedHLSMasterAndTheEarlyMasterNamesTheAudio() async throws {
        let outcome = try await TranscodedFixtures.shared.outcome("h264_1080p30_stereo.mp4", dash: true)
        let server = try StaticHTTPServer(root: outcome.directory)
        defer { server.stop() }
        let run = try Command.run(["ffmpeg", "-nostdin", "-v", "error", "-i", server.url("master.m3u8"), "-map", "0", "-f", "null", "-"])
        #expect(run.status == 0 && run.stderr.isEmpty, "ffmpeg said: \(run.stderr)")
        let live = try String(contentsOfFile: outcome.directory + "/" + ProgressiveLadder.masterName, encoding: .utf8)
        #expect(live.contains("TYPE=AUDIO") && live.contains("URI=\"audio/live.m3u8\""))
        // A track with no language tag says "und" (undetermined), in both masters as in the MPD.
        let master = try String(contentsOfFile: outcome.directory + "/master.m3u8", encoding: .utf8)
        #expect(live.contains(#"TYPE=AUDIO,GROUP-ID="audio",LANGUAGE="und""#) && master.contains(#"LANGUAGE="und""#), "\(master)")
        let event = try MediaPlaylistFile(path: outcome.directory + "/audio/live.m3u8")
        let vod = try MediaPlaylistFile(path: outcome.directory + "/audio/index.m3u8")
        #expect(event.hasEndList && event.segments.map(\.uri) == vod.segments.map(\.uri))
    }

    /// A file none of whose video decodes (found by `make fuzz`): with no rung to fix the
    /// timeline, the audio rendition once waited forever. It must end in the engine's reason.
    @Test(.timeLimit(.minutes(1)))
    func aSourceWhoseVideoNeverDecodesEndsWithTheReasonNotAHang() async throws {
        let input = Fixtures.directory.deletingLastPathComponent()
            .appendingPathComponent("fuzz/regressions/timeout-a762a36f0e99453dbd915d1e71913cedfdde792f").path
        let directory = Fixtures.temporaryDirectory("dash-undecodable") + "/hls"
        var options = TranscodeOptions()
        options.dash = true
        options.rungs = [144]
        do {
            _ = try await Transcoder(input: input, output: directory, options: options).run()
            Issue.record("a ladder from a file with no decodable video")
        } catch {
            guard let failure = error as? TranscodeError, case .notMedia = failure.reason else {
                Issue.record("\(error)")
                return
            }
        }
        #expect(!FileManager.default.fileExists(atPath: directory), "a failed run leaves nothing")
    }

    @Test func aTimelineRepeatsRunsAndStatesEveryJump() {
        let entries = DASHManifest.timelineEntries([
            FragmentTiming(decodeTime: 100, duration: 10), FragmentTiming(decodeTime: 110, duration: 10),
            FragmentTiming(decodeTime: 120, duration: 7), FragmentTiming(decodeTime: 200, duration: 7),
        ])
        #expect(entries == [#"<S t="100" d="10" r="1"/>"#, #"<S d="7"/>"#, #"<S t="200" d="7"/>"#])
    }

    /// The reader of our own fragments is bounded like any input: cut or garbled bytes give
    /// nil, never a trap.
    @Test func fragmentTimingSurvivesCutAndGarbledFragments() async throws {
        let outcome = try await TranscodedFixtures.shared.outcome("video_after_audio.mp4", dash: true)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: outcome.directory + "/audio/segment_00000.m4s")))
        #expect(FragmentTiming.read(bytes) != nil)
        for cut in stride(from: 0, to: min(bytes.count, 400), by: 7) { _ = FragmentTiming.read(Array(bytes[..<cut])) }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            var garbled = Array(bytes.prefix(600))
            for _ in 0..<8 { garbled[Int.random(in: 0..<garbled.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator) }
            _ = FragmentTiming.read(garbled)
        }
        #expect(FragmentTiming.read([0, 0, 0, 1, 0x6d, 0x6f, 0x6f, 0x66] + [UInt8](repeating: 0xff, count: 8)) == nil)
    }
}
