import Foundation

/// What a progressive transcode publishes, in order of completion: segments as each is
/// closed, and once every rung has its first segment, the ladder's early description.
/// `Transcoder.publications` reports them; a supervised child sends them to its parent.
public enum Publication: Sendable, Codable, Equatable {
    case segment(PublishedSegment)
    /// Every rung has a segment: a progressive master can be written.
    case playable([ProgressiveLadder.Variant])
    /// The rendition has published its last segment while others go on (a still picture's
    /// rungs, long before its sound ends): the others' playlists no longer wait for it.
    case ended(String)
}

/// One finished segment of one rendition. `index` orders it: segments may be reported by
/// several encoders, and in any order (split-and-stitch).
public struct PublishedSegment: Sendable, Codable, Equatable {
    public var rendition: String
    public var index: Int
    /// Source seconds of its first frame (a rung's; nil for audio): where a caption track's
    /// segment of the same index starts.
    public var start: Double?
    /// Relative to the rendition's folder (`segment_00003.m4s`).
    public var uri: String
    /// Seconds: until the next segment starts (the last: until its last frame ends).
    public var duration: Double
    public var bytes: Int64
    /// Its file (and its rendition's `init.mp4`) is written again under the same name before
    /// the video is finished: audio published at the source's level, ahead of the loudness
    /// gain, which the normalised encode (or a chunked video's audio task) replaces. A store
    /// keeps such an object out of caches, or a viewer who started early would keep hearing
    /// the source's level after the video is done (`HLSContentType.provisional`).
    public var provisional: Bool?
    /// An abandoned attempt may have reported this name already, for a file it wrote
    /// differently: the audio task's spans, when one met what the sample table had not said
    /// and the task went back to one encoder (`AudioTaskManifest.spansDeclined`). A store that
    /// keeps the first copy of a name writes this one over it.
    public var replaces: Bool?

    public init(rendition: String, index: Int, uri: String, duration: Double, bytes: Int64, start: Double? = nil,
                provisional: Bool? = nil, replaces: Bool? = nil) {
        self.rendition = rendition
        self.index = index
        self.start = start
        self.provisional = provisional
        self.replaces = replaces
        self.uri = uri
        self.duration = duration
        self.bytes = bytes
    }
}

/// The progressive ladder: an EVENT playlist per rendition (RFC 8216 §6.2.1: it only
/// grows, then ends with EXT-X-ENDLIST) and a master that names them, under names of
/// their own so that `master.m3u8` and the VOD playlists never change type.
///
/// A pure value: the engine renders its local files from it, and the service renders the
/// objects it stores from the segments it has stored, so a playlist never names a
/// segment that is not there yet. A playlist holds only the contiguous run of segments
/// from 0: a segment that arrives early waits for the ones before it. And every rung's
/// playlist names the same segments (as many as the slowest rung has), so a player that
/// switches rungs never lands on a playlist that ends before the time it plays (Chromium
/// fails such a switch). Once ended, each playlist names all of its rendition's run: the
/// sound of a still picture goes on past the picture, and a picture past its sound.
public struct ProgressiveLadder: Sendable, Equatable {
    /// The progressive master, beside `master.m3u8`.
    public static let masterName = "live.m3u8"
    /// Each rendition's EVENT playlist, beside its `index.m3u8`.
    public static let playlistName = "live.m3u8"

    /// A rung as the early master describes it. BANDWIDTH and AVERAGE-BANDWIDTH come from
    /// the configured VBV peak and target rate, "a representative period" (RFC 8216
    /// §4.3.4.2), as no segment has been measured yet at that point.
    public struct Variant: Sendable, Codable, Equatable {
        public var name: String
        public var width: Int
        public var height: Int
        public var bandwidth: Int
        public var averageBandwidth: Int
        public var codecs: String
        public var frameRate: Double
        /// Set for an audio rendition of a ladder with separate audio (its EXT-X-MEDIA), nil
        /// for a video rung.
        public var channels: Int?
        /// An audio rendition's LANGUAGE (nil: none) and NAME (nil: "Audio") in the master.
        public var language: String?
        public var audioName: String?
        /// An audio rendition that is an audio description (`AudioTrack.describesVideo`).
        public var describesVideo: Bool?
        /// Set for a caption track (its EXT-X-MEDIA:TYPE=SUBTITLES), whose `name` is its folder
        /// ("captions/eng"): nil for a rung or an audio rendition.
        public var captions: Captions?

        /// A caption track of the early ladder: its WebVTT segments follow the rungs'.
        public struct Captions: Sendable, Codable, Equatable {
            public var language: String
            public var name: String
            public var isForced: Bool
            /// For the deaf and hard of hearing (`SidecarCaptions.isHearingImpaired`).
            public var isHearingImpaired: Bool?

            public init(language: String, name: String, isForced: Bool, isHearingImpaired: Bool? = nil) {
                self.language = language
                self.name = name
                self.isForced = isForced
                self.isHearingImpaired = isHearingImpaired
            }
        }

        public init(name: String, width: Int, height: Int, bandwidth: Int, averageBandwidth: Int, codecs: String,
                    frameRate: Double, channels: Int? = nil, language: String? = nil, audioName: String? = nil,
                    describesVideo: Bool? = nil, captions: Captions? = nil) {
            self.name = name
            self.width = width
            self.height = height
            self.bandwidth = bandwidth
            self.averageBandwidth = averageBandwidth
            self.codecs = codecs
            self.frameRate = frameRate
            self.channels = channels
            self.language = language
            self.audioName = audioName
            self.describesVideo = describesVideo
            self.captions = captions
        }
    }

    /// The rungs, lowest first; `include` adds one that a publisher learns of late.
    public private(set) var renditions: [String]
    /// The caption tracks' folders ("captions/eng"). They are not renditions: their segments
    /// are written as the rungs' are published (one WebVTT file per video segment, the
    /// same names as the VOD playlist's), so their playlists name what the rungs' name.
    public private(set) var captions: [String] = []
    /// The rung whose segments the caption tracks follow (every rung cuts at the same times).
    public private(set) var captionRung: String?
    /// The EXT-X-MAP URI (fMP4), nil for MPEG-TS.
    public let initializationURI: String?
    /// Fixed for the playlist's life (a live playlist's target may not change): the
    /// segment length rounded up, plus one for a segment stretched by a late IDR.
    public let targetDuration: Int
    private var received: [String: [Int: PublishedSegment]] = [:]
    private var published: [String: Int] = [:]
    /// Renditions that have published their last segment (`end`).
    public private(set) var ended: Set<String> = []

    public init(renditions: [String], initializationURI: String?, segmentDuration: Double) {
        self.renditions = renditions
        self.initializationURI = initializationURI
        let rounded = segmentDuration.isFinite ? Int(segmentDuration.rounded(.up)) : 2
        self.targetDuration = max(1, min(rounded, 60)) + 1
    }

    /// Adds a rung with no segment yet (a store that learns the ladder from its segments).
    public mutating func include(_ rendition: String) {
        if !renditions.contains(rendition) { renditions.append(rendition) }
    }

    /// Adds a caption track by its folder; its segments follow `rung`'s.
    public mutating func includeCaptions(_ folder: String, following rung: String) {
        if !captions.contains(folder) { captions.append(folder) }
        captionRung = rung
    }

    /// The file of a caption track's segment `index`, relative to the ladder.
    public static func captionSegment(_ folder: String, _ index: Int) -> String {
        "\(folder)/\(SubtitleRendition.segmentName(index))"
    }

    /// Adds a segment; returns whether the playlists grew (every rung now has one more
    /// segment in common). A repeat of a known index changes nothing.
    @discardableResult
    public mutating func add(_ segment: PublishedSegment) -> Bool {
        guard renditions.contains(segment.rendition), segment.index >= 0, !has(segment.rendition, segment.index) else {
            return false
        }
        let before = publishedCount
        received[segment.rendition, default: [:]][segment.index] = segment
        var count = published[segment.rendition] ?? 0
        while received[segment.rendition]?[count] != nil { count += 1 }
        published[segment.rendition] = count
        return publishedCount > before
    }

    /// Whether segment `index` of `rendition` was added (it may still wait for others).
    public func has(_ rendition: String, _ index: Int) -> Bool { received[rendition]?[index] != nil }

    /// The rendition has published its last segment: its playlist ends with what it has,
    /// and the others grow without it (a still picture's sound goes on past its picture).
    /// Returns whether the playlists grew.
    @discardableResult
    public mutating func end(_ rendition: String) -> Bool {
        guard renditions.contains(rendition), !ended.contains(rendition) else { return false }
        let before = publishedCount
        ended.insert(rendition)
        return publishedCount > before
    }

    /// How many segments every playlist names: the contiguous run the slowest rung has
    /// (one that has ended holds no other back, unless all have).
    public var publishedCount: Int {
        let going = renditions.filter { !ended.contains($0) }
        return (going.isEmpty ? renditions : going).map { published[$0] ?? 0 }.min() ?? 0
    }

    /// Every rendition has its first segment.
    private var everyRenditionHasOne: Bool { renditions.allSatisfy { (published[$0] ?? 0) > 0 } }

    /// The rendition's playlist: segments 0 … `publishedCount`-1, or all of an ended one's.
    public func segments(of rendition: String) -> [PublishedSegment] {
        if ended.contains(rendition) { return allSegments(of: rendition) }
        return (0..<publishedCount).compactMap { received[rendition]?[$0] }
    }

    /// The rendition's whole contiguous run from 0, which its ended playlist names. Before,
    /// an ended playlist named only what every rendition had, so a still picture's early
    /// ladder ended its sound with the picture's one segment, and a video whose sound stops
    /// early lost the picture past the sound.
    public func allSegments(of rendition: String) -> [PublishedSegment] {
        (0..<(published[rendition] ?? 0)).compactMap { received[rendition]?[$0] }
    }

    /// Every rung has its first segment.
    public var isPlayable: Bool { publishedCount > 0 && everyRenditionHasOne }

    /// The rendition's EVENT playlist; `ended` adds EXT-X-ENDLIST (no segment will follow)
    /// and names all of the rendition's segments (`allSegments`). A caption track's names a
    /// WebVTT segment for each segment of the first rung.
    public func eventPlaylist(_ rendition: String, ended: Bool) -> String {
        let isCaptions = captions.contains(rendition)
        var lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:\(initializationURI == nil || isCaptions ? 3 : 6)",
            "#EXT-X-TARGETDURATION:\(targetDuration)",
            "#EXT-X-MEDIA-SEQUENCE:0",
            "#EXT-X-PLAYLIST-TYPE:EVENT",
            // Start at the beginning, not near the live edge (RFC 8216 §4.3.5.2).
            "#EXT-X-START:TIME-OFFSET=0,PRECISE=YES",
            "#EXT-X-INDEPENDENT-SEGMENTS",
        ]
        if let initializationURI, !isCaptions { lines.append("#EXT-X-MAP:URI=\"\(initializationURI)\"") }
        let ended = ended || self.ended.contains(rendition) || (isCaptions && self.ended.contains(captionRung ?? ""))
        let run = { (rendition: String) in ended ? self.allSegments(of: rendition) : self.segments(of: rendition) }
        let named = isCaptions
            ? run(captionRung ?? "").map { ($0.duration, SubtitleRendition.segmentName($0.index)) }
            : run(rendition).map { ($0.duration, $0.uri) }
        for (duration, uri) in named {
            lines.append("#EXTINF:\(String(format: "%.6f", duration)),")
            lines.append(uri)
        }
        if ended { lines.append("#EXT-X-ENDLIST") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The early master over the EVENT playlists: every audio track, the first the default.
    public func master(_ variants: [Variant]) -> String {
        let tracks = variants.filter { $0.channels != nil }.map { track in
            MasterPlaylist.Audio(uri: "\(track.name)/\(Self.playlistName)", channels: track.channels ?? 2,
                                 language: track.language, name: track.audioName ?? "Audio", describesVideo: track.describesVideo == true)
        }
        var master = MasterPlaylist(
            variants: variants.filter { $0.channels == nil && $0.captions == nil }.map { variant in
                MasterPlaylist.Variant(uri: "\(variant.name)/\(Self.playlistName)", bandwidth: variant.bandwidth,
                                       averageBandwidth: variant.averageBandwidth, codecs: variant.codecs,
                                       width: variant.width, height: variant.height, frameRate: variant.frameRate)
            },
            version: initializationURI == nil ? 3 : 6,
            audio: tracks.first
        )
        master.alternateAudio = Array(tracks.dropFirst())
        master.subtitles = variants.compactMap { variant in
            variant.captions.map {
                MasterPlaylist.Subtitles(uri: "\(variant.name)/\(Self.playlistName)", language: $0.language, name: $0.name,
                                         isForced: $0.isForced, isHearingImpaired: $0.isHearingImpaired == true)
            }
        }
        return master.render()
    }
}
