// The engine's fuzz target: arbitrary bytes through the probe and a bounded transcode,
// read through an in-memory AVIO (`MemoryByteSource`), exactly as an upload is read, and
// through the sidecar caption parser.
//
// Two builds of one file:
// - `make fuzz` compiles it with `-sanitize=fuzzer,address -DFUZZING`: `main` hands over to
//   libFuzzer's driver (`LLVMFuzzerRunDriver`; SwiftPM gives an executable its own entry
//   point, so libFuzzer's `main` is never linked in), which calls the target with each input.
// - Otherwise it is a replay tool, `vstream-fuzz FILE|DIR…`, which runs each input through
//   the same function. `make test` replays the seed corpus and every crasher the fuzzer
//   ever found (fixtures/fuzz/regressions), so a fixed crash stays fixed.
import Foundation
import HLSEngine

enum FuzzHarness {
    /// A transcode small enough to run thousands of times: a few frames (a chunk's own
    /// frames bound it there), one tiny rung.
    static var options: TranscodeOptions {
        var options = TranscodeOptions()
        options.rungs = [144]
        options.preset = "ultrafast"
        options.maxFrames = 6
        options.maxDurationSeconds = 600
        options.segmentDuration = 0.5
        // Every output, so hostile bytes reach every muxer and writer: as the service runs
        // it, progressive and with the DASH ladder (the separate audio rendition).
        options.progressive = true
        options.dash = true
        options.writePoster = true
        options.writeStoryboard = true
        options.downloadRung = 720
        options.encoderThreads = 1
        options.decoderThreads = 1
        options.queueDepth = 2
        return options
    }

    static let scratch: String = {
        let path = NSTemporaryDirectory() + "vstream-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    /// The ways a worker runs one input: the whole file, as one job does; a chunk after the
    /// first (the plan, the seek to its keyframe, the frames dropped before it); and the
    /// audio task (every track, the loudness read in spans, the encode in spans).
    enum Mode: CaseIterable {
        case whole, secondChunk, audioTask

        var options: TranscodeOptions {
            var options = FuzzHarness.options
            switch self {
            case .whole: break
            case .secondChunk: options.chunk = ChunkSelection(index: 1, seconds: 0.5, audio: .apart)
            case .audioTask:
                options.chunk = .audioTask(seconds: 0.5)
                // Spans of one segment, so that a file of a few segments reaches them too.
                options.audioSpanSeconds = 0.5
            }
            return options
        }

        /// The fuzzer runs each input one way, chosen by its length, so its executions stay
        /// fast and every way is reached; the replay runs every input every way.
        static func chosen(for bytes: [UInt8]) -> Mode { allCases[bytes.count % allCases.count] }
    }

    /// Runs one input. Every outcome is a ladder or a `TranscodeError`; anything else
    /// (a trap, a sanitizer report, a hang) is what the fuzzer looks for. So is a run that
    /// ends as cancelled: nobody cancels one here, so a stage's failure stopped the run and
    /// its reason was lost (the audio task's spans once did that on a damaged packet).
    static func run(_ bytes: [UInt8], modes: [Mode]) {
        LibraryLog.setLevel(.quiet)
        // A sidecar caption file is parsed in the server itself (`POST …/captions`), where a
        // trap is an outage, so every input is also read as one, and written back out.
        if let captions = try? CaptionFile(data: Data(bytes)) { _ = captions.webVTT }
        let source = MemoryByteSource(bytes)
        _ = try? MediaProbe.probe(source, name: "fuzz-input")
        let output = scratch + "/out"
        for mode in modes {
            let transcoder = Transcoder(source: source, name: "fuzz-input", output: output, options: mode.options)
            do {
                _ = try transcoder.runSynchronously()
            } catch where error.reason == .cancelled {
                fatalError("\(mode): the run ended as cancelled, and nobody cancelled it")
            } catch {}
            try? FileManager.default.removeItem(atPath: output)
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    FuzzHarness.run(bytes, modes: [.chosen(for: bytes)])
    return 0
}

#if FUZZING
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

@main
enum FuzzMain {
    static func main() {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOneInput))
    }
}
#else
/// Replay: every file named, and every file inside every folder named.
@main
enum Replay {
    static func main() {
        let paths = CommandLine.arguments.dropFirst().flatMap { path -> [String] in
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return [] }
            guard isDirectory.boolValue else { return [path] }
            return ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
                .filter { !$0.hasPrefix(".") }.map { path + "/" + $0 }
        }
        for path in paths {
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            FuzzHarness.run([UInt8](data), modes: FuzzHarness.Mode.allCases)
            print("replayed \(path) (\(data.count) bytes)")
        }
        print("replayed \(paths.count) inputs")
        try? FileManager.default.removeItem(atPath: FuzzHarness.scratch)
    }
}
#endif
