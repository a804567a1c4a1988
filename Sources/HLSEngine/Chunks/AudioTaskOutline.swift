import Foundation

/// What the audio task wrote (`audio.json`), read back from its folder, for a service that
/// stores the task's files as they are and stitches elsewhere (`LadderStitcher.segmentsStored`):
/// as `ChunkOutline` is for a chunk.
///
/// ```swift
/// let outline = try AudioTaskOutline(folder: "chunks/audio")
/// for file in outline.segmentFiles { upload(file, to: "ladder/\(file)") }
/// upload(AudioTaskOutline.manifestName, to: "ladder/.chunks/audio/\(AudioTaskOutline.manifestName)")
/// ```
public struct AudioTaskOutline: Sendable, Equatable {
    public static let manifestName = AudioTaskManifest.fileName
    public var chunkCount: Int
    /// Every track's `init.mp4` and segments, relative to the task's folder and to the
    /// ladder alike.
    public var segmentFiles: [String]
    /// Every track's segments, with their durations, as EVENT playlists name them; each
    /// `replaces` where the task abandoned its spans and went back to one encoder.
    public var published: [PublishedSegment]
    /// What a stitch with `segmentsStored` needs in the task's folder besides `audio.json`:
    /// every track's `init.mp4`, and the default track's segments (`download.mp4` is
    /// remuxed from them).
    public var stitchReadsBack: [String]

    /// - Throws: `TranscodeError.Reason.chunking` when `audio.json` is missing, of another
    ///   version, or names a file outside its folder.
    public init(folder: String) throws(TranscodeError.Reason) {
        let path = folder + "/" + AudioTaskManifest.fileName
        guard let data = FileManager.default.contents(atPath: path), data.count <= 16 << 20,
              let manifest = try? JSONDecoder().decode(AudioTaskManifest.self, from: data),
              manifest.version == AudioTaskManifest.version else {
            throw .chunking("\(path) is missing or is not an audio task's manifest of version \(AudioTaskManifest.version)")
        }
        chunkCount = manifest.chunkCount
        segmentFiles = []
        published = []
        stitchReadsBack = []
        for (position, audio) in manifest.tracks.enumerated() {
            let rendition = (audio.track ?? .main).folder
            try LadderStitcher.checkPlainNames([rendition] + audio.segments.map(\.fileName), in: folder)
            segmentFiles.append("\(rendition)/init.mp4")
            stitchReadsBack.append("\(rendition)/init.mp4")
            for (index, (segment, duration)) in zip(audio.segments, PlaylistWriter.segmentDurations(audio.segments)).enumerated() {
                segmentFiles.append("\(rendition)/\(segment.fileName)")
                if position == 0 { stitchReadsBack.append("\(rendition)/\(segment.fileName)") }
                published.append(PublishedSegment(rendition: rendition, index: index, uri: segment.fileName,
                                                  duration: duration, bytes: segment.bytes, start: segment.start,
                                                  replaces: manifest.spansDeclined == nil ? nil : true))
            }
        }
    }
}
