import Foundation

/// What the audio task of a split-and-stitch transcode wrote (`audio.json` beside its
/// track folders): every audio track of the whole file, cut on the plan's segment starts,
/// with the timeline shift it applied, so the stitch can check it against chunk 0's.
struct AudioTaskManifest: Codable, Sendable, Equatable {
    static let fileName = "audio.json"
    /// Bumped when the shape changes; the stitch refuses another.
    static let version = 1

    var version = AudioTaskManifest.version
    /// The plan the audio was cut on: the stitch checks it is the chunks' plan.
    var chunkCount: Int
    var segmentCount: Int
    var segmentDuration: Double
    /// Seconds every timestamp was moved by: the rungs' shift, computed from the plan.
    var timelineShift: Double
    /// The default track first, then the source's other tracks (each with its `track`).
    var tracks: [ChunkManifest.Audio]
    /// What loudness normalisation did to each track.
    var loudness: [Loudness.Track]?
    /// What of the source's audio was left out, and the loudness pass's notes.
    var notes: [String]?
    /// Audio packets the decoders rejected.
    var corruptPackets: Int
    /// How many spans each track was encoded in at once (`AudioSpans`); absent: one
    /// encoder from the start.
    var spans: Int?
    /// Why a source long enough for spans was encoded by one encoder after all (a
    /// timestamp jump, a damaged packet), for whoever reads the folder.
    var spansDeclined: String?
}
