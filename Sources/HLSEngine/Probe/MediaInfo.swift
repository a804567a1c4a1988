/// What `MediaProbe` learns about a file. Encoded as JSON by `vstream probe --json`.
public struct MediaInfo: Sendable, Codable, Equatable {
    public struct Video: Sendable, Codable, Equatable {
        public var streamIndex: Int
        public var codec: String
        public var profile: String?
        public var pixelFormat: String
        public var bitDepth: Int
        public var geometry: DisplayGeometry
        /// Displayed size rounded to whole pixels.
        public var displayWidth: Int
        public var displayHeight: Int
        /// Average frames per second (frames over duration).
        public var frameRate: Double
        /// The stream's base rate (r_frame_rate); differs from `frameRate` for VFR.
        public var baseFrameRate: Double
        public var isVariableFrameRate: Bool
        /// Exact number of video frames.
        public var frameCount: Int
        /// Where `frameCount` came from: "container" (sample table) or "packets" (counted).
        public var frameCountSource: String
        public var startSeconds: Double
        public var durationSeconds: Double?

        /// Whether a file whose container promised `frameCount` frames, of which only
        /// `framesRead` could be read, was cut off: more than max(2, 1%) missing. A few
        /// frames are let go (a damaged packet at the end); a count the file did not declare
        /// (counted from its packets) proves nothing.
        func isCutOff(framesRead: Int) -> Bool {
            frameCountSource == "container" && frameCount > 0 && framesRead < frameCount - max(2, frameCount / 100)
        }
    }

    public struct Audio: Sendable, Codable, Equatable {
        public var streamIndex: Int
        public var codec: String
        public var sampleRate: Int
        public var channels: Int
        public var channelLayout: String
        public var startSeconds: Double
    }

    /// One audio or subtitle stream of the source, as a platform lists it to a viewer.
    public struct Track: Sendable, Codable, Equatable {
        public enum Kind: String, Sendable, Codable { case audio, subtitle }
        public var streamIndex: Int
        public var kind: Kind
        public var codec: String
        /// The stream's `language` tag (ISO 639), "und" when it has none.
        public var language: String
        public var title: String?
        /// The source's dispositions: the track a player picks by default, one shown even
        /// with captions off (forced), one for the deaf and hard of hearing (captions that
        /// describe sounds too), one for the blind and partially sighted (audio description).
        public var isDefault: Bool
        public var isForced: Bool
        public var isHearingImpaired: Bool
        public var isVisualImpaired: Bool
        /// Audio: its channels. Subtitles: whether it is text (mov_text, subrip, ass, webvtt)
        /// rather than pictures (PGS, DVB).
        public var channels: Int?
        public var isText: Bool?
    }

    public var path: String
    public var format: String
    public var sizeBytes: Int64
    public var durationSeconds: Double
    public var bitRate: Int64
    public var video: Video
    public var audio: Audio?
    /// Every audio and subtitle stream, in the file's order.
    public var tracks: [Track]
    public var streamCount: Int
}
