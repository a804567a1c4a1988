/// What a finished transcode produced.
public struct TranscodeResult: Sendable, Codable, Equatable {
    public struct RenditionResult: Sendable, Codable, Equatable {
        public var rendition: Rendition
        /// Relative to the output directory, e.g. "720p/index.m3u8".
        public var playlist: String
        public var codecs: String
        /// Peak segment bit rate and whole-variant average, measured (bits per second).
        public var peakBandwidth: Int
        public var averageBandwidth: Int
        public var frameCount: Int
        public var segmentCount: Int
        /// Bytes of every file of the variant, initialization segment included.
        public var totalBytes: Int64
        public var durationSeconds: Double
        public var frameRate: Double
    }

    /// `download.mp4`: one rung as a progressive MP4 (remuxed from its segments' packets).
    public struct Download: Sendable, Codable, Equatable {
        public static let fileName = "download.mp4"
        /// Relative to the output: "download.mp4".
        public var file: String
        /// The rung it holds, e.g. "720p".
        public var rendition: String
        public var bytes: Int64
    }

    /// A caption track of the ladder (sidecar, or the source's own text subtitles).
    public struct Caption: Sendable, Codable, Equatable {
        public var language: String
        public var name: String
        /// The whole WebVTT file, relative to the output: "captions/eng.vtt".
        public var file: String
        /// The SUBTITLES rendition's playlist: "captions/eng/index.m3u8".
        public var playlist: String
        public var forced: Bool
        /// For the deaf and hard of hearing (`SidecarCaptions.isHearingImpaired`); nil otherwise.
        public var hearingImpaired: Bool?
    }

    /// Absolute path of `master.m3u8`.
    public var masterPlaylist: String
    public var durationSeconds: Double
    public var sourceFrames: Int
    public var hasAudio: Bool
    public var segmentFormat: SegmentFormat
    public var renditions: [RenditionResult]
    /// "poster.jpg" (relative to the output) when one was written.
    public var poster: String?
    /// "storyboard.vtt" (relative to the output) when the storyboard was written.
    public var storyboard: String? = nil
    public var wallSeconds: Double
    /// Packets the decoders rejected as corrupt and skipped, and gaps in the audio
    /// (packets lost) filled with silence. Both 0 for a sound file.
    public var corruptPackets: Int = 0
    public var filledAudioGaps: Int = 0
    /// The MP4 rendition, when one was asked for (`TranscodeOptions.downloadRung`).
    public var download: Download? = nil
    /// "manifest.mpd" (relative to the output) for a DASH ladder (`TranscodeOptions.dash`).
    public var dashManifest: String? = nil
    /// "chunk.json" (relative to the output) for one chunk of a split-and-stitch run
    /// (`TranscodeOptions.chunk`): its segments, for `LadderStitcher`. Such a run writes
    /// no playlist, and `masterPlaylist` is the manifest's path.
    public var chunkManifest: String? = nil
    /// The caption tracks, when there are any.
    public var captions: [Caption]? = nil
    /// Seconds the muxers added to every timestamp (media time = source time + this): the
    /// `X-TIMESTAMP-MAP` of a caption track added later (`LadderCaptions`).
    public var timelineShift: Double? = nil
    /// What of the source was left out or changed, and why ("subtitle stream 3 (hdmv_pgs_subtitle)
    /// is a bitmap, not text: skipped"), for the log; nil when nothing was.
    public var notes: [String]? = nil
    /// The audio renditions, the default first, when the audio is in renditions of its own
    /// (a DASH ladder, or a source with more than one audio track); nil when it is muxed.
    public var audioTracks: [AudioTrack]? = nil
    /// Loudness normalisation (`TranscodeOptions.loudness`): per audio track, the source's
    /// EBU R128 figures, the gain applied, and the encoder input's figures; nil when off.
    public var loudness: [Loudness.Track]? = nil
    /// Audio folders whose files changed after the early ladder published them: a
    /// progressive run publishes its audio at the source's level, then puts the normalised
    /// encode in its place (`NormalisedAudio`). A store that kept the early files stores
    /// these folders again. nil when none did.
    public var republishedAudio: [String]? = nil
}
