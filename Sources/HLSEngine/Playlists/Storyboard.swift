import Foundation

/// The storyboard's layout and its WebVTT index, a pure value: small frames (`tileWidth`
/// wide, one every `interval` seconds) packed row by row into JPEG sheets of `columns` x
/// `rows`, and `storyboard.vtt`, whose cues map each interval to its tile as
/// `storyboard/sheet_N.jpg#xywh=x,y,w,h` (the media-fragment convention PeerTube, Mux and
/// Bitmovin use for scrubbing previews).
public struct Storyboard: Sendable, Equatable {
    public static let indexName = "storyboard.vtt"
    public static let folder = "storyboard"
    /// At most this many tiles (11 hours at 2 s): a bound on what a hostile clock can ask.
    public static let maxTiles = 20_000

    public var tileWidth: Int
    public var tileHeight: Int
    public var columns: Int
    public var rows: Int
    public var interval: Double

    public init(tileWidth: Int, tileHeight: Int, columns: Int = 10, rows: Int = 10, interval: Double = 2) {
        self.tileWidth = tileWidth
        self.tileHeight = tileHeight
        self.columns = max(1, columns)
        self.rows = max(1, rows)
        self.interval = interval.isFinite && interval > 0 ? interval : 2
    }

    /// Tiles of `width` (even) and the picture's upright aspect.
    public init(pictureWidth: Int, pictureHeight: Int, tileWidth: Int = 160, interval: Double = 2) {
        let width = max(2, tileWidth / 2 * 2)
        let aspect = pictureWidth > 0 && pictureHeight > 0 ? Double(pictureHeight) / Double(pictureWidth) : 9.0 / 16
        let height = max(2, min(4 * width, Int((Double(width) * aspect / 2).rounded()) * 2))
        self.init(tileWidth: width, tileHeight: height, interval: interval)
    }

    public var tilesPerSheet: Int { columns * rows }

    public static func sheetName(_ index: Int) -> String { "\(folder)/sheet_\(index).jpg" }

    /// Where tile `index` sits: its sheet and its rectangle there.
    public func place(_ index: Int) -> (sheet: Int, x: Int, y: Int) {
        let within = index % tilesPerSheet
        return (index / tilesPerSheet, within % columns * tileWidth, within / columns * tileHeight)
    }

    /// The WebVTT index of `tiles` tiles over `duration` seconds: one cue per tile, the
    /// last ending with the video.
    public func index(tiles: Int, duration: Double) -> String {
        var text = "WEBVTT\n"
        for tile in 0..<max(0, tiles) {
            let start = Double(tile) * interval
            let end = tile == tiles - 1 ? max(duration, start + 0.001) : Double(tile + 1) * interval
            let place = place(tile)
            text += "\n\(Self.timestamp(start)) --> \(Self.timestamp(end))\n"
            text += "\(Self.sheetName(place.sheet))#xywh=\(place.x),\(place.y),\(tileWidth),\(tileHeight)\n"
        }
        return text
    }

    /// `hh:mm:ss.mmm`.
    static func timestamp(_ seconds: Double) -> String {
        let milliseconds = Int((max(0, min(seconds, 359_999)) * 1000).rounded())
        return String(format: "%02d:%02d:%02d.%03d", milliseconds / 3_600_000, milliseconds / 60_000 % 60,
                      milliseconds / 1000 % 60, milliseconds % 1000)
    }
}
