import Foundation

/// What one entry of the jobs stream asks a worker to do. Split and stitch
/// (`VSTREAM_CHUNK_SECONDS`) turns one video into several entries on the same stream,
/// so any worker takes any of them:
///
///     video          the video's job; with chunking on, its coordinator: it encodes
///                    chunk 0 (with a preview of its audio), progressively, and queues
///                    the audio task and chunks 1..<n as soon as the engine has planned them
///     audio n/p/S    the whole file's audio, once, for a plan of n chunks of about S
///                    seconds whose chunk 0 previewed the first p segments
///     chunk k/n/S    chunk k of n, of about S seconds each
///     stitch n/S     the last chunk to finish queues it: playlists, master, MPD,
///                    poster, storyboard, download.mp4, then READY
///
/// The entry's `task` field spells it (`chunk/3/5/6`, `stitch/5/6`); an entry without
/// one is a video's job, as entries always were.
public enum JobTask: Sendable, Equatable, CustomStringConvertible {
    case video
    case chunk(index: Int, count: Int, seconds: Double)
    case audio(count: Int, previewSegments: Int, seconds: Double)
    case stitch(count: Int, seconds: Double)

    /// More chunks than this is a malformed entry (a 4-hour film in 2 s chunks is 7,200).
    static let maxChunks = 20_000

    /// The entry's `task` field; nil for a video's job.
    var field: String? {
        switch self {
        case .video: nil
        case .chunk(let index, let count, let seconds): "chunk/\(index)/\(count)/\(Self.format(seconds))"
        case .audio(let count, let preview, let seconds): "audio/\(count)/\(preview)/\(Self.format(seconds))"
        case .stitch(let count, let seconds): "stitch/\(count)/\(Self.format(seconds))"
        }
    }

    public var description: String { field ?? "video" }

    /// Parses an entry's `task` field (absent: a video's job); nil when it is malformed
    /// or out of bounds, which the worker acknowledges and drops.
    init?(field: String?) {
        guard let field else {
            self = .video
            return
        }
        let parts = field.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        func seconds(_ text: String) -> Double? {
            guard let value = Double(text), value.isFinite, value > 0, value <= 3600 else { return nil }
            return value
        }
        func count(_ text: String) -> Int? {
            guard let value = Int(text), (1...Self.maxChunks).contains(value) else { return nil }
            return value
        }
        switch parts.first {
        case "chunk" where parts.count == 4:
            guard let index = Int(parts[1]), let total = count(parts[2]), (0..<total).contains(index),
                  let length = seconds(parts[3]) else { return nil }
            self = .chunk(index: index, count: total, seconds: length)
        case "audio" where parts.count == 4:
            // Chunk 0's previewed segments (0: none); bounded as the plan is (1,800 an hour).
            guard let total = count(parts[1]), let preview = Int(parts[2]), (0...(Self.maxChunks * 1_800)).contains(preview),
                  let length = seconds(parts[3]) else { return nil }
            self = .audio(count: total, previewSegments: preview, seconds: length)
        case "stitch" where parts.count == 3:
            guard let total = count(parts[1]), let length = seconds(parts[2]) else { return nil }
            self = .stitch(count: total, seconds: length)
        default:
            return nil
        }
    }

    static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
    }
}
