/// Decides which source frames start a segment: the first frame at or after each
/// multiple of the segment duration, counted from the first video frame.
///
/// The decode stage asks once per source frame and tells every rendition, so all
/// renditions force their IDRs on the same frames and cut at the same timestamps.
/// Like ffmpeg's `-force_key_frames expr:gte(t,n_forced*2)`, a gap in a
/// variable-frame-rate source moves the next boundary past the gap instead of
/// producing several tiny segments.
struct SegmentClock: Sendable {
    let segmentDuration: Double
    private var origin: Double?
    private var nextBoundary: Double = 0

    init(segmentDuration: Double) {
        precondition(segmentDuration > 0)
        self.segmentDuration = segmentDuration
    }

    /// A clock that joins the whole file's at a chunk: `origin` is the whole file's first
    /// frame, so the chunk's frames are cut exactly where a whole-file run cuts them.
    init(segmentDuration: Double, origin: Double) {
        self.init(segmentDuration: segmentDuration)
        self.origin = origin
    }

    /// Timestamps within this distance of a boundary count as on it (float noise from
    /// time bases such as 1001/30000).
    private static let tolerance = 1e-6

    /// True if the frame presented at `time` (seconds) starts a new segment.
    mutating func startsSegment(at time: Double) -> Bool {
        guard let origin else {
            self.origin = time
            nextBoundary = segmentDuration
            return true
        }
        let offset = time - origin
        guard offset + Self.tolerance >= nextBoundary else { return false }
        let index = ((offset + Self.tolerance) / segmentDuration).rounded(.down)
        nextBoundary = (index + 1) * segmentDuration
        return true
    }
}
