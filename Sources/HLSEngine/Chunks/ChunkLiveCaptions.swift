import Foundation

/// The caption tracks of a chunked video's early ladder. Chunk 0 publishes its own
/// segments' captions as a whole run does; a service that extends the EVENT playlists as
/// later chunks finish writes theirs from this, read from chunk 0's `chunk.json`. Each
/// WebVTT segment is cut as the stitch will cut it (the first rung's segment times, chunk
/// 0's timestamp shift), so it is the VOD ladder's file byte for byte.
///
/// ```swift
/// if let captions = try ChunkLiveCaptions(manifest: chunkZeroJSON) {
///     captions.include(in: &ladder)
///     for file in captions.files(for: newSegments) { store(file.text, at: file.path) }
/// }
/// ```
public struct ChunkLiveCaptions: Sendable, Equatable {
    /// The tracks' folders ("captions/eng"), as chunk 0's early master names them.
    public let folders: [String]
    /// The rung whose segments the captions follow.
    public let rung: String
    private let tracks: [SidecarCaptions]
    private let shift: Double

    /// nil when the video has no caption track.
    /// - Throws: `TranscodeError.Reason.chunking` for anything but chunk 0's manifest of
    ///   this version, or one over 16 MiB.
    public init?(manifest data: Data) throws(TranscodeError.Reason) {
        guard data.count <= 16 << 20, let manifest = try? JSONDecoder().decode(ChunkManifest.self, from: data),
              manifest.version == ChunkManifest.version, manifest.chunk.index == 0 else {
            throw .chunking("not chunk 0's manifest of version \(ChunkManifest.version)")
        }
        guard let tracks = manifest.captions, !tracks.isEmpty, let rung = manifest.rungs.first?.rendition.name else { return nil }
        self.tracks = tracks
        folders = SubtitleRendition.names(tracks).map { "\(SubtitleRendition.folder)/\($0)" }
        self.rung = rung
        shift = manifest.timelineShift
    }

    /// Adds the tracks to a ladder of EVENT playlists.
    public func include(in ladder: inout ProgressiveLadder) {
        for folder in folders { ladder.includeCaptions(folder, following: rung) }
    }

    /// Every track's WebVTT segment for each of `segments` that is `rung`'s, as paths
    /// relative to the ladder and their text.
    public func files(for segments: [PublishedSegment]) -> [(path: String, text: String)] {
        let timed = segments.filter { $0.rendition == rung && $0.start != nil }
        return zip(folders, tracks).flatMap { folder, track in
            timed.map { segment in
                (ProgressiveLadder.captionSegment(folder, segment.index),
                 SubtitleRendition.segmentText(track, start: segment.start ?? 0, duration: segment.duration, shift: shift))
            }
        }
    }
}
