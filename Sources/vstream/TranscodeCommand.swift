import ArgumentParser
import Dispatch
import Foundation
import ChildProcess
import HLSEngine

struct TranscodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transcode", abstract: "Transcode a file into an HLS ladder (360p/720p/1080p H.264 + AAC).")

    enum ProgressStyle: String, ExpressibleByArgument, CaseIterable { case bar, json, none }

    @Argument(help: "The source media file.") var input: String
    @Option(name: [.short, .customLong("output")], help: "Output directory.") var output: String
    @Option(help: "Comma-separated rungs (short sides).") var ladder = "360,720,1080"
    @Option(help: "Segment length in seconds.") var segmentSeconds: Double = 2
    @Option(help: "x264 preset.") var preset = "veryfast"
    @Option(help: "fmp4 or ts.") var segmentFormat = "fmp4"
    @Option(help: "bar (default on a terminal), json (one event per line on stdout) or none.")
    var progress: ProgressStyle?
    @Option(help: "x264 threads per rendition (default: sized for this host).") var encoderThreads: Int?
    @Option(help: "Refuse a source longer than this many seconds (default: no limit).") var maxDuration: Double?
    @Flag(help: "Publish while transcoding: EVENT playlists (RENDITION/live.m3u8) and an early master (live.m3u8).")
    var progressive = false
    @Option(help: "The rung download.mp4 holds (720p: the top rung when the source is smaller), or none.")
    var mp4 = "720p"
    @Flag(inversion: .prefixedNo, help: "Write the scrubbing storyboard (storyboard.vtt and storyboard/sheet_N.jpg).")
    var storyboard = true
    @Flag(help: "Also write manifest.mpd (DASH) over the same segments: the audio becomes a rendition of its own (audio/), and the rungs' segments carry video alone.")
    var dash = false
    @Option(help: """
        Split and stitch: cut the video into chunks of whole segments of about this many seconds, encode them side \
        by side, and stitch one ladder (CMAF, the audio a rendition of its own). 0: the whole file in one run. \
        Default: chunks of 20 s on a host with more than \(ChunkedTranscode.coresOneRunKeepsBusy) cores, whole otherwise.
        """) var chunkSeconds: Double?
    @Option(help: "Chunks encoded at once, sharing the cores (default: a fifth of the cores, at least 2).")
    var parallelChunks: Int?
    @Option(help: "Encode only chunk k (from 0) of --chunk-seconds, with a chunk.json for `vstream stitch`; chunk 0 also encodes the audio, unless --audio-apart.")
    var onlyChunk: Int?
    @Flag(help: "Encode only the whole file's audio, cut on the segments of --chunk-seconds, with an audio.json for `vstream stitch`: the audio task beside chunks made with --audio-apart.")
    var onlyAudio = false
    @Flag(help: "With --only-chunk 0: leave the audio to a run with --only-audio.")
    var audioApart = false
    @Option(help: ArgumentHelp("""
        A caption file (SRT or WebVTT, UTF-8 or UTF-16 with a BOM, at most 1 MiB) as a subtitles rendition: \
        FILE:LANG[:NAME], e.g. captions.srt:eng:English. Repeatable.
        """, valueName: "FILE:LANG[:NAME]")) var captions: [String] = []
    @Option(help: ArgumentHelp("""
        As --captions, for captions for the deaf and hard of hearing that describe sounds too (SDH): \
        marked so in the master and the MPD, and named "English (SDH)" when NAME is absent. Repeatable.
        """, valueName: "FILE:LANG[:NAME]")) var captionsSdh: [String] = []
    @Option(parsing: .unconditional, help: ArgumentHelp("""
        Bring every audio track to this integrated loudness (EBU R128, in LUFS, -40 to -5) by one static gain, \
        its true peak kept at or under -1 dBTP; or off, to keep the source's level.
        """, valueName: "LUFS|off")) var loudness = String(Loudness.defaultTarget)
    @Option(help: ArgumentHelp("""
        Seconds of each span the audio task (--only-audio, and the audio of --parallel-chunks) encodes at once, \
        on a core each; 0: one encoder for each whole track.
        """, visibility: .hidden)) var audioSpanSeconds: Double?
    @Option(help: ArgumentHelp("Decoded frames queued per rendition.", visibility: .hidden)) var queueDepth: Int?
    @Option(help: ArgumentHelp("Video decoder threads (0: libavcodec decides).", visibility: .hidden)) var decoderThreads: Int?
    @Option(help: ArgumentHelp("Plan threads and chunks as on a host of this many cores (to measure another host's memory here).",
                               visibility: .hidden)) var cores: Int?
    @Flag(help: ArgumentHelp("Run as the service's supervised child: read the request (JSON) on stdin, report JSON lines.",
                             visibility: .hidden)) var supervised = false
    @Option(help: ArgumentHelp("Read the source (of this many bytes) from descriptor 3, relayed by the service.",
                               visibility: .hidden)) var relayedSourceSize: Int64?
    @Flag(help: ArgumentHelp("Schedule every stage alike instead of favouring the largest rung (for measurement).",
                             visibility: .hidden)) var fairScheduling = false

    func validate() throws {
        guard SegmentFormat(rawValue: segmentFormat) != nil else { throw ValidationError("--segment-format must be fmp4 or ts") }
        guard segmentSeconds >= 0.5, segmentSeconds <= 60 else { throw ValidationError("--segment-seconds must be within 0.5...60") }
        if dash, segmentFormat == "ts" { throw ValidationError("--dash needs --segment-format fmp4") }
        guard mp4Rung != nil else { throw ValidationError("--mp4 must be a rung such as 720p or 1080p, or none") }
        guard !parsedLadder.isEmpty else { throw ValidationError("--ladder must list positive sizes, e.g. 360,720,1080") }
        if let maxDuration, !(maxDuration > 0 && maxDuration.isFinite) { throw ValidationError("--max-duration must be a positive number of seconds") }
        if let chunkSeconds, !(chunkSeconds >= 0 && chunkSeconds.isFinite && chunkSeconds <= 3600) {
            throw ValidationError("--chunk-seconds must be 0 (whole) or a number of seconds up to 3600")
        }
        if let parallelChunks, !(1...256).contains(parallelChunks) { throw ValidationError("--parallel-chunks must be within 1...256") }
        if let cores, !(1...1024).contains(cores) { throw ValidationError("--cores must be within 1...1024") }
        if let audioSpanSeconds, !(audioSpanSeconds >= 0 && audioSpanSeconds <= 3600) {
            throw ValidationError("--audio-span-seconds must be 0 (one encoder) or a number of seconds up to 3600")
        }
        if let onlyChunk {
            guard onlyChunk >= 0 else { throw ValidationError("--only-chunk counts from 0") }
            guard (chunkSeconds ?? 0) > 0 else { throw ValidationError("--only-chunk needs --chunk-seconds above 0") }
        }
        if onlyAudio {
            guard onlyChunk == nil else { throw ValidationError("--only-audio and --only-chunk are separate runs") }
            guard (chunkSeconds ?? 0) > 0 else { throw ValidationError("--only-audio needs --chunk-seconds above 0") }
            guard !progressive else { throw ValidationError("--only-audio does not publish as it goes (--progressive)") }
        }
        if audioApart {
            guard onlyChunk != nil else { throw ValidationError("--audio-apart goes with --only-chunk") }
            guard !progressive else { throw ValidationError("a chunk 0 that publishes as it goes (--progressive) encodes the audio itself") }
        }
        if segmentFormat == "ts", (chunkSeconds ?? 0) > 0 { throw ValidationError("chunks need --segment-format fmp4 (CMAF)") }
        guard loudnessTarget != nil else { throw ValidationError("--loudness must be a loudness in LUFS from -40 to -5, or off") }
    }

    /// nil: not valid; .some(nil): off.
    var loudnessTarget: Double?? {
        if loudness.lowercased() == "off" { return .some(nil) }
        guard let value = Double(loudness), Loudness.targets.contains(value) else { return nil }
        return .some(value)
    }

    /// nil: not valid; .some(nil): none.
    var mp4Rung: Int?? {
        if mp4.lowercased() == "none" { return .some(nil) }
        guard let value = Int(mp4.lowercased().replacingOccurrences(of: "p", with: "")), value > 0,
              value <= MediaProbe.maxDimension else { return nil }
        return .some(value)
    }

    var parsedLadder: [Int] {
        let values = ladder.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "p", with: "")) }
        return values.contains(where: { ($0 ?? 0) <= 0 || ($0 ?? 0) > MediaProbe.maxDimension }) ? [] : values.compactMap { $0 }
    }

    func run() async throws {
        var options = TranscodeOptions()
        options.rungs = parsedLadder
        options.segmentDuration = segmentSeconds
        options.preset = preset
        options.segmentFormat = SegmentFormat(rawValue: segmentFormat) ?? .fmp4
        options.encoderThreads = encoderThreads
        options.maxDurationSeconds = maxDuration
        options.progressive = progressive
        options.writeStoryboard = storyboard
        options.dash = dash
        options.downloadRung = mp4Rung ?? 720
        if let queueDepth { options.queueDepth = max(1, queueDepth) }
        if let decoderThreads { options.decoderThreads = max(0, decoderThreads) }
        options.cores = cores
        options.audioSpanSeconds = audioSpanSeconds
        options.prioritizeLargestRung = !fairScheduling
        options.captions = captions.map { Self.sidecar($0) } + captionsSdh.map { Self.sidecar($0, isHearingImpaired: true) }
        options.loudness = loudnessTarget ?? Loudness.defaultTarget
        if supervised {
            // The service's options, in one document: the flags above are not used.
            let options = SupervisedChild.awaitRequest()
            let source: (any ByteSource)?
            if let relayedSourceSize {
                do {
                    source = try RelayedByteSource(descriptor: PipedChild.passedDescriptor, size: relayedSourceSize,
                                                   concurrentDescriptor: PipedChild.passedDescriptor + 1)
                } catch {
                    Terminal.fail(TranscodeError(input: input, reason: error))
                }
            } else {
                source = try? FileByteSource(path: input)
            }
            let transcoder = source.map { Transcoder(source: $0, name: input, output: output, options: options) }
                ?? Transcoder(input: input, output: output, options: options)
            await SupervisedChild.run(transcoder, source: source)
        }
        if let onlyChunk, let chunkSeconds {
            options.chunk = ChunkSelection(index: onlyChunk, seconds: chunkSeconds, audio: audioApart ? .apart : .withChunkZero)
        } else if onlyAudio, let chunkSeconds {
            options.chunk = .audioTask(seconds: chunkSeconds)
        } else if let chunking = chunking {
            let chunked = ChunkedTranscode(input: input, output: output, options: options,
                                           chunkSeconds: chunking.seconds, parallel: chunking.parallel)
            let run = Task { try await chunked.run() }
            // Ctrl-C cancels every chunk; each removes what it wrote, and the chunks' folder goes.
            signal(SIGINT, SIG_IGN)
            let interrupt = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
            interrupt.setEventHandler { run.cancel() }
            interrupt.resume()
            do {
                report(try await run.value, style: progress ?? .none)
            } catch {
                Terminal.fail(error)
            }
            return
        }
        let transcoder = Transcoder(input: input, output: output, options: options)
        let style = progress ?? (Terminal.isInteractive ? .bar : .none)

        // Ctrl-C cancels: the engine stops within a second and removes partial output.
        signal(SIGINT, SIG_IGN)
        let interrupt = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        interrupt.setEventHandler { transcoder.cancel() }
        interrupt.resume()

        let reporter = Task {
            var bar = ProgressBar()
            for await event in transcoder.events {
                switch style {
                case .json: Terminal.printLine(JSON.line(event))
                case .bar: bar.draw(event)
                case .none: break
                }
            }
            if style == .bar { bar.finish() }
        }
        do {
            let result = try await transcoder.run()
            await reporter.value
            report(result, style: style)
        } catch {
            await reporter.value
            Terminal.fail(error)
        }
    }

    /// One `--captions FILE:LANG[:NAME]`, read and validated; a bad one ends the command
    /// with the file and the line that is wrong.
    static func sidecar(_ argument: String, isHearingImpaired: Bool = false) -> SidecarCaptions {
        let parts = argument.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        let file = parts[0]
        do {
            guard parts.count >= 2 else { throw CaptionFile.Refusal(reason: "name its language: FILE:LANG[:NAME]") }
            let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? nil
            guard let size else { throw CaptionFile.Refusal(reason: "cannot be read") }
            guard size <= CaptionFile.maxBytes else { throw CaptionFile.Refusal(reason: "the file is over 1 MiB") }
            guard let data = FileManager.default.contents(atPath: file) else { throw CaptionFile.Refusal(reason: "cannot be read") }
            return try SidecarCaptions(language: parts[1], name: parts.count > 2 ? parts[2] : nil, file: try CaptionFile(data: data),
                                       isHearingImpaired: isHearingImpaired)
        } catch let refusal as CaptionFile.Refusal {
            Terminal.fail(CaptionsRefused(file: file, refusal: refusal))
        } catch {
            Terminal.fail(error)
        }
    }

    struct CaptionsRefused: Error, CustomStringConvertible {
        var file: String
        var refusal: CaptionFile.Refusal
        var description: String { "\(file): \(refusal)" }
    }

    /// Whether (and how) to split and stitch: `--chunk-seconds` when given (0: whole),
    /// else the host's default (`ChunkedTranscode.automatic`). Never for TS segments.
    var chunking: (seconds: Double, parallel: Int)? {
        let cores = self.cores ?? ProcessInfo.processInfo.activeProcessorCount
        if let chunkSeconds {
            guard chunkSeconds > 0 else { return nil }
            return (chunkSeconds, parallelChunks ?? ChunkedTranscode.automatic(cores: max(cores, ChunkedTranscode.coresOneRunKeepsBusy + 1))?.parallel ?? 2)
        }
        guard segmentFormat == "fmp4", var automatic = ChunkedTranscode.automatic(cores: cores) else { return nil }
        if let parallelChunks { automatic.parallel = parallelChunks }
        return automatic
    }

    func report(_ result: TranscodeResult, style: ProgressStyle) {
        if style == .json {
            Terminal.printLine(JSON.line(result))
            return
        }
        for note in result.notes ?? [] { Terminal.note(note) }
        for track in result.loudness ?? [] where style != .json {
            let peak = "true peak \(track.output.truePeak.map { String(format: "%.1f", $0) } ?? "-") dBTP"
            guard let source = track.source.integrated, let output = track.output.integrated else {
                // EBU R128 gates 400 ms blocks: silence, or a shorter sound, has no loudness to bring anywhere.
                print("  \(track.folder) loudness: not measurable (silence, or under 0.4 s of sound), level kept, \(peak)")
                continue
            }
            print("  \(track.folder) loudness: \(String(format: "%.1f", source)) LUFS, gain \(String(format: "%+.1f", track.gain)) dB, "
                  + "out \(String(format: "%.1f", output)) LUFS, \(peak)")
        }
        if let manifest = result.chunkManifest {
            let segments = result.renditions.first?.segmentCount ?? 0
            if onlyAudio {
                print("  audio task: \(result.audioTracks?.count ?? 0) track(s), \(String(format: "%.2f", result.durationSeconds)) s")
            } else {
                print("  chunk: \(result.sourceFrames) frames, \(segments) segments per rung\(result.hasAudio ? ", and the whole file's audio" : "")")
            }
            print("chunk manifest: \(URL(fileURLWithPath: output).appendingPathComponent(manifest).path)")
            return
        }
        for rendition in result.renditions {
            print("  \(rendition.rendition.name): \(rendition.rendition.width)x\(rendition.rendition.height), "
                  + "\(rendition.segmentCount) segments, avg \(rendition.averageBandwidth / 1000) kbit/s, "
                  + "peak \(rendition.peakBandwidth / 1000) kbit/s")
        }
        if let download = result.download {
            print("  \(download.file): \(download.rendition), \(download.bytes / 1000) kB (remuxed, for downloads and players without HLS)")
        }
        print("master playlist: \(result.masterPlaylist)")
    }
}

/// A one-line progress bar on stderr.
struct ProgressBar {
    private var drawn = false

    mutating func draw(_ event: TranscodeEvent) {
        let width = 30
        let filled = Int(Double(width) * event.percent / 100)
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let line = String(format: "\r[%@] %5.1f%%  %d/%d frames  %.1f fps  %@   ",
                          bar, event.percent, event.framesDone, event.framesTotal, event.fps, event.stage.rawValue)
        FileHandle.standardError.write(Data(line.utf8))
        drawn = true
    }

    func finish() { if drawn { FileHandle.standardError.write(Data("\n".utf8)) } }
}
