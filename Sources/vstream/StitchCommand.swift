import ArgumentParser
import Foundation
import HLSEngine

struct StitchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stitch",
        abstract: "Join the chunks of `vstream transcode --only-chunk` into one ladder.",
        discussion: """
            Checks that every chunk of the plan is there once, that segment numbers follow on, and that each rung's \
            init.mp4 is byte-identical across chunks, and that the audio was encoded once (by chunk 0, or by \
            `--only-audio` on the same plan and timeline); then moves the segments into OUT and writes the playlists, \
            master.m3u8 and manifest.mpd. No media is re-encoded or copied.
            """)

    @Argument(help: "The ladder's folder.") var output: String
    @Argument(help: "The chunks' folders (each with its chunk.json), and the audio task's (audio.json) if there is one, in any order.")
    var chunks: [String]

    func validate() throws {
        guard !chunks.isEmpty else { throw ValidationError("name the chunks' folders") }
    }

    func run() throws {
        do {
            let result = try LadderStitcher(output: output, chunks: chunks).stitch()
            for rendition in result.renditions {
                print("  \(rendition.rendition.name): \(rendition.segmentCount) segments, avg \(rendition.averageBandwidth / 1000) kbit/s, "
                      + "peak \(rendition.peakBandwidth / 1000) kbit/s")
            }
            print("master playlist: \(result.masterPlaylist)")
        } catch {
            Terminal.fail(error)
        }
    }
}
