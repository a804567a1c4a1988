import Foundation
import Testing
@testable import HLSEngine

/// Every file of the hostile corpus and of `fixtures/media` through chunk 0 with an audio
/// preview (2 s chunks, the most chunks a file gives) and through the audio task: wherever
/// chunk 0 previews the audio, each previewed segment must be the task's segment of the same
/// number, byte for byte (a service's viewer goes from one to the other). A file refused, or
/// given one chunk, has no preview; refusals are the engine's usual ones (`HostileInputTests`).
@Suite("Audio preview battery", .serialized)
struct AudioPreviewBatteryTests {
    @Test func everyPreviewIsTheAudioTasksFirstSegments() async throws {
        var previewed = 0
        for directory in [Fixtures.path("hostile"), Fixtures.path("")] {
            for name in try FileManager.default.contentsOfDirectory(atPath: directory).sorted() where !name.hasPrefix("bench_") {
                let input = (directory as NSString).appendingPathComponent(name)
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
                let folder = Fixtures.temporaryDirectory("preview-battery")
                defer { try? FileManager.default.removeItem(atPath: folder) }
                var options = TranscodeOptions()
                options.dash = true
                options.progressive = true
                options.loudness = nil
                options.maxDurationSeconds = 600
                options.chunk = ChunkSelection(index: 0, seconds: 2, audio: .preview)
                guard (try? await AudioPreviewTests.run(input, "\(folder)/c0", options)) != nil,
                      let data = FileManager.default.contents(atPath: "\(folder)/c0/chunk.json"),
                      let preview = try JSONDecoder().decode(ChunkManifest.self, from: data).previewAudio else { continue }
                options.chunk = .audioTask(seconds: 2)
                _ = try await AudioPreviewTests.run(input, "\(folder)/task", options)
                let task = try JSONDecoder().decode(AudioTaskManifest.self,
                                                    from: Data(contentsOf: URL(fileURLWithPath: "\(folder)/task/audio.json")))
                previewed += 1
                for (early, whole) in zip(preview, task.tracks) {
                    let track = (early.track ?? .main).folder
                    #expect(early.segments.count <= whole.segments.count, "\(name) \(track)")
                    for (mine, theirs) in zip(early.segments, whole.segments) {
                        #expect(mine.fileName == theirs.fileName && mine.timing == theirs.timing
                                && FileManager.default.contents(atPath: "\(folder)/c0/\(track)/\(mine.fileName)")
                                    == FileManager.default.contents(atPath: "\(folder)/task/\(track)/\(theirs.fileName)"),
                                "\(name) \(track)/\(mine.fileName)")
                    }
                }
            }
        }
        print("previewed: \(previewed) inputs")
        #expect(previewed > 10)
    }
}
