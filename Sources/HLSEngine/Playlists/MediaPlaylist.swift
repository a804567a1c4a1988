import Foundation

/// A variant's media playlist (RFC 8216 §4.3.3), rendered by a pure function so it
/// can be compared byte for byte in tests.
public struct MediaPlaylist: Sendable, Equatable {
    public struct Segment: Sendable, Equatable {
        public var uri: String
        /// The real duration, measured from the media (RFC 8216 §4.3.2.1).
        public var duration: Double
        public init(uri: String, duration: Double) {
            self.uri = uri
            self.duration = duration
        }
    }

    /// The `EXT-X-MAP` URI for fMP4 (`init.mp4`); nil for MPEG-TS.
    public var initializationURI: String?
    public var segments: [Segment]

    public init(initializationURI: String?, segments: [Segment]) {
        self.initializationURI = initializationURI
        self.segments = segments
    }

    /// RFC 8216 §4.3.3.1: every EXTINF rounded to the nearest integer must be <= this.
    public var targetDuration: Int {
        max(1, segments.map { Int($0.duration.rounded(.toNearestOrAwayFromZero)) }.max() ?? 1)
    }

    /// RFC 8216 §7: EXT-X-MAP in a playlist without I-FRAMES-ONLY needs version 6;
    /// decimal EXTINF needs version 3.
    public var version: Int { initializationURI == nil ? 3 : 6 }

    public func render() -> String {
        var lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:\(version)",
            "#EXT-X-TARGETDURATION:\(targetDuration)",
            "#EXT-X-MEDIA-SEQUENCE:0",
            "#EXT-X-PLAYLIST-TYPE:VOD",
            "#EXT-X-INDEPENDENT-SEGMENTS",
        ]
        if let initializationURI { lines.append("#EXT-X-MAP:URI=\"\(initializationURI)\"") }
        for segment in segments {
            lines.append("#EXTINF:\(String(format: "%.6f", segment.duration)),")
            lines.append(segment.uri)
        }
        lines.append("#EXT-X-ENDLIST")
        return lines.joined(separator: "\n") + "\n"
    }
}
