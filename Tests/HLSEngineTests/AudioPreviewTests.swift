import Foundation
import Testing
@testable import HLSEngine

/// A service's split and stitch (issue 21): chunk 0 publishes a preview of the audio, its
/// own segments' alone, so the video plays at once, and the audio task encodes the whole
/// file's audio once, publishing as it goes. The preview must be the audio task's first
/// segments in name and timing (a player that started on it goes on with the task's), and
/// the task publishing as it goes must write what the command line's task writes.
@Suite("Audio preview and the publishing audio task", .serialized)
struct AudioPreviewTests {
    /// Two tracks of 10 s, B-frames: the preview covers chunk 0 of three.
    static func twoTrackSource() throws -> String {
        try ChunkTests.source("preview", [
            "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-f", "lavfi", "-i", "sine=frequency=660:sample_rate=44100", "-map", "0:v", "-map", "1:a", "-map", "2:a", "-t", "10",
            "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fra",
            "-c:v", "libx264", "-preset", "veryfast", "-bf", "3", "-g", "48", "-c:a", "aac"])
    }

    /// Runs the engine in this process; returns its publications and its chunk plan.
    static func run(_ input: String, _ output: String, _ options: TranscodeOptions) async throws
        -> (published: [Publication], plan: TranscodeEvent.ChunkProgress?) {
        let transcoder = Transcoder(input: input, output: output, options: options)
        let published = Task { var all: [Publication] = []; for await publication in transcoder.publications { all.append(publication) }; return all }
        let plan = Task { var plan: TranscodeEvent.ChunkProgress?; for await event in transcoder.events { plan = event.chunkPlan ?? plan }; return plan }
        _ = try await transcoder.run()
        return (await published.value, await plan.value)
    }

    /// A service's run: CMAF, publishing as it goes, chunk 0 previewing the audio.
    static func previewOptions(seconds: Double) -> TranscodeOptions {
        var options = TranscodeOptions()
        options.dash = true
        options.progressive = true
        options.chunk = ChunkSelection(index: 0, seconds: seconds, audio: .preview)
        return options
    }

    /// For each rendition, whether its publications say they will be replaced.
    static func provisional(_ published: [Publication]) -> [String: Set<Bool>] {
        var found: [String: Set<Bool>] = [:]
        for case .segment(let segment) in published { found[segment.rendition, default: []].insert(segment.provisional == true) }
        return found
    }

    static func segments(_ published: [Publication]) -> [String: [Int]] {
        var found: [String: [Int]] = [:]
        for case .segment(let segment) in published { found[segment.rendition, default: []].append(segment.index) }
        return found
    }

    @Test func chunkZerosPreviewIsTheAudioTasksFirstSegments() async throws {
        let input = try Self.twoTrackSource()
        let folder = Fixtures.temporaryDirectory("audio-preview")
        defer { try? FileManager.default.removeItem(atPath: folder); try? FileManager.default.removeItem(atPath: (input as NSString).deletingLastPathComponent) }
        var options = Self.previewOptions(seconds: 4)
        options.loudness = nil  // the preview keeps the source's level: compared with a task that does too
        let chunkZero = try await Self.run(input, "\(folder)/c0", options)
        let manifest = try JSONDecoder().decode(ChunkManifest.self, from: Data(contentsOf: URL(fileURLWithPath: "\(folder)/c0/chunk.json")))
        let previewed = manifest.chunk.endSegment
        #expect(previewed > 0 && previewed < manifest.segmentCount)
        #expect(chunkZero.plan?.audioTask == .init(previewSegments: previewed), "the service is told to queue the audio task")
        #expect(manifest.audio == nil && manifest.alternateAudio == nil && manifest.audioApart == true, "the stitch takes the task's")
        let preview = manifest.previewAudio ?? []
        #expect(preview.map { $0.track?.folder ?? "audio" } == ["audio", "audio-2"])
        let published = Self.segments(chunkZero.published)
        for track in ["audio", "audio-2"] {
            #expect(published[track]?.sorted() == Array(0..<previewed), "\(track) published its own segments alone")
        }
        #expect(chunkZero.published.contains { if case .playable = $0 { true } else { false } })
        #expect(Self.provisional(chunkZero.published).values.allSatisfy { $0 == [false] }, "at the source's level, the task's bytes: final")
        #expect(!FileManager.default.fileExists(atPath: "\(folder)/c0/audio/segment_\(String(format: "%05d", previewed)).m4s"))

        options.chunk = .audioTask(seconds: 4)
        let task = try await Self.run(input, "\(folder)/task", options)
        let taskManifest = try JSONDecoder().decode(AudioTaskManifest.self,
                                                    from: Data(contentsOf: URL(fileURLWithPath: "\(folder)/task/audio.json")))
        let taskPublished = Self.segments(task.published)
        for (position, track) in ["audio", "audio-2"].enumerated() {
            #expect(taskPublished[track]?.sorted() == Array(0..<manifest.segmentCount), "the task publishes each of \(track)'s segments")
            let early = preview[position].segments, whole = taskManifest.tracks[position].segments
            #expect(early.map(\.fileName) == whole.prefix(previewed).map(\.fileName))
            for (mine, theirs) in zip(early, whole) {
                #expect(abs(mine.duration - theirs.duration) < 1e-6 && mine.timing == theirs.timing, "\(track)/\(mine.fileName) timing")
                #expect(FileManager.default.contents(atPath: "\(folder)/c0/\(track)/\(mine.fileName)")
                        == FileManager.default.contents(atPath: "\(folder)/task/\(track)/\(theirs.fileName)"), "\(track)/\(mine.fileName)")
            }
            #expect(FileManager.default.contents(atPath: "\(folder)/c0/\(track)/init.mp4")
                    == FileManager.default.contents(atPath: "\(folder)/task/\(track)/init.mp4"))
        }
    }

    /// With loudness normalisation on, the preview still keeps the source's level: it never
    /// waits for the measurement (measuring first made a 60 s video playable 0.74 and 1.06 s
    /// after `complete` where it was 0.41 and 0.45 s: docs/performance.md). Its segments are
    /// then the task's at the source's level, and chunk 0 reports no loudness of its own.
    @Test func thePreviewKeepsTheSourcesLevelAndWaitsForNoMeasurement() async throws {
        let input = try Self.twoTrackSource()
        let folder = Fixtures.temporaryDirectory("audio-preview-level")
        defer { try? FileManager.default.removeItem(atPath: folder); try? FileManager.default.removeItem(atPath: (input as NSString).deletingLastPathComponent) }
        var options = Self.previewOptions(seconds: 4)
        let chunkZero = try await Self.run(input, "\(folder)/c0", options)
        // The task's normalised segments replace it: a store keeps it out of caches.
        let provisional = Self.provisional(chunkZero.published)
        #expect(provisional["audio"] == [true] && provisional["audio-2"] == [true], "\(provisional)")
        #expect(provisional.filter { !$0.key.hasPrefix("audio") }.values.allSatisfy { $0 == [false] }, "\(provisional)")
        options.chunk = .audioTask(seconds: 4)
        options.loudness = nil
        _ = try await Self.run(input, "\(folder)/level", options)
        let manifest = try JSONDecoder().decode(ChunkManifest.self, from: Data(contentsOf: URL(fileURLWithPath: "\(folder)/c0/chunk.json")))
        #expect(manifest.loudness == nil && !(manifest.notes ?? []).contains { $0.contains("loudness") }, "the task's figures, not the preview's")
        #expect(manifest.previewAudio?.count == 2)
        for early in manifest.previewAudio ?? [] {
            let track = (early.track ?? .main).folder
            for segment in early.segments {
                #expect(FileManager.default.contents(atPath: "\(folder)/c0/\(track)/\(segment.fileName)")
                        == FileManager.default.contents(atPath: "\(folder)/level/\(track)/\(segment.fileName)"), "\(track)/\(segment.fileName)")
            }
        }
    }

    /// What of the source's audio is left out is said once: by the audio task, not again by
    /// the chunk 0 that previews it (the stitch joins both manifests' notes).
    @Test func aLeftOutTrackIsNotedByTheAudioTaskAlone() async throws {
        let folder = Fixtures.temporaryDirectory("audio-preview-notes")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let source = try AudioTrackTests.manyTrackSource(in: folder, tracks: 9, seconds: 6)
        var options = Self.previewOptions(seconds: 2)
        options.rungs = [180]
        _ = try await Self.run(source, "\(folder)/c0", options)
        let chunkZero = try JSONDecoder().decode(ChunkManifest.self, from: Data(contentsOf: URL(fileURLWithPath: "\(folder)/c0/chunk.json")))
        #expect(chunkZero.previewAudio?.count == 8)
        #expect(!(chunkZero.notes ?? []).contains { $0.contains("audio tracks") }, "\(chunkZero.notes ?? [])")
        options.chunk = .audioTask(seconds: 2)
        _ = try await Self.run(source, "\(folder)/task", options)
        let task = try JSONDecoder().decode(AudioTaskManifest.self, from: Data(contentsOf: URL(fileURLWithPath: "\(folder)/task/audio.json")))
        #expect((task.notes ?? []).filter { $0.contains("more than 8 audio tracks, left out") }.count == 1, "\(task.notes ?? [])")
    }

    /// Publishing as it goes changes nothing in the task's files: it still waits for the
    /// loudness gain (no viewer waits for it), so its segments are normalised.
    @Test func theAudioTaskPublishingAsItGoesWritesWhatTheCommandLinesDoes() async throws {
        let input = try Self.twoTrackSource()
        let folder = Fixtures.temporaryDirectory("audio-task-publishing")
        defer { try? FileManager.default.removeItem(atPath: folder); try? FileManager.default.removeItem(atPath: (input as NSString).deletingLastPathComponent) }
        var options = TranscodeOptions()
        options.dash = true
        options.progressive = true
        options.chunk = .audioTask(seconds: 4)
        let task = try await Self.run(input, "\(folder)/publishing", options)
        #expect(!Self.segments(task.published).isEmpty)
        #expect(Self.provisional(task.published).values.allSatisfy { $0 == [false] }, "normalised: final")
        try ChunkTests.transcode(input, "\(folder)/cli", ["--only-audio", "--chunk-seconds", "4"])
        let manifest = try JSONDecoder().decode(AudioTaskManifest.self,
                                                from: Data(contentsOf: URL(fileURLWithPath: "\(folder)/cli/audio.json")))
        #expect(manifest.loudness?.allSatisfy { $0.gain != 0 } == true, "the tones are normalised")
        for track in ["audio", "audio-2"] {
            let files = try FileManager.default.contentsOfDirectory(atPath: "\(folder)/cli/\(track)").sorted()
            #expect(try FileManager.default.contentsOfDirectory(atPath: "\(folder)/publishing/\(track)").sorted() == files)
            for file in files {
                #expect(FileManager.default.contents(atPath: "\(folder)/publishing/\(track)/\(file)")
                        == FileManager.default.contents(atPath: "\(folder)/cli/\(track)/\(file)"), "\(track)/\(file)")
            }
        }
    }
}
