import CAV

// Values a demuxer reports are untrusted: a 81-byte Y4M header can claim a pixel aspect
// of 2147483647:1, and Swift traps where C would wrap. Each value is parsed here, once,
// into a bounded type whose initializer refuses what no real video has, naming the value.
// Code behind this boundary never sees an absurd number.

/// The limits of what the engine accepts.
enum SourceBounds {
    /// No coded side may exceed this many pixels (and `max_pixels` keeps decoders to it).
    static let maxDimension = 8192
    static let maxPixels = Int64(maxDimension) * Int64(maxDimension)
    /// Anamorphic video is at most about 2:1 in practice; 16 leaves room and still bounds
    /// the displayed size.
    static let pixelAspect = (1.0 / 16.0)...16.0
    /// The displayed picture's long side over its short side (32:9 is 3.6).
    static let maxDisplayAspect = 8.0
    /// Frames per second: slideshows to high-speed cameras.
    static let frameRate = 0.001...1000.0
    static let sampleRate: ClosedRange<Int32> = 1...768_000
    /// libswresample's own limit (SWR_CH_MAX).
    static let channels: ClosedRange<Int32> = 1...64
}

/// A sample (pixel) aspect ratio within `SourceBounds.pixelAspect`; 1:1 when the file
/// leaves it unset (0:x or x:0, as most do).
struct PixelAspect: Equatable {
    let num: Int
    let den: Int

    init(_ ratio: AVRational) throws(TranscodeError.Reason) {
        guard ratio.num != 0, ratio.den != 0 else { num = 1; den = 1; return }
        guard ratio.num > 0, ratio.den > 0, SourceBounds.pixelAspect.contains(Double(ratio.num) / Double(ratio.den)) else {
            throw .outOfRange("pixel aspect \(ratio.num):\(ratio.den)")
        }
        num = Int(ratio.num)
        den = Int(ratio.den)
    }
}

/// A stream's time base: positive, and no coarser than one second a tick.
struct TimeBase {
    let rational: AVRational

    init(_ ratio: AVRational) throws(TranscodeError.Reason) {
        guard ratio.num > 0, ratio.den > 0, ratio.num <= ratio.den else {
            throw .outOfRange("time base \(ratio.num)/\(ratio.den)")
        }
        rational = ratio
    }
}

/// The frame rate the encoder is told, within `SourceBounds.frameRate`.
struct FrameRate {
    let rational: AVRational
    var perSecond: Double { rational.doubleValue }

    /// The stream's average rate if it is sane, else its base rate, else 30 when the
    /// file gives neither. A rate that is given but absurd is refused, naming it.
    static func choose(average: AVRational, base: AVRational) throws(TranscodeError.Reason) -> FrameRate {
        for candidate in [average, base] where candidate.isValid && SourceBounds.frameRate.contains(candidate.doubleValue) {
            return FrameRate(rational: candidate)
        }
        if let given = [average, base].first(where: { $0.num != 0 && $0.den != 0 }) {
            throw .outOfRange("frame rate \(given.num)/\(given.den)")
        }
        return FrameRate(rational: AVRational(num: 30, den: 1))
    }

    static func choose(_ stream: UnsafeMutablePointer<AVStream>) throws(TranscodeError.Reason) -> FrameRate {
        try choose(average: stream.pointee.avg_frame_rate, base: stream.pointee.r_frame_rate)
    }
}

/// The audio parameters the resampler is set up from.
struct AudioFormat {
    let sampleRate: Int32
    let channels: Int32

    init(sampleRate: Int32, channels: Int32) throws(TranscodeError.Reason) {
        guard SourceBounds.sampleRate.contains(sampleRate) else { throw .outOfRange("audio sample rate \(sampleRate) Hz") }
        // 0 channels means "not declared"; the decoder then reports them (default layout).
        guard channels == 0 || SourceBounds.channels.contains(channels) else {
            throw .outOfRange("audio channel count \(channels)")
        }
        self.sampleRate = sampleRate
        self.channels = channels
    }
}
