/// Loudness normalisation (`TranscodeOptions.loudness`): each audio track is measured (EBU R128)
/// and brought to the target by one static gain, capped so its true peak stays at or under
/// −1 dBTP. No compressor or limiter: the track's dynamics are the source's.
public enum Loudness {
    /// The default target, as streaming platforms use (Apple, YouTube's reference).
    public static let defaultTarget = -16.0
    /// Targets a user may ask for, in LUFS.
    public static let targets: ClosedRange<Double> = -40 ... -5
    /// The true peak the gain never pushes past, in dBTP.
    public static let peakCeiling = -1.0

    /// One EBU R128 measurement. nil where there is nothing to measure: a silent track has
    /// no integrated loudness (R128's −70 LUFS gate takes every block out).
    public struct Measurement: Sendable, Codable, Equatable {
        /// LUFS.
        public var integrated: Double?
        /// LU.
        public var range: Double?
        /// dBTP.
        public var truePeak: Double?

        public init(integrated: Double? = nil, range: Double? = nil, truePeak: Double? = nil) {
            self.integrated = integrated
            self.range = range
            self.truePeak = truePeak
        }
    }

    /// What was done to one audio track, for the result and the API.
    public struct Track: Sendable, Codable, Equatable {
        /// The rendition's folder ("audio", "audio-2").
        public var folder: String
        public var source: Measurement
        /// dB; 0 when the track was silent or the measurement could not be made.
        public var gain: Double
        /// The encoder's input: the source's figures moved by the gain. A static gain moves
        /// the integrated loudness and the true peak by exactly its dB (the range not at all),
        /// so a second meter on the gained samples would say nothing new.
        public var output: Measurement

        init(folder: String, source: Measurement, gain: Double) {
            self.folder = folder
            self.source = source
            self.gain = gain
            output = Measurement(integrated: source.integrated.map { $0 + gain }, range: source.range,
                                 truePeak: source.truePeak.map { $0 + gain })
        }
    }

    /// The static gain in dB that brings `measured` to `target` without its true peak going
    /// over `peakCeiling`. A silent track gets none: there is nothing to bring up.
    public static func gain(for measured: Measurement, target: Double) -> Double {
        guard let integrated = measured.integrated else { return 0 }
        let wanted = target - integrated
        guard let peak = measured.truePeak else { return wanted }
        return min(wanted, peakCeiling - peak)
    }
}
