/// Everything one `vstream bench` run measured; written as JSON with `--json`.
public struct BenchReport: Sendable, Codable, Equatable {
    public struct Input: Sendable, Codable, Equatable {
        public var path: String
        public var width: Int
        public var height: Int
        public var frames: Int
        public var durationSeconds: Double
        public var hasAudio: Bool
    }

    public struct Host: Sendable, Codable, Equatable {
        public var cores: Int
        public var ffmpegVersion: String
    }

    public struct Settings: Sendable, Codable, Equatable {
        public var preset: String
        public var runs: Int
        public var warmup: Int
        public var segmentSeconds: Double
        public var renditions: [String]
        /// Contenders ran in turn, A B C A B C …, so drift in the machine hits each alike.
        public var order: [String]
    }

    public struct ContenderResult: Sendable, Codable, Equatable {
        public var name: String
        /// The exact command lines, to repeat by hand.
        public var commandLines: [String]
        public var runs: [ProcessSample]
        public var wallSeconds: Summary
        public var cpuSeconds: Summary
        public var peakRSSBytes: Summary
        /// Source frames per wall second (median run).
        public var framesPerSecond: Double
        /// CPU time over wall time times cores (median run): 1.0 keeps every core busy.
        public var cpuUtilisation: Double
        /// The engine's figure over this contender's, paired run by run (1.0 for the engine).
        public var engineRatio: Ratios
        public var quality: [QualityMeter.Measurement]
        /// Engine only: seconds from start until each rendition's first segment was complete
        /// on disk, and that as a share of the run's wall time (median over runs).
        public var firstSegmentSeconds: [String: Double]?
        public var firstSegmentShareOfWall: Double?
    }

    public struct Ratios: Sendable, Codable, Equatable {
        public var wall: Summary
        public var cpu: Summary
        public var peakRSS: Summary
    }

    public var version: Int = 1
    public var input: Input
    public var host: Host
    public var settings: Settings
    public var contenders: [ContenderResult]
}
