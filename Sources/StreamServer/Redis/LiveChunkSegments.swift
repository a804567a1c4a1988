import Foundation
import HLSEngine
import Synchronization

/// The segments of each finished chunk, by video, as `ChunkTasks.extendLivePlaylists`
/// read them from its stored `chunk.json`. A finished chunk's segments never change (a
/// chunk encoded twice has the same timing), so a worker fetches each manifest once,
/// not once for every chunk that finishes after it: extending the playlists of an
/// n-chunk video took n(n+1)/2 fetches before, and takes n now. The audio task's stored
/// segments are kept the same way: its Redis list only grows, so each extension reads
/// what was appended since the last.
///
/// Bounded: the videos seen last are kept (a worker serves few videos at once), and a
/// video is dropped when its chunks are cleared (stitch, cancel, dead letter).
final class LiveChunkSegments: Sendable {
    static let videosKept = 16
    private struct State {
        var videos: [UUID] = []
        var segments: [UUID: [Int: [PublishedSegment]]] = [:]
        var captions: [UUID: Captions] = [:]
        var audio: [UUID: AudioRead] = [:]

        /// Keeps `video` among the videos seen last, forgetting the oldest past `videosKept`.
        mutating func register(_ video: UUID) {
            guard segments[video] == nil else { return }
            segments[video] = [:]
            videos.append(video)
            if videos.count > LiveChunkSegments.videosKept {
                let oldest = videos.removeFirst()
                segments[oldest] = nil
                captions[oldest] = nil
                audio[oldest] = nil
            }
        }
    }

    /// A video's caption tracks (nil: it has none), and how many of their WebVTT segments
    /// this worker has stored.
    struct Captions: Sendable {
        var tracks: ChunkLiveCaptions?
        var storedThrough: Int
    }
    private let state = Mutex(State())

    func segments(_ video: UUID, chunk: Int) -> [PublishedSegment]? {
        state.withLock { $0.segments[video]?[chunk] }
    }

    func keep(_ segments: [PublishedSegment], _ video: UUID, chunk: Int) {
        state.withLock { state in
            state.register(video)
            state.segments[video]?[chunk] = segments
        }
    }

    /// The audio task's segments read so far, and how many entries of its Redis list they
    /// came from (an entry that is not a segment is skipped, not read again).
    struct AudioRead: Sendable {
        var entries = 0
        var segments: [PublishedSegment] = []
    }

    func audio(_ video: UUID) -> AudioRead {
        state.withLock { $0.audio[video] ?? AudioRead() }
    }

    /// Appends what was read past `audio(video)`: `entries` more of the list.
    func keepAudio(_ more: [PublishedSegment], entries: Int, _ video: UUID) {
        state.withLock { state in
            state.register(video)
            state.audio[video, default: AudioRead()].entries += entries
            state.audio[video, default: AudioRead()].segments += more
        }
    }

    func captions(_ video: UUID) -> Captions? {
        state.withLock { $0.captions[video] }
    }

    /// Kept while the video's segments are (`keep` registers the video first).
    func keepCaptions(_ captions: Captions, _ video: UUID) {
        state.withLock { state in
            guard state.segments[video] != nil else { return }
            state.captions[video] = captions
        }
    }

    func forget(_ video: UUID) {
        state.withLock { state in
            state.segments[video] = nil
            state.captions[video] = nil
            state.audio[video] = nil
            state.videos.removeAll { $0 == video }
        }
    }
}
