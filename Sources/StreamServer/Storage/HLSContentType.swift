import Foundation

/// Content-Type and Cache-Control of HLS objects.
public struct HLSContentType: Sendable, Equatable {
    public var contentType: String
    public var cacheControl: String

    public static func forPath(_ path: String) -> HLSContentType {
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
        default: HLSContentType(contentType: "application/octet-stream", cacheControl: "no-cache")
        }
    }
}
