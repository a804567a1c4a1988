/// One progress report from a running transcode.
///
/// Progress is exact: frames encoded over the source's frame count, per rendition.
/// `percent` reaches 100 only in the `.done` event, after the master playlist exists.
public struct TranscodeEvent: Sendable, Codable, Equatable {
    public enum Stage: String, Sendable, Codable {
        case probing, transcoding, finalizing, done
    }

    public struct RenditionProgress: Sendable, Codable, Equatable {
        public var name: String
        public var framesEncoded: Int
    }

    public var stage: Stage
    /// Frames encoded, averaged over the renditions (each encodes every source frame).
    public var framesDone: Int
    /// Video frames in the source.
    public var framesTotal: Int
    public var percent: Double
    /// Source frames per second through the slowest rendition.
    public var fps: Double
    public var elapsedSeconds: Double
    public var renditions: [RenditionProgress]
    /// The source's duration in seconds, once probed (a supervisor sizes its timeout by it).
    public var sourceDurationSeconds: Double? = nil
    /// A chunk run's place in its plan (`TranscodeOptions.chunk`): known once the source
    /// is planned, in the first `.transcoding` event, so a service can queue the other
    /// chunks while this one encodes.
    public var chunkPlan: ChunkProgress? = nil

    public struct ChunkProgress: Sendable, Codable, Equatable {
        /// This run's chunk, from 0.
        public var index: Int
        /// Chunks in the whole plan.
        public var count: Int
        /// Video frames in the whole plan (the source's), for progress over every chunk.
        public var framesInPlan: Int
        /// Chunk 0 previews the audio (`ChunkSelection.AudioWork.preview`): the whole file's
        /// is the audio task's, which the service queues with the chunks. nil: no audio task.
        public var audioTask: AudioTaskPlan? = nil
    }

    /// What a service needs to run the audio task beside the chunks.
    public struct AudioTaskPlan: Sendable, Codable, Equatable {
        /// Chunk 0's segments: the audio task's segments before this number replace chunk
        /// 0's preview at the stitch; the later ones are the only ones of their number.
        public var previewSegments: Int
    }
}
