import CAV
import Foundation

/// Takes the storyboard's small frames during the one decode (see `Storyboard`): the first
/// decoded frame at or after each interval is scaled to a tile, turned upright, and copied
/// into the sheet being filled; a full sheet becomes `storyboard/sheet_N.jpg`. `finish`
/// writes the last sheet and `storyboard.vtt`. On the decode thread: one small scale
/// every `interval` seconds, and a JPEG every `tilesPerSheet` tiles.
final class StoryboardWriter {
    let layout: Storyboard
    private let output: OutputDirectory
    private let rotation: Int
    private var scaler: Scaler?
    /// A tile in the source's orientation (before the quarter turn), and upright.
    private let tile: Frame
    private let upright: Frame?
    private var sheet: Frame
    private var tilesInSheet = 0
    private(set) var tiles = 0
    private var sheets = 0
    /// A chunk's writer (split and stitch) keeps each tile as raw YUV, named by its
    /// number in the whole video (`storyboard/tile_N.yuv`); the stitch packs the sheets.
    private let keepsTiles: Bool

    /// - Parameters:
    ///   - firstTile: the number of the first tile this writer may take (a chunk's; 0).
    ///   - keepsTiles: write raw tiles, not sheets (a chunk of a split-and-stitch run).
    init(layout: Storyboard, rotation: Int, output: OutputDirectory, firstTile: Int = 0, keepsTiles: Bool = false) throws {
        self.layout = layout
        self.output = output
        self.rotation = rotation
        self.tiles = firstTile
        self.keepsTiles = keepsTiles
        let quarterTurn = rotation == 90 || rotation == 270
        let width = Int32(layout.tileWidth), height = Int32(layout.tileHeight)
        tile = try Frame.video(width: quarterTurn ? height : width, height: quarterTurn ? width : height, format: AV_PIX_FMT_YUV420P)
        upright = rotation != 0 ? try Frame.video(width: width, height: height, format: AV_PIX_FMT_YUV420P) : nil
        sheet = try Self.blankSheet(layout, rows: layout.rows)
    }

    /// A decoded frame at `time` seconds from the first: becomes the next tile(s) when it
    /// reaches the next interval (a gap in the video repeats it, as a player would show it).
    func offer(_ frame: Frame, at time: Double) throws {
        guard time.isFinite, tiles < Storyboard.maxTiles, time >= Double(tiles) * layout.interval else { return }
        if scaler?.matches(frame) != true {
            scaler = try Scaler(from: (frame.width, frame.height, frame.pixelFormat),
                                to: (tile.width, tile.height, AV_PIX_FMT_YUV420P))
        }
        guard let scaler else { return }
        try scaler.scale(frame, into: tile)
        var picture = tile
        if let upright {
            FrameRotator.rotate(tile, clockwise: rotation, into: upright)
            picture = upright
        }
        while time >= Double(tiles) * layout.interval, tiles < Storyboard.maxTiles {
            if keepsTiles { try keep(picture) } else { try place(picture) }
        }
    }

    /// The raw tile's file (a chunk's), planes one after another.
    static func tilePath(_ index: Int) -> String { "\(Storyboard.folder)/tile_\(index).yuv" }

    private func keep(_ picture: Frame) throws {
        var bytes = Data()
        for plane: Int32 in 0..<3 {
            let shift = plane == 0 ? 0 : 1
            guard let source = picture.plane(plane) else { continue }
            for row in 0..<(layout.tileHeight >> shift) {
                bytes.append(UnsafeBufferPointer(start: source + row * Int(picture.lineSize(plane)), count: layout.tileWidth >> shift))
            }
        }
        do { try bytes.write(to: URL(fileURLWithPath: output.path + "/" + Self.tilePath(tiles))) } catch {
            throw TranscodeError.Reason.io("cannot write a storyboard tile: \(error.localizedDescription)")
        }
        tiles += 1
    }

    /// The stitch: a chunk's raw tile, placed as the next tile of the sheets.
    func placeKept(_ bytes: Data) throws {
        let picture = try Frame.video(width: Int32(layout.tileWidth), height: Int32(layout.tileHeight), format: AV_PIX_FMT_YUV420P)
        var offset = 0
        for plane: Int32 in 0..<3 {
            let shift = plane == 0 ? 0 : 1
            let rowBytes = layout.tileWidth >> shift
            guard let target = picture.plane(plane) else { continue }
            for row in 0..<(layout.tileHeight >> shift) {
                guard offset + rowBytes <= bytes.count else { throw TranscodeError.Reason.chunking("a storyboard tile is cut short") }
                bytes.withUnsafeBytes { raw in
                    guard let base = raw.baseAddress else { return }
                    (target + row * Int(picture.lineSize(plane))).update(from: base.assumingMemoryBound(to: UInt8.self) + offset, count: rowBytes)
                }
                offset += rowBytes
            }
        }
        try place(picture)
    }

    private func place(_ picture: Frame) throws {
        let position = layout.place(tiles)
        for plane: Int32 in 0..<3 {
            let shift = plane == 0 ? 0 : 1
            guard let source = picture.plane(plane), let target = sheet.plane(plane) else { continue }
            let sourceStride = Int(picture.lineSize(plane)), targetStride = Int(sheet.lineSize(plane))
            let rowBytes = layout.tileWidth >> shift
            for row in 0..<(layout.tileHeight >> shift) {
                let destination = target + ((position.y >> shift) + row) * targetStride + (position.x >> shift)
                destination.update(from: source + row * sourceStride, count: rowBytes)
            }
        }
        tiles += 1
        tilesInSheet += 1
        if tilesInSheet == layout.tilesPerSheet { try writeSheet() }
    }

    /// The sheet as a JPEG; a last, partial sheet keeps only the rows it filled.
    private func writeSheet() throws {
        guard tilesInSheet > 0 else { return }
        let rows = (tilesInSheet + layout.columns - 1) / layout.columns
        var picture = sheet
        if rows < layout.rows {
            picture = try Self.blankSheet(layout, rows: rows)
            for plane: Int32 in 0..<3 {
                let shift = plane == 0 ? 0 : 1
                guard let source = sheet.plane(plane), let target = picture.plane(plane) else { continue }
                for row in 0..<((rows * layout.tileHeight) >> shift) {
                    (target + row * Int(picture.lineSize(plane)))
                        .update(from: source + row * Int(sheet.lineSize(plane)), count: (layout.columns * layout.tileWidth) >> shift)
                }
            }
        }
        try JPEGFile.write(picture, width: Int(picture.width), height: Int(picture.height),
                           to: output.path + "/" + Storyboard.sheetName(sheets))
        sheets += 1
        tilesInSheet = 0
        sheet = try Self.blankSheet(layout, rows: layout.rows)
    }

    /// Writes what is left and the index; `duration` is the video's, from its first frame.
    func finish(duration: Double) throws {
        if keepsTiles { return }  // the stitch writes the sheets and the index
        try writeSheet()
        try output.writeAtomically(layout.index(tiles: tiles, duration: duration), to: Storyboard.indexName)
    }

    /// A black sheet (tiles a short last row leaves empty stay black).
    private static func blankSheet(_ layout: Storyboard, rows: Int) throws(AVError) -> Frame {
        let frame = try Frame.video(width: Int32(layout.columns * layout.tileWidth), height: Int32(rows * layout.tileHeight),
                                    format: AV_PIX_FMT_YUV420P)
        for plane: Int32 in 0..<3 {
            guard let base = frame.plane(plane) else { continue }
            let lines = Int(plane == 0 ? frame.height : (frame.height + 1) / 2)
            memset(base, plane == 0 ? 16 : 128, Int(frame.lineSize(plane)) * lines)
        }
        return frame
    }
}
