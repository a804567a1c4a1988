import Foundation

/// Joins the chunks of a split-and-stitch transcode into one ladder.
///
/// Each chunk run (`TranscodeOptions.chunk`) wrote its rungs' segments with the numbers
/// and `tfdt` a whole-file run gives them, and chunk 0 or the audio task (a folder with
/// `audio.json` among the chunks') wrote the whole file's audio, so the stitch copies no
/// media: it verifies, moves the segments into place, and writes
/// the VOD playlists, `master.m3u8` (bandwidths measured over the whole ladder) and
/// `manifest.mpd` from the chunks' measured segments.
///
/// It verifies before it trusts, and fails loudly: every chunk of the plan present
/// exactly once, segment numbers contiguous, the same rungs everywhere, each rung's
/// `init.mp4` byte-identical across chunks (the same SPS/PPS: players switch between
/// chunks without a new initialization segment), and the audio encoded once, on the
/// chunks' plan and timeline.
///
/// ```swift
/// // Four chunks encoded anywhere (here, in turn), then one ladder:
/// var options = TranscodeOptions()
/// for index in 0..<4 {
///     options.chunk = ChunkSelection(index: index, seconds: 10)
///     _ = try await Transcoder(input: "film.mp4", output: "chunks/\(index)", options: options).run()
/// }
/// let result = try LadderStitcher(output: "film", chunks: (0..<4).map { "chunks/\($0)" }).stitch()
/// print(result.masterPlaylist)
/// ```
///
/// With the audio as a task of its own, chunk 0 leaves it out and the audio task's folder
/// joins the chunks':
///
/// ```swift
/// options.chunk = .audioTask(seconds: 10)
/// _ = try await Transcoder(input: "film.mp4", output: "chunks/audio", options: options).run()
/// options.chunk = ChunkSelection(index: 0, seconds: 10, audio: .apart)
/// _ = try await Transcoder(input: "film.mp4", output: "chunks/0", options: options).run()
/// // ... chunks 1 to 3 as above, then:
/// _ = try LadderStitcher(output: "film", chunks: ["chunks/audio"] + (0..<4).map { "chunks/\($0)" }).stitch()
/// ```
public struct LadderStitcher: Sendable {
    public let output: String
    public let chunks: [String]
    /// The segments are already where the ladder is served from (a service stored each
    /// chunk's segments at their final keys, and checked them there): the chunk folders
    /// hold each `chunk.json`, every rung's `init.mp4`, the poster and storyboard tiles,
    /// and only the segments `download.mp4` is remuxed from (its rung's and the audio's).
    /// The stitch then writes the playlists, the master and the manifest, and moves no
    /// other segment.
    public let segmentsStored: Bool

    /// - Parameters:
    ///   - output: the ladder's folder (made if missing).
    ///   - chunks: the chunk runs' output folders, in any order, and the audio task's if
    ///     chunk 0 left the audio to it. Their segments are moved into `output`; each keeps
    ///     its `chunk.json` (`audio.json`).
    public init(output: String, chunks: [String], segmentsStored: Bool = false) {
        self.output = output
        self.chunks = chunks
        self.segmentsStored = segmentsStored
    }

    /// The rungs whose segments the stitch needs in the chunk folders: all of them, or
    /// with `segmentsStored` only the download's (nil: none; audio goes with it).
    private func rungsMoved(_ first: ChunkManifest, audio: AudioSource) -> Set<String> {
        guard segmentsStored else { return Set(first.rungs.map(\.rendition.name) + audio.tracks.map(\.track.folder)) }
        guard let rung = first.downloadRung.flatMap({ Ladder.downloadRendition(first.rungs.map(\.rendition), preferred: $0) }) else {
            return []
        }
        return [rung.name, AudioRenditionWorker.name]
    }

    /// - Throws: `TranscodeError` with `.chunking` naming what does not fit.
    public func stitch() throws(TranscodeError) -> TranscodeResult {
        let started = ContinuousClock.now
        var directory: OutputDirectory?
        do {
            let target = URL(fileURLWithPath: output).standardizedFileURL.path
            guard !chunks.contains(where: { URL(fileURLWithPath: $0).standardizedFileURL.path == target }) else {
                throw TranscodeError.Reason.chunking("the ladder cannot be written into one of its chunks' folders")
            }
            let (manifests, audioTask) = try loadedManifests()
            let first = manifests[0].manifest
            let names = first.rungs.map(\.rendition.name)
            let audioSource = try AudioSource(chunkZero: manifests[0], audioTask: audioTask)
            let audioTracks = audioSource.tracks
            let audioFolder = audioTracks.map(\.track.folder)
            let tiles = manifests.allSatisfy { $0.manifest.storyboardTiles != nil } ? [Storyboard.folder] : []
            let captions = first.captions ?? []
            directory = try OutputDirectory(path: output, renditions: names + audioFolder + tiles
                                                + (captions.isEmpty ? [] : [SubtitleRendition.folder]))
            guard let directory else { throw TranscodeError.Reason.io("no output directory") }
            // Every check before the first move: a refused stitch leaves the chunks whole.
            let initializations = try first.rungs.map { try Self.initialization(of: $0.rendition.name, in: manifests.map(\.folder)) }
            let moved = rungsMoved(first, audio: audioSource)
            try Self.checkFilesExist(manifests, rungs: moved, audio: audioSource)
            for (index, rung) in first.rungs.enumerated() {
                try Self.place(initializations[index], at: directory.directory(for: rung.rendition.name) + "/init.mp4")
                for (folder, manifest) in manifests where moved.contains(rung.rendition.name) {
                    for segment in manifest.rungs[index].segments {
                        try Self.place(folder + "/\(rung.rendition.name)/\(segment.fileName)",
                                       at: directory.directory(for: rung.rendition.name) + "/\(segment.fileName)")
                    }
                }
            }
            // The default track's init.mp4 always comes back (download.mp4 needs it); the
            // other tracks' files are already stored when the segments are.
            for (position, (audio, track)) in audioTracks.enumerated() where position == 0 || !segmentsStored {
                let folder = audioSource.folder + "/" + track.folder
                try Self.place(folder + "/init.mp4", at: directory.directory(for: track.folder) + "/init.mp4")
                for segment in audio.segments where moved.contains(track.folder) {
                    try Self.place(folder + "/\(segment.fileName)", at: directory.directory(for: track.folder) + "/\(segment.fileName)")
                }
            }
            let variants = first.rungs.indices.map { index in
                let rungs = manifests.map { $0.manifest.rungs[index] }
                return PlaylistWriter.Variant(
                    rendition: rungs[0].rendition, segments: rungs.flatMap(\.segments),
                    initializationBytes: rungs[0].initializationBytes, codecs: rungs[0].codecs,
                    frames: rungs.reduce(0) { $0 + $1.frames }, timescale: rungs[0].timescale,
                    nominalFrameRate: first.nominalFrameRate)
            }
            let audio = audioTracks.map { audio, track in
                PlaylistWriter.Audio(segments: audio.segments, channels: audio.channels, sampleRate: audio.sampleRate,
                                     timescale: audio.timescale, track: track)
            }
            if let holder = manifests.first(where: { $0.manifest.poster }) {
                try Self.place(holder.folder + "/poster.jpg", at: directory.posterPath)
            }
            let storyboard = tiles.isEmpty ? nil : try Self.storyboard(manifests, into: directory)
            // download.mp4 before the master, as a whole run writes it: the master means complete.
            let download = try first.downloadRung.flatMap { Ladder.downloadRendition(first.rungs.map(\.rendition), preferred: $0) }
                .map { rung -> TranscodeResult.Download in
                    let index = first.rungs.firstIndex { $0.rendition == rung } ?? 0
                    let bytes = try StitchedDownload.write(
                        to: directory.path,
                        video: (directory.directory(for: rung.name), variants[index].segments.map(\.fileName)),
                        audio: audio.first.map { (directory.directory(for: AudioRenditionWorker.name), $0.segments.map(\.fileName)) },
                        shift: first.timelineShift)
                    return TranscodeResult.Download(file: TranscodeResult.Download.fileName, rendition: rung.name, bytes: bytes)
                }
            // The caption tracks on the whole video's segments, as a whole run cuts them.
            let subtitles = try SubtitleRendition.writeAll(captions, segments: SubtitleRendition.timeline(variants.first?.segments ?? []),
                                                           shift: first.timelineShift, output: directory)
            let written = try PlaylistWriter(output: directory, format: first.segmentFormat, hasAudio: first.hasAudio)
                .write(variants, audio: audio, dash: true, segmentDuration: first.segmentDuration, subtitles: subtitles)
            return TranscodeResult(
                masterPlaylist: directory.masterPath, durationSeconds: written.duration, sourceFrames: first.sourceFrames,
                hasAudio: first.hasAudio, segmentFormat: first.segmentFormat, renditions: written.renditions,
                poster: FileManager.default.fileExists(atPath: directory.posterPath) ? "poster.jpg" : nil,
                storyboard: storyboard, wallSeconds: (ContinuousClock.now - started) / .seconds(1),
                corruptPackets: manifests.reduce(audioTask?.manifest.corruptPackets ?? 0) { $0 + $1.manifest.corruptPackets }, download: download,
                dashManifest: written.dash, captions: subtitles.isEmpty ? nil : SubtitleRendition.published(subtitles),
                timelineShift: first.timelineShift, notes: audioSource.notes,
                audioTracks: audioTracks.isEmpty ? nil : audioTracks.map(\.track), loudness: audioSource.loudness)
        } catch {
            directory?.removeEverythingWritten()
            let reason = (error as? TranscodeError.Reason) ?? (error as? TranscodeError)?.reason ?? .io(String(describing: error))
            throw TranscodeError(input: chunks.first ?? output, reason: reason)
        }
    }

    /// Every chunk's manifest, in order, checked to form one whole plan, and the audio
    /// task's, if one of the folders is its.
    private func loadedManifests() throws -> (chunks: [(folder: String, manifest: ChunkManifest)],
                                              audioTask: (folder: String, manifest: AudioTaskManifest)?) {
        let audioTasks = try chunks.filter { FileManager.default.fileExists(atPath: $0 + "/" + AudioTaskManifest.fileName) }
            .map { folder -> (folder: String, manifest: AudioTaskManifest) in
                (folder, try Self.manifest(at: folder + "/" + AudioTaskManifest.fileName, of: "an audio task",
                                           version: \AudioTaskManifest.version, reads: AudioTaskManifest.version))
            }
        guard audioTasks.count <= 1 else {
            throw TranscodeError.Reason.chunking("more than one audio task's folder: \(audioTasks.map(\.folder))")
        }
        let chunkFolders = chunks.filter { folder in !audioTasks.contains { $0.folder == folder } }
        guard !chunkFolders.isEmpty else { throw TranscodeError.Reason.chunking("no chunk to stitch") }
        let loaded = try chunkFolders.map { folder -> (folder: String, manifest: ChunkManifest) in
            (folder, try Self.manifest(at: folder + "/" + ChunkManifest.fileName, of: "a chunk",
                                       version: \ChunkManifest.version, reads: ChunkManifest.version))
        }.sorted { $0.manifest.chunk.index < $1.manifest.chunk.index }
        let first = loaded[0].manifest
        guard loaded.map(\.manifest.chunk.index) == Array(0..<first.chunkCount) else {
            throw TranscodeError.Reason.chunking("the plan has \(first.chunkCount) chunks; given: \(loaded.map(\.manifest.chunk.index))")
        }
        var next = 0
        for (folder, manifest) in loaded {
            guard manifest.chunk.firstSegment == next, manifest.chunkCount == first.chunkCount,
                  manifest.segmentCount == first.segmentCount, manifest.segmentDuration == first.segmentDuration else {
                throw TranscodeError.Reason.chunking("\(folder) does not follow on from the chunk before it (another source or other settings?)")
            }
            guard manifest.rungs.map(\.rendition) == first.rungs.map(\.rendition) else {
                throw TranscodeError.Reason.chunking("\(folder) has other rungs than chunk 0")
            }
            for rung in manifest.rungs where rung.segments.count != manifest.chunk.segmentCount {
                throw TranscodeError.Reason.chunking("\(folder) has \(rung.segments.count) \(rung.rendition.name) segments, not \(manifest.chunk.segmentCount)")
            }
            for rung in manifest.rungs {
                try Self.checkPlainNames([rung.rendition.name] + rung.segments.map(\.fileName), in: folder)
            }
            next = manifest.chunk.endSegment
        }
        guard next == first.segmentCount else { throw TranscodeError.Reason.chunking("the chunks end at segment \(next) of \(first.segmentCount)") }
        return (loaded, audioTasks.first)
    }

    /// Every folder and file name a manifest gives is one name, inside its folder: the stitch
    /// moves and removes files by them, and a manifest is only a claim (one naming
    /// `../../x.m4s` had a refused stitch delete a file outside the ladder).
    static func checkPlainNames(_ names: [String], in folder: String) throws(TranscodeError.Reason) {
        for name in names where name.isEmpty || name == "." || name == ".." || name.utf8.count > 255
            || name.contains("/") || name.contains("\\") || name.contains("\0") {
            throw .chunking("\(folder)'s manifest names a file outside its folder")
        }
    }

    /// The manifest a run wrote at `path` (bounded), of the version this stitch reads.
    private static func manifest<Manifest: Decodable>(at path: String, of run: String, version: KeyPath<Manifest, Int>,
                                                      reads expected: Int) throws -> Manifest {
        guard let data = FileManager.default.contents(atPath: path), data.count <= 16 << 20,
              let manifest = try? JSONDecoder().decode(Manifest.self, from: data) else {
            throw TranscodeError.Reason.chunking("\(path) is missing or is not \(run)'s manifest")
        }
        guard manifest[keyPath: version] == expected else {
            throw TranscodeError.Reason.chunking("\(path) is of version \(manifest[keyPath: version]); this stitch reads \(expected)")
        }
        return manifest
    }

    /// The chunks' raw tiles, in order, packed into sheets as a whole run packs them, and
    /// `storyboard.vtt`; a nicety, so a gap leaves the storyboard out, never the ladder.
    private static func storyboard(_ manifests: [(folder: String, manifest: ChunkManifest)],
                                   into directory: OutputDirectory) throws -> String? {
        let first = manifests[0].manifest
        guard let top = first.rungs.last?.rendition else { return nil }
        let layout = Storyboard(pictureWidth: top.width, pictureHeight: top.height, interval: first.storyboardInterval)
        let writer = try StoryboardWriter(layout: layout, rotation: 0, output: directory)
        var index = 0
        for (folder, manifest) in manifests {
            for _ in 0..<(manifest.storyboardTiles ?? 0) {
                guard let bytes = FileManager.default.contents(atPath: folder + "/" + StoryboardWriter.tilePath(index)) else {
                    try? FileManager.default.removeItem(atPath: directory.directory(for: Storyboard.folder))
                    return nil
                }
                try writer.placeKept(bytes)
                index += 1
            }
        }
        try writer.finish(duration: first.videoDuration)
        return Storyboard.indexName
    }

    /// Every segment each manifest names (and the audio's) is there to be moved.
    private static func checkFilesExist(_ manifests: [(folder: String, manifest: ChunkManifest)], rungs: Set<String>,
                                        audio: AudioSource) throws {
        var paths: [String] = []
        for (folder, manifest) in manifests {
            paths += manifest.rungs.filter { rungs.contains($0.rendition.name) }.flatMap { rung in
                rung.segments.map { "\(folder)/\(rung.rendition.name)/\($0.fileName)" }
            }
        }
        for (position, (track, info)) in audio.tracks.enumerated() where position == 0 || rungs.contains(info.folder) {
            paths += ["\(audio.folder)/\(info.folder)/init.mp4"]
            paths += rungs.contains(info.folder) ? track.segments.map { "\(audio.folder)/\(info.folder)/\($0.fileName)" } : []
        }
        if let missing = paths.first(where: { !FileManager.default.fileExists(atPath: $0) }) {
            throw TranscodeError.Reason.chunking("\(missing) is missing")
        }
    }

    /// The rung's `init.mp4`, the same in every chunk (else the stitch would lie).
    private static func initialization(of rung: String, in folders: [String]) throws -> String {
        let paths = folders.map { $0 + "/\(rung)/init.mp4" }
        guard let reference = FileManager.default.contents(atPath: paths[0]) else {
            throw TranscodeError.Reason.chunking("\(paths[0]) is missing")
        }
        for path in paths.dropFirst() where FileManager.default.contents(atPath: path) != reference {
            throw TranscodeError.Reason.chunking("\(rung)/init.mp4 of \(path) differs from chunk 0's: the chunks were encoded with other settings")
        }
        return paths[0]
    }

    /// Moves a file into the ladder (a copy across file systems).
    private static func place(_ source: String, at target: String) throws {
        let manager = FileManager.default
        guard manager.fileExists(atPath: source) else { throw TranscodeError.Reason.chunking("\(source) is missing") }
        if manager.fileExists(atPath: target) { try manager.removeItem(atPath: target) }
        if rename(source, target) != 0 { try manager.copyItem(atPath: source, toPath: target) }
    }
}
