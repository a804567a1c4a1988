import Foundation
import HLSEngine

/// Content-Type and Cache-Control of HLS objects (and the MP4 rendition's disposition).
public struct HLSContentType: Sendable, Equatable {
    public var contentType: String
    public var cacheControl: String
    /// `download.mp4` in a bucket: a link to it saves the file; a `<video>` still plays it
    /// (media loads ignore the header).
    public var contentDisposition: String? = nil

    /// An object that will be written again under the same name before its video is READY
    /// (`PublishedSegment.provisional`: audio at the source's level, before the loudness
    /// gain), or any media served while its video transcodes: no cache may keep it. Media
    /// is otherwise `immutable`, so a browser or CDN that kept the early copy would serve it
    /// for a year, and a viewer who started early would hear the source's level after READY.
    public var provisional: HLSContentType {
        var type = self
        type.cacheControl = Self.noCache
        return type
    }

    static let noCache = "no-cache"

    /// Whether a cache may keep the object for good (media, and the MP4 rendition).
    public var isImmutable: Bool { cacheControl.hasSuffix("immutable") }

    public static func forPath(_ path: String) -> HLSContentType {
        if path == TranscodeResult.Download.fileName {
            return HLSContentType(contentType: "video/mp4", cacheControl: "public, max-age=31536000, immutable",
                                  contentDisposition: #"attachment; filename="video.mp4""#)
        }
        // A progressive playlist grows: a player must see each new segment at once.
        if (path as NSString).lastPathComponent == "live.m3u8" {
            return HLSContentType(contentType: "application/vnd.apple.mpegurl", cacheControl: "no-cache")
        }
        return switch (path as NSString).pathExtension.lowercased() {
        case "m3u8": HLSContentType(contentType: "application/vnd.apple.mpegurl", cacheControl: "public, max-age=60")
        case "m4s": HLSContentType(contentType: "video/iso.segment", cacheControl: "public, max-age=31536000, immutable")
        case "mp4": HLSContentType(contentType: "video/mp4", cacheControl: "public, max-age=31536000, immutable")
        case "ts": HLSContentType(contentType: "video/mp2t", cacheControl: "public, max-age=31536000, immutable")
        case "jpg", "jpeg": HLSContentType(contentType: "image/jpeg", cacheControl: "public, max-age=3600")
        case "vtt": HLSContentType(contentType: "text/vtt; charset=utf-8", cacheControl: "public, max-age=3600")
        case "mpd": HLSContentType(contentType: "application/dash+xml", cacheControl: "public, max-age=60")
        default: HLSContentType(contentType: "application/octet-stream", cacheControl: "no-cache")
        }
    }
}
