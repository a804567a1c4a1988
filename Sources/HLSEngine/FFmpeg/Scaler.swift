import CAV

/// Owns a `SwsContext` converting frames of one size and pixel format to another.
/// One per rendition thread: swscale contexts are not shared across threads.
final class Scaler {
    private let context: OpaquePointer
    let source: (width: Int32, height: Int32, format: AVPixelFormat)
    let target: (width: Int32, height: Int32, format: AVPixelFormat)

    /// Bicubic, like the ffmpeg CLI's scale filter, so quality compares like for like.
    init(from source: (width: Int32, height: Int32, format: AVPixelFormat),
         to target: (width: Int32, height: Int32, format: AVPixelFormat)) throws(AVError) {
        guard let context = sws_getContext(
            source.width, source.height, source.format,
            target.width, target.height, target.format,
            SWS_BICUBIC, nil, nil, nil)
        else {
            throw AVError(code: cav_averror(EINVAL), operation: "sws_getContext(\(source.width)x\(source.height) -> \(target.width)x\(target.height))")
        }
        self.context = context
        self.source = source
        self.target = target
    }

    deinit { sws_freeContext(context) }

    func matches(_ frame: Frame) -> Bool {
        frame.width == source.width && frame.height == source.height && frame.pixelFormat == source.format
    }

    /// Scales `input` into `output`, whose buffers (of the target size) are reused.
    /// Timestamps are not copied.
    func scale(_ input: Frame, into output: Frame) throws(AVError) {
        try check(sws_scale_frame(context, output.pointer, input.pointer), "sws_scale_frame")
    }
}
