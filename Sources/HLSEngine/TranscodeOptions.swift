/// How to transcode. The defaults are the product's ladder.
public struct TranscodeOptions: Sendable, Equatable {
    /// Short sides of the rungs to produce ("360p" is 360). Rungs above the source are skipped.
    public var rungs: [Int] = Ladder.defaultRungs
    /// Target segment length in seconds; also the exact GOP length.
    public var segmentDuration: Double = 2
    /// The x264 preset.
    public var preset: String = "veryfast"
    public var segmentFormat: SegmentFormat = .fmp4
    /// x264 threads per rendition; nil sizes them for this host (see `ThreadBudget`).
    public var encoderThreads: Int? = nil
    /// Decoded frames that may wait for each rendition thread. Bounds memory.
    public var queueDepth: Int = 8
    /// AAC-LC bit rate of the one audio track shared by every variant.
    public var audioBitrate: Int = 128_000

    public init() {}
}
