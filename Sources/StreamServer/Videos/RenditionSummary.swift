import Foundation
import HLSEngine

/// One rung of a READY video, as the service keeps it: the same value in the stored
/// manifest (`vstream.json`), in the row (`renditions`, JSON at the store's edge) and in
/// the API's answer, so it is written once and never reshaped.
public struct RenditionSummary: Codable, Sendable, Equatable {
    public var name: String
    public var width: Int
    public var height: Int
    public var averageBandwidth: Int
    public var peakBandwidth: Int
    /// The rung's playlist length: the video's own, which is shorter than the video's
    /// `durationSeconds` when the sound plays on past the picture (a still picture with
    /// long audio). nil in rows written before it was kept.
    public var durationSeconds: Double?

    public init(name: String, width: Int, height: Int, averageBandwidth: Int, peakBandwidth: Int,
                durationSeconds: Double? = nil) {
        self.name = name
        self.width = width
        self.height = height
        self.averageBandwidth = averageBandwidth
        self.peakBandwidth = peakBandwidth
        self.durationSeconds = durationSeconds
    }

    /// The rungs the engine wrote.
    static func of(_ result: TranscodeResult) -> [RenditionSummary] {
        result.renditions.map {
            RenditionSummary(name: $0.rendition.name, width: $0.rendition.width, height: $0.rendition.height,
                             averageBandwidth: $0.averageBandwidth, peakBandwidth: $0.peakBandwidth,
                             durationSeconds: $0.durationSeconds)
        }
    }

    /// The `renditions` column's text.
    static func json(_ renditions: [RenditionSummary]?) -> String? {
        guard let renditions else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: (try? encoder.encode(renditions)) ?? Data("[]".utf8), as: UTF8.self)
    }

    /// The column read back; nil for none or for text that is not this shape.
    static func decode(_ json: String?) -> [RenditionSummary]? {
        guard let json else { return nil }
        return try? JSONDecoder().decode([RenditionSummary].self, from: Data(json.utf8))
    }
}
