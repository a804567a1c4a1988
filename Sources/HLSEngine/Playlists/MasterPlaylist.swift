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

    public var variants: [Variant]
    /// The same version as the media playlists, so a client sees one protocol level.
    public var version: Int

    public init(variants: [Variant], version: Int) {
        self.variants = variants
        self.version = version
    }

    public func render() -> String {
        var lines = ["#EXTM3U", "#EXT-X-VERSION:\(version)", "#EXT-X-INDEPENDENT-SEGMENTS"]
        for variant in variants.sorted(by: { ($0.bandwidth, $0.height) < ($1.bandwidth, $1.height) }) {
            let attributes = [
                "BANDWIDTH=\(variant.bandwidth)",
                "AVERAGE-BANDWIDTH=\(variant.averageBandwidth)",
                "CODECS=\"\(variant.codecs)\"",
                "RESOLUTION=\(variant.width)x\(variant.height)",
                "FRAME-RATE=\(String(format: "%.3f", variant.frameRate))",
            ]
            lines.append("#EXT-X-STREAM-INF:" + attributes.joined(separator: ","))
            lines.append(variant.uri)
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
