import Foundation

/// How to transcode. The defaults are the product's ladder.
public struct TranscodeOptions: Sendable, Equatable, Codable {
    /// Short sides of the rungs to produce ("360p" is 360). Rungs above the source are skipped.
    public var rungs: [Int] = Ladder.defaultRungs
    /// Publish while transcoding: EVENT playlists (`<rendition>/live.m3u8`) rewritten after
    /// each segment, and an early master (`live.m3u8`) once every rung has a segment;
    /// `Transcoder.publications` reports both. `master.m3u8` is still written last.
    public var progressive = false
    /// Target segment length in seconds; also the exact GOP length.
    public var segmentDuration: Double = 2
    /// The x264 preset.
    public var preset: String = "veryfast"
    public var segmentFormat: SegmentFormat = .fmp4
    /// A CMAF ladder with one track per file, and `manifest.mpd` beside `master.m3u8`: the
    /// audio becomes a rendition of its own (`audio/`, named by the master's EXT-X-MEDIA)
    /// and the rungs' segments carry video alone, so DASH players (which take one track
    /// per Representation) play the same segments. fMP4 only: ignored for MPEG-TS.
    public var dash = false
    /// x264 threads per rendition; nil sizes them for this host (see `ThreadPlan`).
    public var encoderThreads: Int? = nil
    /// Keep the largest rung's thread at normal priority and lower the other stages',
    /// so the critical path always has a core (see `ThreadPlan`). False schedules
    /// every thread alike; it exists to measure the difference.
    public var prioritizeLargestRung = true
    /// Decoded frames that may wait for each rendition thread. Bounds memory. The slack
    /// lets decoding run ahead while a lower-priority rung catches up, so the largest
    /// rung never waits for frames: 12 ran 4-5% faster than 4 for 9 MiB more
    /// (frames are shared, so the cost is the lag, not the sum; docs/performance.md).
    public var queueDepth: Int = 12
    /// libavcodec threads for the video decoder; 0 lets libavcodec choose. The default
    /// is one on hosts of up to 2 cores: decoding 1080p H.264 single-threaded still runs
    /// several times faster than the ladder encodes, and frame threading there only
    /// costs CPU and memory that x264 needs (measured in docs/performance.md).
    public var decoderThreads: Int = ProcessInfo.processInfo.activeProcessorCount <= 2 ? 1 : 0
    /// `download.mp4`, remuxed from one rung: the rung with the largest short side not
    /// above this (720 by default; the top rung when the source is smaller). nil: none.
    public var downloadRung: Int? = 720
    /// Write `poster.jpg` from the frame at about 10% of the video.
    public var writePoster = true
    /// Write the scrubbing storyboard (`storyboard.vtt` and `storyboard/sheet_N.jpg`): a
    /// 160-pixel-wide frame every `storyboardInterval` seconds, from the same decode.
    public var writeStoryboard = true
    public var storyboardInterval: Double = 2
    /// AAC-LC bit rate of the one audio track shared by every variant.
    public var audioBitrate: Int = 128_000
    /// Refuse a source longer than this many seconds: before decoding when the container
    /// says so, and as soon as decoding passes it when the container lied. nil: no limit.
    public var maxDurationSeconds: Double? = nil
    /// Stop after this many source video frames: a bounded transcode, for fuzzing and
    /// previews. The result is a complete ladder of those frames. nil: the whole input.
    public var maxFrames: Int? = nil
    /// Decoded frames queued per rendition may hold at most this many bytes (at least one
    /// frame always fits), so an 8K 10-bit source queues a few frames, not `queueDepth`.
    public var queueBytes: Int = 256 << 20
    /// The cores this run shares its threads over (`ThreadPlan`); nil: every core of the
    /// host. Chunks that run side by side each get their share.
    public var cores: Int? = nil
    /// Split and stitch: encode one chunk of the ladder, not the whole file (see
    /// `ChunkPlan`). nil: the whole file.
    public var chunk: ChunkSelection? = nil
    /// Caption files published as WebVTT SUBTITLES renditions (`captions/`), and whole
    /// beside the ladder.
    public var captions: [SidecarCaptions] = []
    /// Loudness normalisation: every audio track brought to this integrated loudness (LUFS)
    /// by one static gain, its true peak kept at or under −1 dBTP (`Loudness`). nil: off,
    /// the tracks keep the source's level.
    public var loudness: Double? = Loudness.defaultTarget
    /// The audio task's spans (`AudioSpans`): seconds of each, encoded at once. nil: the
    /// default (60); 0: one encoder for the whole track.
    public var audioSpanSeconds: Double? = nil

    public init() {}
}

/// Which chunk a run encodes. The chunks are cut from the source itself (`ChunkPlan`), so
/// every run that names the same `seconds` agrees on where each one starts and ends.
public struct ChunkSelection: Sendable, Equatable, Codable {
    /// 0 for the first. By default chunk 0 also encodes the whole file's audio, once
    /// (`audio`).
    public var index: Int
    /// The wanted chunk length in seconds: a whole number of segments near it.
    public var seconds: Double
    /// Where the whole file's audio is encoded: once either way, on the plan's segment starts.
    public var audio: AudioWork

    public enum AudioWork: String, Sendable, Equatable, Codable {
        /// Chunk 0 encodes it beside its rungs (one run makes a ladder with sound).
        case withChunkZero
        /// Chunk 0 leaves it to the audio task: the run that finishes last then holds
        /// neither the first chunk's video nor the whole file's audio behind the other.
        case apart
        /// This run is the audio task (`ChunkSelection.audioTask`): every audio track of the
        /// whole file, cut on the plan's segment starts, and no video.
        case only
        /// Chunk 0 publishing as it goes (a service's) encodes the audio of its own segments
        /// alone, at the source's level, so early viewers hear it at once, and leaves the
        /// whole file's audio to the audio task, whose segments replace these at the stitch
        /// (`ChunkManifest.previewAudio`). Where the plan allows no audio task (one chunk,
        /// or a video too short), chunk 0 encodes the whole file's audio as `withChunkZero`.
        case preview
    }

    public init(index: Int, seconds: Double, audio: AudioWork = .withChunkZero) {
        self.index = index
        self.seconds = seconds
        self.audio = audio
    }

    private enum CodingKeys: String, CodingKey { case index, seconds, audio }

    /// A selection written before `audio` existed (a task queued by an older worker) is
    /// chunk 0 carrying the audio, as it was then.
    public init(from decoder: any Swift.Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        index = try container.decode(Int.self, forKey: .index)
        seconds = try container.decode(Double.self, forKey: .seconds)
        audio = try container.decodeIfPresent(AudioWork.self, forKey: .audio) ?? .withChunkZero
    }

    /// The audio task of a plan of `seconds` chunks; its chunk 0 is made with `.apart`.
    public static func audioTask(seconds: Double) -> ChunkSelection {
        ChunkSelection(index: 0, seconds: seconds, audio: .only)
    }

    /// This run encodes the whole file's audio (chunk 0 with it, or the audio task).
    /// With `.preview`, chunk 0 encodes some of it (`ChunkRun.previewsAudio`).
    var encodesAudio: Bool { audio == .only || (index == 0 && (audio == .withChunkZero || audio == .preview)) }
}
