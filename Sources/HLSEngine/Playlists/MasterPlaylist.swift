import Foundation

/// The multivariant ("master") playlist (RFC 8216 §4.3.4), lowest rung first.
public struct MasterPlaylist: Sendable, Equatable {
    public struct Variant: Sendable, Equatable {
        public var uri: String
        /// Peak segment bit rate, measured (RFC 8216 §4.3.4.2).
        public var bandwidth: Int
        /// Average bit rate over the whole variant, measured.
        public var averageBandwidth: Int
        /// `avc1.PPCCLL` from the real SPS, plus `mp4a.40.2` when the variant has audio.
        public var codecs: String
        public var width: Int
        public var height: Int
        public var frameRate: Double

        public init(uri: String, bandwidth: Int, averageBandwidth: Int, codecs: String,
                    width: Int, height: Int, frameRate: Double) {
            self.uri = uri
            self.bandwidth = bandwidth
            self.averageBandwidth = averageBandwidth
            self.codecs = codecs
            self.width = width
            self.height = height
            self.frameRate = frameRate
        }
    }

    /// An audio track of a ladder whose segments carry one track each (a DASH ladder, or a
    /// source with more than one audio track): an EXT-X-MEDIA rendition in the one AUDIO
    /// group every variant names.
    public struct Audio: Sendable, Equatable {
        public static let groupID = "audio"
        public var uri: String
        public var channels: Int
        /// ISO 639 from the source's `language` tag; nil when it had none, written "und"
        /// (undetermined, RFC 5646), as the MPD and the API say it.
        public var language: String?
        /// Unique in the group (RFC 8216 §4.3.4.1.1).
        public var name: String
        /// An audio description (`AudioTrack.describesVideo`).
        public var describesVideo: Bool

        public init(uri: String, channels: Int, language: String? = nil, name: String = "Audio", describesVideo: Bool = false) {
            self.uri = uri
            self.channels = channels
            self.language = language
            self.name = name
            self.describesVideo = describesVideo
        }

        /// What a player asked for an audio description looks for.
        static let describesVideoCharacteristic = "public.accessibility.describes-video"

        func mediaTag(isDefault: Bool) -> String {
            let quoted = name.replacingOccurrences(of: "\"", with: "'").replacingOccurrences(of: "\n", with: " ")
                .replacingOccurrences(of: "\r", with: " ")
            return "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"\(Self.groupID)\",LANGUAGE=\"\(language ?? "und")\",NAME=\"\(quoted)\","
                + "DEFAULT=\(isDefault ? "YES" : "NO"),AUTOSELECT=YES,CHANNELS=\"\(channels)\","
                + (describesVideo ? "CHARACTERISTICS=\"\(Self.describesVideoCharacteristic)\"," : "") + "URI=\"\(uri)\""
        }
    }

    /// A text track (WebVTT) of the ladder: an EXT-X-MEDIA rendition of TYPE=SUBTITLES in
    /// one group that every variant names (RFC 8216 §4.3.4.1).
    public struct Subtitles: Sendable, Equatable {
        public static let groupID = "subs"
        public var uri: String
        public var language: String
        public var name: String
        public var isDefault: Bool
        public var isForced: Bool
        /// Captions for the deaf and hard of hearing (`SidecarCaptions.isHearingImpaired`).
        public var isHearingImpaired: Bool

        public init(uri: String, language: String, name: String, isDefault: Bool = false, isForced: Bool = false,
                    isHearingImpaired: Bool = false) {
            self.uri = uri
            self.language = language
            self.name = name
            self.isDefault = isDefault
            self.isForced = isForced
            self.isHearingImpaired = isHearingImpaired
        }

        /// What a player asked for captions for the deaf and hard of hearing looks for.
        static let hearingImpairedCharacteristics =
            "public.accessibility.transcribes-spoken-dialog,public.accessibility.describes-music-and-sound"

        /// Its `EXT-X-MEDIA` line.
        public var mediaTag: String {
            // NAME is quoted text: a quote or a line break in it would end the attribute.
            let quoted = name.replacingOccurrences(of: "\"", with: "'").replacingOccurrences(of: "\n", with: " ")
                .replacingOccurrences(of: "\r", with: " ")
            return "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"\(Self.groupID)\",LANGUAGE=\"\(language)\","
                + "NAME=\"\(quoted)\",DEFAULT=\(isDefault ? "YES" : "NO"),AUTOSELECT=YES,"
                + "FORCED=\(isForced ? "YES" : "NO"),"
                + (isHearingImpaired ? "CHARACTERISTICS=\"\(Self.hearingImpairedCharacteristics)\"," : "") + "URI=\"\(uri)\""
        }
    }

    public var variants: [Variant]
    public var subtitles: [Subtitles] = []
    /// The same version as the media playlists, so a client sees one protocol level.
    public var version: Int
    /// The default audio track; nil when the audio is muxed into every variant's segments.
    public var audio: Audio?
    /// The source's other audio tracks (a dub, a commentary), in the same group.
    public var alternateAudio: [Audio] = []

    public init(variants: [Variant], version: Int, audio: Audio? = nil) {
        self.variants = variants
        self.version = version
        self.audio = audio
    }

    public func render() -> String {
        var lines = ["#EXTM3U", "#EXT-X-VERSION:\(version)", "#EXT-X-INDEPENDENT-SEGMENTS"]
        if let audio {
            lines.append(audio.mediaTag(isDefault: true))
            lines += alternateAudio.map { $0.mediaTag(isDefault: false) }
        }
        lines += subtitles.map(\.mediaTag)
        for variant in variants.sorted(by: { ($0.bandwidth, $0.height) < ($1.bandwidth, $1.height) }) {
            var attributes = [
                "BANDWIDTH=\(variant.bandwidth)",
                "AVERAGE-BANDWIDTH=\(variant.averageBandwidth)",
                "CODECS=\"\(variant.codecs)\"",
                "RESOLUTION=\(variant.width)x\(variant.height)",
                "FRAME-RATE=\(String(format: "%.3f", variant.frameRate))",
            ]
            if audio != nil { attributes.append("AUDIO=\"\(Audio.groupID)\"") }
            if !subtitles.isEmpty { attributes.append("SUBTITLES=\"\(Subtitles.groupID)\"") }
            lines.append("#EXT-X-STREAM-INF:" + attributes.joined(separator: ","))
            lines.append(variant.uri)
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
