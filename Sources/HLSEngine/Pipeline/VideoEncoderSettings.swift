import CAV

/// The x264 settings of one rendition. Every rendition gets the same GOP rules, so
/// their IDRs (and segment cuts) land on the same source frames.
struct VideoEncoderSettings {
    var rendition: Rendition
    var timeBase: AVRational
    var frameRate: AVRational
    var options: TranscodeOptions
    var threads: Int
    /// The source's frame rate is constant: the SPS then says so (x264's `force-cfr`), where
    /// it would give the time base's tick as the frame rate (1/12800 s: "12800 fps"), and
    /// players and probes (ffprobe) take each frame's duration from it. The timestamps x264
    /// is given and returns are the same either way; a variable rate keeps the tick, so its
    /// rate control spends bits by each frame's real duration.
    var constantFrameRate = false

    /// A GOP is a segment: IDRs are forced on the `SegmentClock`'s frames. keyint is set
    /// beyond any segment so x264 never adds a keyframe of its own, and scenecut is off.
    var keyint: Int {
        // Both factors are bounded (segments <= 60 s, FrameRate <= 1000 fps); min() keeps
        // Int(_:) from trapping whatever a caller passes.
        let segmentFrames = Int(min((options.segmentDuration * max(frameRate.doubleValue, 1)).rounded(.up), 1e6))
        return max(2 * segmentFrames, 250)
    }

    var privateOptions: [String: String] {
        [
            "preset": options.preset,
            "forced-idr": "1",
            "x264-params": "scenecut=0:open-gop=0:keyint=\(keyint)" + (constantFrameRate ? ":force-cfr=1" : ""),
        ]
    }

    func makeEncoder() throws -> Encoder {
        try Encoder(codecName: "libx264", options: privateOptions) { context in
            context.pointee.width = Int32(clamping: rendition.width)
            context.pointee.height = Int32(clamping: rendition.height)
            context.pointee.pix_fmt = AV_PIX_FMT_YUV420P
            context.pointee.sample_aspect_ratio = AVRational(num: 1, den: 1)
            // The source's time base keeps variable-frame-rate timestamps exact.
            context.pointee.time_base = timeBase
            context.pointee.framerate = frameRate
            context.pointee.bit_rate = Int64(rendition.videoBitrate)
            context.pointee.rc_max_rate = Int64(rendition.maxBitrate)
            context.pointee.rc_buffer_size = Int32(clamping: rendition.bufferSize)
            context.pointee.gop_size = Int32(clamping: keyint)
            context.pointee.flags |= Int32(bitPattern: AV_CODEC_FLAG_CLOSED_GOP)
            if options.segmentFormat == .fmp4 {
                // SPS/PPS go in init.mp4's avcC; TS repeats them in every IDR instead.
                context.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER
            }
            context.pointee.thread_count = Int32(clamping: threads)
        }
    }
}
