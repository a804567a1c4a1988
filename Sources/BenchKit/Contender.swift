import HLSEngine

/// One way to make the ladder, as whole processes with identical x264 and AAC settings.
public struct Contender: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// `vstream transcode`: decode once, encode the rungs in parallel threads.
        case engine
        /// One ffmpeg process: split=3 + scale, three libx264 outputs, the hls muxer.
        case ffmpegOneProcess = "ffmpeg-one-process"
        /// Three ffmpeg processes at once, one per rung, each decoding the source again.
        case ffmpegNaive = "ffmpeg-naive"
        /// The engine as the service runs it: the ladder plus `download.mp4` and the
        /// storyboard (`bench --extras`), so its ratio to `engine` is what they cost.
        case engineWithExtras = "engine-with-extras"
        /// Split and stitch (`bench --chunks`): the engine in chunks side by side, against
        /// the engine whole on the same CMAF ladder.
        case engineChunked = "engine-chunked"

        /// The default contenders: three ways to make the same ladder.
        public static let ladders: [Kind] = [.engine, .ffmpegOneProcess, .ffmpegNaive]
    }

    public var kind: Kind
    /// Processes started together for one run.
    public var commands: [[String]]
    /// Where each rendition's variant playlist lands, by rendition name (relative to the output).
    public var playlists: [String: String]

    /// The shared settings every contender uses, so only the architecture differs.
    public struct Settings: Sendable, Codable, Equatable {
        public var input: String
        public var renditions: [Rendition]
        public var hasAudio: Bool
        public var preset: String
        public var segmentSeconds: Double
        public var frameRate: Double
        public var audioBitrate: Int = 128_000

        public init(input: String, renditions: [Rendition], hasAudio: Bool, preset: String,
                    segmentSeconds: Double, frameRate: Double) {
            self.input = input
            self.renditions = renditions
            self.hasAudio = hasAudio
            self.preset = preset
            self.segmentSeconds = segmentSeconds
            self.frameRate = frameRate
        }

        /// The engine's GOP rules, spelled for the ffmpeg CLI.
        var x264Arguments: [String] {
            let keyint = max(2 * Int((segmentSeconds * max(frameRate, 1)).rounded(.up)), 250)
            return ["-preset", preset, "-pix_fmt", "yuv420p", "-flags", "+cgop", "-forced-idr", "1",
                    "-x264-params", "scenecut=0:open-gop=0:keyint=\(keyint)",
                    "-force_key_frames", "expr:gte(t,n_forced*\(format(segmentSeconds)))"]
        }

        var audioArguments: [String] {
            hasAudio ? ["-c:a", "aac", "-b:a", "\(audioBitrate / 1000)k", "-ar", "48000", "-ac", "2"] : ["-an"]
        }

        func rateArguments(_ rendition: Rendition, stream: String) -> [String] {
            ["-b:v\(stream)", "\(rendition.videoBitrate / 1000)k", "-maxrate:v\(stream)", "\(rendition.maxBitrate / 1000)k",
             "-bufsize:v\(stream)", "\(rendition.bufferSize / 1000)k"]
        }

        func hlsArguments(segmentPattern: String) -> [String] {
            ["-f", "hls", "-hls_time", format(segmentSeconds), "-hls_playlist_type", "vod",
             "-hls_segment_type", "fmp4", "-hls_flags", "independent_segments",
             "-hls_segment_filename", segmentPattern]
        }
    }

    /// The engine; without `extras` it makes the ladder alone (what ffmpeg's contenders
    /// make: no loudness normalisation either), with them the MP4 rendition, the storyboard
    /// and the loudness pass too.
    /// One whole run (`--chunk-seconds 0`: a many-core host would chunk by default); with
    /// `dash`, the CMAF ladder a chunked run makes.
    public static func engine(_ settings: Settings, vstream: String, output: String, extras: Bool = false,
                              dash: Bool = false) -> Contender {
        let ladder = settings.renditions.map { String(min($0.width, $0.height)) }.joined(separator: ",")
        let command = [vstream, "transcode", settings.input, "-o", output, "--ladder", ladder,
                       "--preset", settings.preset, "--segment-seconds", format(settings.segmentSeconds),
                       "--progress", "none", "--chunk-seconds", "0"] + (dash ? ["--dash"] : [])
            + (extras ? ["--mp4", "720p"] : ["--mp4", "none", "--no-storyboard", "--loudness", "off"])
        return Contender(kind: extras ? .engineWithExtras : .engine, commands: [command],
                         playlists: Dictionary(uniqueKeysWithValues: settings.renditions.map { ($0.name, "\($0.name)/index.m3u8") }))
    }

    /// Split and stitch: `seconds`-long chunks, `parallel` at once, stitched.
    public static func engineChunked(_ settings: Settings, vstream: String, output: String, seconds: Double, parallel: Int) -> Contender {
        let ladder = settings.renditions.map { String(min($0.width, $0.height)) }.joined(separator: ",")
        let command = [vstream, "transcode", settings.input, "-o", output, "--ladder", ladder,
                       "--preset", settings.preset, "--segment-seconds", format(settings.segmentSeconds),
                       "--progress", "none", "--chunk-seconds", format(seconds), "--parallel-chunks", String(parallel),
                       "--mp4", "none", "--no-storyboard", "--loudness", "off"]
        return Contender(kind: .engineChunked, commands: [command],
                         playlists: Dictionary(uniqueKeysWithValues: settings.renditions.map { ($0.name, "\($0.name)/index.m3u8") }))
    }

    public static func ffmpegOneProcess(_ settings: Settings, output: String) -> Contender {
        let count = settings.renditions.count
        let splits = (0..<count).map { "[s\($0)]" }.joined()
        let scales = settings.renditions.enumerated().map { index, rendition in
            "[s\(index)]scale=\(rendition.width):\(rendition.height):flags=bicubic[v\(index)]"
        }
        var command = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", settings.input,
                       "-filter_complex", "[0:v]split=\(count)\(splits);" + scales.joined(separator: ";")]
        for index in 0..<count { command += ["-map", "[v\(index)]"] }
        if settings.hasAudio { for _ in 0..<count { command += ["-map", "0:a:0"] } }
        command += ["-c:v", "libx264"] + settings.x264Arguments
        for (index, rendition) in settings.renditions.enumerated() { command += settings.rateArguments(rendition, stream: ":\(index)") }
        command += settings.audioArguments
        let streamMap = (0..<count).map { settings.hasAudio ? "v:\($0),a:\($0),name:\(settings.renditions[$0].name)" : "v:\($0),name:\(settings.renditions[$0].name)" }
        command += settings.hlsArguments(segmentPattern: "\(output)/%v/segment_%05d.m4s")
        command += ["-var_stream_map", streamMap.joined(separator: " "), "-master_pl_name", "master.m3u8", "\(output)/%v/index.m3u8"]
        return Contender(kind: .ffmpegOneProcess, commands: [command],
                         playlists: Dictionary(uniqueKeysWithValues: settings.renditions.map { ($0.name, "\($0.name)/index.m3u8") }))
    }

    public static func ffmpegNaive(_ settings: Settings, output: String) -> Contender {
        let commands = settings.renditions.map { rendition in
            ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", settings.input,
             "-vf", "scale=\(rendition.width):\(rendition.height):flags=bicubic",
             "-c:v", "libx264"] + settings.x264Arguments + settings.rateArguments(rendition, stream: "")
                + settings.audioArguments
                + settings.hlsArguments(segmentPattern: "\(output)/\(rendition.name)/segment_%05d.m4s")
                + ["\(output)/\(rendition.name)/index.m3u8"]
        }
        return Contender(kind: .ffmpegNaive, commands: commands,
                         playlists: Dictionary(uniqueKeysWithValues: settings.renditions.map { ($0.name, "\($0.name)/index.m3u8") }))
    }

    /// The command lines as a shell would take them, for repeating by hand.
    public var shellLines: [String] {
        commands.map { $0.map(Self.shellQuoted).joined(separator: " ") }
    }

    static func shellQuoted(_ word: String) -> String {
        let safe = word.allSatisfy { $0.isLetter || $0.isNumber || "-_./:=,+%".contains($0) }
        return safe ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

func format(_ value: Double) -> String {
    value == value.rounded() ? String(Int(value)) : String(value)
}
