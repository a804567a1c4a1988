import CAV

/// Owns one `AVFrame`. The frame's buffers are reference-counted by libavutil,
/// so handing the same `Frame` to several consumers shares pixels without copying.
///
/// Thread-safety: a frame is written by the one stage that produces it, then only
/// read. Consumers that need different metadata make a `reference()` of their own.
public final class Frame: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<AVFrame>

    init() {
        // av_frame_alloc only fails when malloc does; there is no recovery from that.
        guard let frame = av_frame_alloc() else { fatalError("av_frame_alloc: out of memory") }
        pointer = frame
    }

    deinit { var frame: UnsafeMutablePointer<AVFrame>? = pointer; av_frame_free(&frame) }

    /// A new `Frame` that references the same buffers (av_frame_ref): no pixel copy.
    func reference() throws(AVError) -> Frame {
        let copy = Frame()
        try check(av_frame_ref(copy.pointer, pointer), "av_frame_ref")
        return copy
    }

    var width: Int32 { pointer.pointee.width }
    var height: Int32 { pointer.pointee.height }
    var pixelFormat: AVPixelFormat { AVPixelFormat(rawValue: pointer.pointee.format) }
    var pts: Int64 {
        get { pointer.pointee.pts }
        set { pointer.pointee.pts = newValue }
    }
    var sampleCount: Int32 { pointer.pointee.nb_samples }
    /// The bytes a video frame's pixels take (0 for audio or an unknown format).
    var pictureBytes: Int { max(0, Int(av_image_get_buffer_size(pixelFormat, width, height, 1))) }
    func plane(_ index: Int32) -> UnsafeMutablePointer<UInt8>? { cav_frame_plane(pointer, index) }
    func lineSize(_ index: Int32) -> Int32 { cav_frame_linesize(pointer, index) }

    /// Allocates writable video buffers of the given size and format.
    static func video(width: Int32, height: Int32, format: AVPixelFormat) throws(AVError) -> Frame {
        let frame = Frame()
        frame.pointer.pointee.width = width
        frame.pointer.pointee.height = height
        frame.pointer.pointee.format = format.rawValue
        try check(av_frame_get_buffer(frame.pointer, 0), "av_frame_get_buffer(\(width)x\(height))")
        return frame
    }
}
