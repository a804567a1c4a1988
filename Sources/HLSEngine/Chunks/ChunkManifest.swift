import Foundation

/// What one chunk run wrote (`chunk.json` beside its rung folders): the chunk, its rungs'
/// segments as measured, and for chunk 0 the whole file's audio (unless the audio task's). The stitch reads only
/// this and the files it names.
struct ChunkManifest: Codable, Sendable, Equatable {
    static let fileName = "chunk.json"
    /// Bumped when the shape changes; the stitch refuses another.
    static let version = 1

    struct Rung: Codable, Sendable, Equatable {
        var rendition: Rendition
        var codecs: String
        var frames: Int
        var timescale: Int
        var initializationBytes: Int64
        var segments: [SegmentedMuxer.Segment]
    }

    struct Audio: Codable, Sendable, Equatable {
        var channels: Int
        var sampleRate: Int
        var timescale: Int
        var segments: [SegmentedMuxer.Segment]
        /// Which track (absent: the one track of a source with one).
        var track: AudioTrack? = nil
    }

    var version = ChunkManifest.version
    var chunk: ChunkPlan.Chunk
    var chunkCount: Int
    var segmentCount: Int
    var segmentDuration: Double
    var segmentFormat: SegmentFormat
    /// "30000/1001", for the DASH manifest.
    var nominalFrameRate: String
    /// The whole source's.
    var sourceFrames: Int
    var hasAudio: Bool
    var rungs: [Rung]
    /// Chunk 0's, when the source has audio: the default track.
    var audio: Audio?
    /// Packets the decoders rejected in this chunk.
    var corruptPackets: Int
    /// This chunk wrote `poster.jpg` (the chunk holding the whole run's poster frame).
    var poster: Bool
    /// Raw storyboard tiles it kept (`storyboard/tile_N.yuv`, numbered over the whole video).
    var storyboardTiles: Int?
    var storyboardInterval: Double
    /// The whole video's length from its first frame to its last frame's end (what the
    /// storyboard's last cue ends at).
    var videoDuration: Double
    /// `TranscodeOptions.downloadRung`: the stitch remuxes `download.mp4` from that rung.
    var downloadRung: Int?
    /// Seconds every timestamp of the segments was moved by (`SegmentedMuxer.shift`):
    /// `download.mp4` takes it back off, to start where a whole run's does.
    var timelineShift: Double
    /// Chunk 0's: the caption tracks (sidecar files and the source's text subtitles), which
    /// the stitch cuts on the whole video's segments.
    var captions: [SidecarCaptions]? = nil
    /// Chunk 0's `TranscodeResult.notes`.
    var notes: [String]? = nil
    /// Chunk 0's: the source's other audio tracks.
    var alternateAudio: [Audio]? = nil
    /// Chunk 0's: what loudness normalisation did to each track.
    var loudness: [Loudness.Track]? = nil
    /// Chunk 0's, true when the audio task encodes the source's audio (`AudioTaskManifest`):
    /// the stitch then needs that task's folder too.
    var audioApart: Bool? = nil
    /// Chunk 0's preview of the audio (`ChunkSelection.AudioWork.preview`), every track's
    /// first segments, at the source's level: published early, then replaced at the stitch
    /// by the audio task's segments of the same numbers and timing. The stitch never reads it.
    var previewAudio: [Audio]? = nil
}
