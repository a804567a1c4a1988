/// How a coded picture is shown: its sample aspect ratio stretched out and its
/// display-matrix rotation applied. Pure arithmetic, no FFmpeg.
public struct DisplayGeometry: Sendable, Equatable, Codable {
    public var codedWidth: Int
    public var codedHeight: Int
    /// Sample (pixel) aspect ratio; 1:1 when unknown.
    public var sampleAspectNum: Int
    public var sampleAspectDen: Int
    /// Clockwise rotation needed to show the picture upright: 0, 90, 180 or 270.
    public var rotation: Int

    public init(codedWidth: Int, codedHeight: Int, sampleAspect: (Int, Int) = (1, 1), rotation: Int = 0) {
        self.codedWidth = codedWidth
        self.codedHeight = codedHeight
        let valid = sampleAspect.0 > 0 && sampleAspect.1 > 0
        self.sampleAspectNum = valid ? sampleAspect.0 : 1
        self.sampleAspectDen = valid ? sampleAspect.1 : 1
        self.rotation = Self.normalizedRotation(Double(rotation))
    }

    /// Rounds a clockwise angle in degrees to the nearest quarter turn in 0..<360.
    public static func normalizedRotation(_ degrees: Double) -> Int {
        guard degrees.isFinite else { return 0 }
        // remainder first: a finite but huge angle would trap in Int(_:).
        let quarter = Int((degrees.truncatingRemainder(dividingBy: 360) / 90).rounded()) % 4
        return (quarter + 4) % 4 * 90
    }

    public var isQuarterTurn: Bool { rotation == 90 || rotation == 270 }

    /// Width with square pixels, before rotation (coded width x SAR).
    public var squareWidth: Double { Double(codedWidth) * Double(sampleAspectNum) / Double(sampleAspectDen) }

    /// The displayed size, square pixels, rotation applied (may be fractional).
    public var displayWidth: Double { isQuarterTurn ? Double(codedHeight) : squareWidth }
    public var displayHeight: Double { isQuarterTurn ? squareWidth : Double(codedHeight) }

    public var displayAspect: Double { displayWidth / displayHeight }
    public var shortSide: Double { min(displayWidth, displayHeight) }
    public var isPortrait: Bool { displayHeight > displayWidth }
}
