import Foundation

/// A publication crosses a trust boundary: the supervised child that sends it reads hostile
/// media, and the service stores files by the names it carries (and a list in Redis, which
/// any client can write, carries the audio task's). A name that leaves the ladder's folder
/// (`../../etc/passwd`) would make the service upload a file of its own host, so every name
/// is checked before it is used.
extension Publication {
    /// Every name a plain one inside the ladder (a caption track's folder is `captions/LANG`),
    /// every figure finite.
    public var isWellFormed: Bool {
        switch self {
        case .segment(let segment): segment.isWellFormed
        case .ended(let rendition): (try? LadderStitcher.checkPlainNames([rendition], in: "a publication")) != nil
        case .playable(let variants):
            variants.allSatisfy { variant in
                let parts = variant.name.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
                return parts.count <= 2 && (try? LadderStitcher.checkPlainNames(parts, in: "a publication")) != nil
            }
        }
    }
}

extension PublishedSegment {
    /// Its rendition and file each one plain name, its index and timing in range.
    public var isWellFormed: Bool {
        index >= 0 && duration.isFinite && duration >= 0 && (start?.isFinite ?? true)
            && (try? LadderStitcher.checkPlainNames([rendition, uri], in: "a publication")) != nil
    }
}
