import Foundation

/// What one chunk run wrote, read back from its folder, for a service that stores the
/// chunk's files as they are and stitches elsewhere (`LadderStitcher.segmentsStored`):
/// which files go where, and the segments its EVENT playlists may name.
///
/// ```swift
/// let outline = try ChunkOutline(folder: "chunks/3")
/// for file in outline.segmentFiles { upload(file, to: "ladder/\(file)") }
/// for file in outline.stitchFiles { upload(file, to: "ladder/.chunks/3/\(file)") }
/// ```
public struct ChunkOutline: Sendable, Equatable {
    public var index: Int
    public var count: Int
    public var firstSegment: Int
    public var endSegment: Int
    /// The source frames this chunk encoded.
    public var frames: Int
    /// Media files at their place in the ladder, relative to the chunk folder and to the
    /// ladder alike: every rung's `init.mp4` and segments, and chunk 0's audio tracks (or
    /// their preview, which the stitch replaces with the audio task's).
    public var segmentFiles: [String]
    /// What `LadderStitcher` reads besides the segments: `chunk.json`, each rung's
    /// `init.mp4` (compared across chunks), the poster if this chunk holds it, and its
    /// storyboard tiles.
    public var stitchFiles: [String]
    /// Every rung's and every audio track's segments, with their durations, as EVENT
    /// playlists name them.
    public var published: [PublishedSegment]
    /// Media files a stitch with `segmentsStored` reads back into this chunk's folder: the
    /// audio's `init.mp4`, and the segments `download.mp4` is remuxed from (the download
    /// rung's and the audio's).
    public var stitchReadsBack: [String]

    /// - Throws: `TranscodeError.Reason.chunking` when `chunk.json` is missing or of
    ///   another version.
    public init(folder: String) throws(TranscodeError.Reason) {
        let path = folder + "/" + ChunkManifest.fileName
        guard let data = FileManager.default.contents(atPath: path), data.count <= 16 << 20,
              let manifest = try? JSONDecoder().decode(ChunkManifest.self, from: data),
              manifest.version == ChunkManifest.version else {
            throw .chunking("\(path) is missing or is not a chunk manifest of version \(ChunkManifest.version)")
        }
        index = manifest.chunk.index
        count = manifest.chunkCount
        firstSegment = manifest.chunk.firstSegment
        endSegment = manifest.chunk.endSegment
        frames = manifest.chunk.frames
        let (media, published) = try Self.checkedMedia(of: manifest, in: folder)
        segmentFiles = media
        // A preview's audio is never read back: the stitch takes the audio task's.
        let preview = Set(Self.media(of: manifest, previewOnly: true).files)
        let download = manifest.downloadRung.flatMap { Ladder.downloadRendition(manifest.rungs.map(\.rendition), preferred: $0) }
        let audioFolder = AudioRenditionWorker.name + "/"
        stitchReadsBack = media.filter { !preview.contains($0) }.filter { file in
            file.hasPrefix(audioFolder) || (download.map { file.hasPrefix($0.name + "/") && !file.hasSuffix("/init.mp4") } ?? false)
        }.filter { download != nil || $0 == audioFolder + "init.mp4" }
        self.published = published
        let tiles = (try? FileManager.default.contentsOfDirectory(atPath: folder + "/" + Storyboard.folder)) ?? []
        stitchFiles = [ChunkManifest.fileName] + manifest.rungs.map { "\($0.rendition.name)/init.mp4" }
            + (manifest.poster ? ["poster.jpg"] : [])
            + tiles.filter { $0.hasPrefix("tile_") && $0.hasSuffix(".yuv") }.sorted().map { "\(Storyboard.folder)/\($0)" }
    }

    /// The segments the EVENT playlists may name, from a stored `chunk.json` alone (a
    /// service that extends the playlists as chunks finish needs nothing else).
    /// - Throws: `TranscodeError.Reason.chunking` for anything but a chunk manifest of
    ///   this version, or one over 16 MiB.
    public static func publishedSegments(manifest data: Data) throws(TranscodeError.Reason) -> [PublishedSegment] {
        guard data.count <= 16 << 20, let manifest = try? JSONDecoder().decode(ChunkManifest.self, from: data),
              manifest.version == ChunkManifest.version else {
            throw .chunking("not a chunk manifest of version \(ChunkManifest.version)")
        }
        return try checkedMedia(of: manifest, in: "a chunk").published
    }

    /// `media(of:)`, each file one name inside its rendition's folder: a service fetches and
    /// stores them by these names.
    private static func checkedMedia(of manifest: ChunkManifest, in folder: String) throws(TranscodeError.Reason)
        -> (files: [String], published: [PublishedSegment]) {
        let media = media(of: manifest)
        for file in media.files {
            let parts = file.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            try LadderStitcher.checkPlainNames(parts.count == 2 ? parts : [file], in: folder)
        }
        return media
    }

    /// Every media file of the chunk, and the segments of its rungs and audio tracks (only
    /// the audio preview's with `previewOnly`).
    private static func media(of manifest: ChunkManifest, previewOnly: Bool = false) -> (files: [String], published: [PublishedSegment]) {
        var media: [String] = []
        var published: [PublishedSegment] = []
        func add(_ rendition: String, _ segments: [SegmentedMuxer.Segment], first: Int) {
            media.append("\(rendition)/init.mp4")
            for (offset, (segment, duration)) in zip(segments, PlaylistWriter.segmentDurations(segments)).enumerated() {
                media.append("\(rendition)/\(segment.fileName)")
                published.append(PublishedSegment(rendition: rendition, index: first + offset, uri: segment.fileName,
                                                  duration: duration, bytes: segment.bytes, start: segment.start))
            }
        }
        // Every audio track is in the EVENT playlists (chunk 0 encodes them all, or previews them).
        for audio in manifest.previewAudio ?? [] {
            add(audio.track?.folder ?? AudioRenditionWorker.name, audio.segments, first: 0)
        }
        guard !previewOnly else { return (media, published) }
        for rung in manifest.rungs { add(rung.rendition.name, rung.segments, first: manifest.chunk.firstSegment) }
        if let audio = manifest.audio { add(AudioRenditionWorker.name, audio.segments, first: 0) }
        for audio in manifest.alternateAudio ?? [] {
            add(audio.track?.folder ?? AudioRenditionWorker.name, audio.segments, first: 0)
        }
        return (media, published)
    }
}
