/// The container of the media segments.
public enum SegmentFormat: String, Sendable, Codable, CaseIterable {
    /// Fragmented MP4 (CMAF): one `init.mp4` plus `.m4s` fragments. The default:
    /// one file format for HLS and DASH, and smaller overhead than TS.
    case fmp4
    /// MPEG-2 transport stream `.ts` segments, for old players.
    case mpegts = "ts"

    var muxerName: String { self == .fmp4 ? "mp4" : "mpegts" }
    var segmentExtension: String { self == .fmp4 ? "m4s" : "ts" }
    var initializationName: String? { self == .fmp4 ? "init.mp4" : nil }
}
