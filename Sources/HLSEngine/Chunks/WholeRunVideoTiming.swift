/// The decode times x264 would give a chunk's packets in a whole-file run, where the
/// chunk's own run gives others.
///
/// x264 delays its decode timeline by its reorder delay `d` (B-frames: 1, B-pyramid: 2),
/// and takes that delay from the first frames it is given: packet `j` of a run decodes
/// at the presentation time of the run's frame `j - d`, but the first `d` packets, which
/// have no such frame, at their own time minus `t[d] - t[0]`. The muxers shift the
/// whole timeline by the first packet's `pts - dts` (`SegmentedMuxer`). So in a chunk,
/// whose first frames are not the file's:
/// - its first `d` packets decode at the file's frames `K - d ..< K` (K: its first frame);
/// - the shift is the file's, `t[d] - t[0]`;
/// - its last packet lasts until the next chunk's first packet decodes, at frame
///   `K_end - d`, where its own run would repeat the previous packet's duration.
///
/// At a constant frame rate all three equal the chunk's own; at a variable one they did
/// not, and the chunk's segments sat up to 0.13 s late (the VFR fixture).
struct WholeRunVideoTiming: Sendable {
    let plan: ChunkPlan
    let chunk: ChunkPlan.Chunk
    /// Seconds per tick of the encoder's time base (the source's).
    let secondsPerTick: Double

    /// The index in the whole file of the chunk's first frame.
    private var firstFrame: Int { plan.chunks[..<chunk.index].reduce(0) { $0 + $1.frames } }

    private func ticks(_ seconds: Double?) -> Int64? {
        guard let seconds, secondsPerTick > 0 else { return nil }
        let value = (seconds / secondsPerTick).rounded()
        return value.magnitude < 0x1p62 ? Int64(value) : nil
    }

    /// `pts - dts` of the whole run's first packet, in ticks; nil for a file shorter than
    /// the delay.
    func firstPacketDelay(reorderDelay d: Int) -> Int64? {
        guard let start = plan.fileStart, let first = ticks(start.time(ofFrame: 0)),
              let delayed = ticks(start.time(ofFrame: d)) else { return nil }
        return delayed - first
    }

    /// The whole run's decode time of the chunk's packet `j` (in coded order), where the
    /// chunk's own differs: its first `d` packets, after chunk 0. Nil otherwise.
    func decodeTime(ofPacket j: Int, reorderDelay d: Int) -> Int64? {
        guard chunk.index > 0, j < d else { return nil }
        return ticks(chunk.leadIn?.time(ofFrame: firstFrame - d + j))
    }

    /// The whole run's duration of the chunk's last packet (until the next chunk's first
    /// packet decodes); nil for the last chunk, whose run ends as the whole run does.
    func lastPacketDuration(reorderDelay d: Int) -> Int64? {
        guard chunk.end != nil, let window = chunk.leadOut else { return nil }
        let end = firstFrame + chunk.frames
        guard let next = ticks(window.time(ofFrame: end - d)), let last = ticks(window.time(ofFrame: end - 1 - d)),
              next > last else { return nil }
        return next - last
    }
}
