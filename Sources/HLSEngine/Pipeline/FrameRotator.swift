import CAV

/// Turns planar YUV pictures by quarter turns, applying a source's display matrix
/// to the pixels so every player shows the same upright picture.
/// libswscale cannot rotate; this runs on the (already scaled) rendition frame.
enum FrameRotator {
    /// Writes `frame` turned clockwise by `degrees` (90, 180 or 270) into `output`, a
    /// yuv420p frame of the turned size.
    static func rotate(_ frame: Frame, clockwise degrees: Int, into output: Frame) {
        for plane: Int32 in 0..<3 {
            let shift: Int32 = plane == 0 ? 0 : 1  // 4:2:0 chroma is half size each way
            guard let source = frame.plane(plane), let target = output.plane(plane) else { continue }
            rotatePlane(
                source: source, sourceStride: Int(frame.lineSize(plane)),
                width: Int(frame.width >> shift), height: Int(frame.height >> shift),
                target: target, targetStride: Int(output.lineSize(plane)), clockwise: degrees)
        }
    }

    /// Rotates one 8-bit plane of `width` x `height`.
    static func rotatePlane(source: UnsafePointer<UInt8>, sourceStride: Int, width: Int, height: Int,
                            target: UnsafeMutablePointer<UInt8>, targetStride: Int, clockwise degrees: Int) {
        switch degrees {
        case 90:  // source (x, y) -> target (height-1-y, x)
            for y in 0..<height {
                let row = source + y * sourceStride
                let column = height - 1 - y
                for x in 0..<width { target[x * targetStride + column] = row[x] }
            }
        case 270:  // source (x, y) -> target (y, width-1-x)
            for y in 0..<height {
                let row = source + y * sourceStride
                for x in 0..<width { target[(width - 1 - x) * targetStride + y] = row[x] }
            }
        case 180:
            for y in 0..<height {
                let row = source + y * sourceStride
                let out = target + (height - 1 - y) * targetStride
                for x in 0..<width { out[width - 1 - x] = row[x] }
            }
        default:
            for y in 0..<height { (target + y * targetStride).update(from: source + y * sourceStride, count: width) }
        }
    }
}
