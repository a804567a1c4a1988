/// Turns a source's video timestamps, as decoded, into the strictly increasing,
/// gap-bounded timeline the encoder and the segmenter need. A value type: timestamps
/// in, timestamps out, tested with no FFmpeg.
///
/// Sources lie: timestamps repeat, go backwards (concatenated files, a TS that wraps),
/// jump by hours, go missing, or sit near the Int64 limits. Each frame's output is its
/// input plus a running `correction`, so ordinary (VFR) spacing is kept exactly. When the
/// step from the previous frame is not in (0, `maxGap`], or the arithmetic would
/// overflow, the frame is placed one nominal frame after the previous one and the
/// correction is re-based there, as the ffmpeg CLI does at a discontinuity
/// (`-dts_delta_threshold`). Audio is timed by its sample count, so closing a video gap
/// keeps the two together where the source jumped in both.
struct TimestampRepair {
    /// One frame at the nominal rate, in time-base ticks (at least 1).
    let frameDuration: Int64
    /// The largest forward step kept as it is, in ticks.
    let maxGap: Int64
    private var correction: Int64
    private var last: Int64?
    /// How many frames were re-based (for the log).
    private(set) var discontinuities = 0

    /// - Parameters:
    ///   - origin: the input's start in ticks; the first frame's output is its pts minus it.
    /// - Parameter resuming: the decode starts part-way (a chunk, after a seek): the first
    ///   frame keeps its place however far from the start it is.
    init(frameDuration: Int64, maxGap: Int64, origin: Int64, resuming: Bool = false) {
        self.frameDuration = max(1, frameDuration)
        self.maxGap = max(self.frameDuration, maxGap)
        self.correction = origin == Int64.min ? 0 : -origin
        self.resuming = resuming
    }

    private let resuming: Bool

    /// The output timestamp for a frame whose decoded pts is `pts` (nil when it has none).
    mutating func next(_ pts: Int64?) -> Int64 {
        let expected = last.map { $0.addingReportingOverflow(frameDuration) }
        if let pts {
            let (candidate, overflow) = pts.addingReportingOverflow(correction)
            if !overflow {
                guard let last else {
                    // The first frame: its place relative to the input's start, if sane.
                    return accept(candidate >= 0 && (resuming || candidate <= maxGap) ? candidate : 0, pts: pts)
                }
                let (step, stepOverflow) = candidate.subtractingReportingOverflow(last)
                if !stepOverflow, step > 0, step <= maxGap { return accept(candidate, pts: pts) }
            }
        }
        discontinuities += last == nil ? 0 : 1
        let placed = expected.map { $0.overflow ? Int64.max / 2 : $0.partialValue } ?? 0
        return accept(placed, pts: pts)
    }

    private mutating func accept(_ output: Int64, pts: Int64?) -> Int64 {
        if let pts {
            let (rebased, overflow) = output.subtractingReportingOverflow(pts)
            // An unrepresentable correction leaves the old one: the next frame re-bases again.
            if !overflow { correction = rebased }
        }
        last = output
        return output
    }
}
