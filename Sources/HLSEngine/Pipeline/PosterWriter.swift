import CAV
import Foundation

/// Writes `poster.jpg`: the source frame at about 10% of the video, upright, with
/// square pixels, at the size of the largest rendition up to 1280 pixels wide, as a
/// JPEG from libavcodec's MJPEG encoder. One frame, on the pipeline thread.
struct PosterWriter {
    /// Which decoded frame becomes the poster.
    static func frameIndex(frameCount: Int) -> Int { max(0, frameCount / 10) }

    /// The poster's size: the largest rendition no wider than 1280 (else the smallest).
    static func size(for renditions: [Rendition]) -> (width: Int, height: Int) {
        let fitting = renditions.filter { $0.width <= 1280 }
        let chosen = fitting.last ?? renditions.first
        return (chosen?.width ?? 2, chosen?.height ?? 2)
    }

    let width: Int
    let height: Int
    let rotation: Int

    /// Encodes `frame` and writes it to `path` through a temporary file and a rename.
    func write(_ frame: Frame, to path: String) throws {
        let quarterTurn = rotation == 90 || rotation == 270
        let scaledWidth = Int32(clamping: quarterTurn ? height : width), scaledHeight = Int32(clamping: quarterTurn ? width : height)
        let scaler = try Scaler(from: (frame.width, frame.height, frame.pixelFormat),
                                to: (scaledWidth, scaledHeight, AV_PIX_FMT_YUV420P))
        var picture = try Frame.video(width: scaledWidth, height: scaledHeight, format: AV_PIX_FMT_YUV420P)
        try scaler.scale(frame, into: picture)
        if rotation != 0 {
            let upright = try Frame.video(width: Int32(clamping: width), height: Int32(clamping: height), format: AV_PIX_FMT_YUV420P)
            FrameRotator.rotate(picture, clockwise: rotation, into: upright)
            picture = upright
        }
        try JPEGFile.write(picture, width: width, height: height, to: path)
    }
}
