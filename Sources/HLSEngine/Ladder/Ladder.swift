/// Chooses the renditions for a source. Pure arithmetic: unit-tested with no media.
///
/// The rules:
/// - "Np" means N is the short side of the *displayed* picture (rotation applied,
///   pixels made square), so a portrait 1080x1920 source gives 360x640, 720x1280, 1080x1920.
/// - The long side is N x long/short rounded to the nearest even number, halves up
///   (what `scale=-2:N` does), which keeps the displayed aspect within 1%.
/// - Rungs above the source's short side are skipped: never upscale.
/// - A source smaller than every rung gets one rendition at its own size, each side
///   rounded to the nearest even number.
public enum Ladder {
    /// The default ladder's short sides.
    public static let defaultRungs = [360, 720, 1080]

    /// Video bit rates for well-known rungs (bits per second).
    static let bitrateTable: [Int: Int] = [
        240: 400_000, 360: 800_000, 480: 1_400_000, 540: 2_000_000,
        720: 2_800_000, 1080: 5_000_000, 1440: 8_000_000, 2160: 14_000_000,
    ]

    /// The renditions for a source of `geometry`, lowest first.
    public static func renditions(for geometry: DisplayGeometry, rungs: [Int] = defaultRungs) -> [Rendition] {
        let shortSide = geometry.shortSide
        let longSide = max(geometry.displayWidth, geometry.displayHeight)
        let fitting = Set(rungs.filter { $0 > 0 && Double($0) <= shortSide + 0.001 }).sorted()

        guard !fitting.isEmpty else {
            let width = evenRounded(geometry.displayWidth)
            let height = evenRounded(geometry.displayHeight)
            let short = min(width, height)
            return [Rendition(name: "\(short)p", width: width, height: height,
                              videoBitrate: bitrate(width: width, height: height, shortSide: short))]
        }
        return fitting.map { rung in
            let long = evenRounded(Double(rung) * longSide / shortSide)
            let (width, height) = geometry.isPortrait ? (rung, long) : (long, rung)
            return Rendition(name: "\(rung)p", width: width, height: height,
                             videoBitrate: bitrate(width: width, height: height, shortSide: rung))
        }
    }

    /// The rung `download.mp4` holds: the largest whose short side is at most `preferred`,
    /// else the smallest (a ladder whose every rung is larger). nil without renditions.
    public static func downloadRendition(_ renditions: [Rendition], preferred: Int) -> Rendition? {
        let shortSide = { (rendition: Rendition) in min(rendition.width, rendition.height) }
        return renditions.filter { shortSide($0) <= preferred }.max { shortSide($0) < shortSide($1) }
            ?? renditions.min { shortSide($0) < shortSide($1) }
    }

    /// Nearest even integer, halves up, never below 2.
    public static func evenRounded(_ value: Double) -> Int {
        max(2, Int((value / 2).rounded(.toNearestOrAwayFromZero)) * 2)
    }

    /// The table's rate for a known rung; otherwise 800 kbit/s scaled by pixel count
    /// against 640x360, so an unusual size gets a proportionate budget.
    static func bitrate(width: Int, height: Int, shortSide: Int) -> Int {
        if let known = bitrateTable[shortSide] { return known }
        let scaled = 800_000.0 * Double(width * height) / Double(640 * 360)
        return max(200_000, Int(scaled / 1000) * 1000)
    }
}
