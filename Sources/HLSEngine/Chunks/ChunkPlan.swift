/// How one video is cut into chunks for split-and-stitch: runs of whole segments, on the
/// same `SegmentClock` that cuts the whole file, so a chunk's segments carry the numbers
/// and times they would have in a whole-file run and the stitch only writes playlists.
///
///     frames:    |f0 ...                                               fN|
///     segments:  | 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 |10 |11 |12 |13 |
///     chunks:    |  chunk 0 (0..<5)  |  chunk 1 (5..<10) | chunk 2 (10..<14) |
///
/// A value type, made from the frames' presentation times alone and tested with no
/// FFmpeg. The engine scans the source's video packets for those times (`ChunkPlanner`).
public struct ChunkPlan: Codable, Sendable, Equatable {
    /// One chunk: segments `firstSegment..<endSegment`, presenting from `start` up to
    /// (not including) `end` seconds on the output timeline; `end` is nil for the last.
    public struct Chunk: Codable, Sendable, Equatable {
        public var index: Int
        public var firstSegment: Int
        public var endSegment: Int
        public var start: Double
        public var end: Double?
        /// The source frames it encodes.
        public var frames: Int
        /// The frames just before the chunk and around its end (with the next chunk's
        /// first), by their index in the whole file: x264 times a run's first and last
        /// packets from that run's own frames, and a chunk takes the whole run's timing
        /// from these (`WholeRunVideoTiming`). Nil in manifests written before they were kept.
        public var leadIn: FrameWindow?
        public var leadOut: FrameWindow?
        /// Where a run of this chunk seeks: the decode time (seconds, on the output timeline)
        /// of the last keyframe at least a second before `start`. A demuxer without an index
        /// (MPEG-TS) seeks to a timestamp, not to a keyframe, so the target must be one. Nil
        /// for chunk 0, for a plan made without keyframes, or when none is that early.
        public var seekTime: Double?

        public var segmentCount: Int { endSegment - firstSegment }

        /// Whether a frame presenting at `time` belongs to this chunk.
        public func contains(_ time: Double) -> Bool {
            time + ChunkPlan.tolerance >= start && (end.map { time + ChunkPlan.tolerance < $0 } ?? true)
        }
    }

    /// Each segment's first frame, in seconds on the output timeline.
    public var segmentStarts: [Double]
    public var chunks: [Chunk]
    /// The first frame's time: the origin of the segment clock.
    public var origin: Double
    /// The whole file's first frames (x264's reorder delay is timed from them).
    public var fileStart: FrameWindow?
    /// The last frame's time (where chunk 0 ends the whole file's audio, as a whole run does).
    public var lastFrameTime: Double
    public var segmentDuration: Double

    /// A few frames' times, by their index among the whole file's frames.
    public struct FrameWindow: Codable, Sendable, Equatable {
        public var firstIndex: Int
        public var times: [Double]

        /// Frames `range` of `sorted`, clipped to it.
        init(_ sorted: [Double], _ range: Range<Int>) {
            let clipped = range.clamped(to: sorted.indices)
            firstIndex = clipped.lowerBound
            times = Array(sorted[clipped])
        }

        /// The time of the file's frame `index`, if the window holds it.
        public func time(ofFrame index: Int) -> Double? {
            times.indices.contains(index - firstIndex) ? times[index - firstIndex] : nil
        }
    }

    /// How many frames each window keeps on each side: more than x264's reorder delay
    /// (at most 2: B-pyramid).
    static let windowFrames = 4

    /// The audio can be encoded by a task of its own (`AudioTaskRun`): there is more than
    /// one chunk, and the file's first frames give x264's reorder delay (at most 2) its
    /// decode times, from which that task computes the rungs' timeline shift.
    public var allowsAudioTask: Bool { chunks.count > 1 && fileStart?.time(ofFrame: 2) != nil }

    /// Timestamps this close count as equal (time bases such as 1001/30000).
    static let tolerance = 1e-6

    /// How far before its first frame a chunk's run starts decoding: B-frames put a
    /// keyframe's decode time before its presentation time.
    static let seekLeadSeconds = 1.0

    /// - Parameters:
    ///   - frameTimes: every video frame's presentation time, in seconds, any order.
    ///   - chunkSeconds: the wanted chunk length; each chunk gets the nearest whole number
    ///     of segments (at least one). 0 or less: one chunk, the whole file.
    ///   - keyframeDecodeTimes: the decode times of the video's keyframes, in seconds, any
    ///     order: they give each chunk its `seekTime`.
    public init(frameTimes: [Double], segmentDuration: Double, chunkSeconds: Double, keyframeDecodeTimes: [Double] = []) {
        self.segmentDuration = segmentDuration
        let sorted = frameTimes.filter(\.isFinite).sorted()
        origin = sorted.first ?? 0
        lastFrameTime = sorted.last ?? 0
        var clock = SegmentClock(segmentDuration: segmentDuration)
        segmentStarts = sorted.filter { clock.startsSegment(at: $0) }
        let perChunk = chunkSeconds > 0 ? max(1, Int((chunkSeconds / segmentDuration).rounded())) : max(1, segmentStarts.count)
        fileStart = sorted.isEmpty ? nil : FrameWindow(sorted, 0..<Self.windowFrames)
        var chunks: [Chunk] = []
        var first = 0
        while first < segmentStarts.count {
            let end = min(first + perChunk, segmentStarts.count)
            let chunk = Chunk(index: chunks.count, firstSegment: first, endSegment: end, start: segmentStarts[first],
                              end: end < segmentStarts.count ? segmentStarts[end] : nil, frames: 0)
            chunks.append(chunk)
            first = end
        }
        for time in sorted {
            if let index = chunks.lastIndex(where: { $0.start <= time + Self.tolerance }) { chunks[index].frames += 1 }
        }
        var firstFrame = 0
        for index in chunks.indices {
            let endFrame = firstFrame + chunks[index].frames
            chunks[index].leadIn = FrameWindow(sorted, (firstFrame - Self.windowFrames)..<firstFrame)
            chunks[index].leadOut = FrameWindow(sorted, (endFrame - Self.windowFrames)..<(endFrame + 1))
            firstFrame = endFrame
        }
        let keyframes = keyframeDecodeTimes.filter(\.isFinite).sorted()
        for index in chunks.indices.dropFirst() {
            chunks[index].seekTime = keyframes.last { $0 <= chunks[index].start - Self.seekLeadSeconds + Self.tolerance }
        }
        self.chunks = chunks
    }
}
