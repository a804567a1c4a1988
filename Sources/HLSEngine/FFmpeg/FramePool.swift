import CAV

/// Reuses picture buffers of one size and format on one thread.
///
/// Every scaled or rotated frame would otherwise be a fresh multi-megabyte
/// allocation, freed a moment later: the page faults showed up as kernel time in
/// profiles. x264 copies its input into its own padded frames, so once a frame has
/// been encoded nothing else references its buffers and it can be filled again.
final class FramePool {
    let width: Int32
    let height: Int32
    let format: AVPixelFormat
    private var free: [Frame] = []
    private let capacity = 4

    init(width: Int32, height: Int32, format: AVPixelFormat) {
        self.width = width
        self.height = height
        self.format = format
    }

    /// A frame of the pool's size whose buffers nobody else references.
    func take() throws(AVError) -> Frame {
        while let frame = free.popLast() {
            // Writable means we hold the only reference (the encoder has let go).
            if av_frame_is_writable(frame.pointer) != 0 { return frame }
        }
        return try Frame.video(width: width, height: height, format: format)
    }

    /// Returns a frame taken from this pool, once it has been handed to the encoder.
    func recycle(_ frame: Frame) {
        guard frame.width == width, frame.height == height, frame.pixelFormat == format, free.count < capacity else { return }
        free.append(frame)
    }
}
