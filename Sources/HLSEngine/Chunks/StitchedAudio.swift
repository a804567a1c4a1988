import Foundation

extension LadderStitcher {
    /// Where the stitched ladder's audio comes from: chunk 0, or the audio task when chunk 0
    /// left the audio to it (`ChunkManifest.audioApart`). Checked to be encoded once, on
    /// the chunks' plan and with their timeline shift, or the audio would be another run's.
    struct AudioSource {
        /// The folder holding the tracks' folders.
        let folder: String
        /// The default track first, each with its folder.
        let tracks: [(audio: ChunkManifest.Audio, track: AudioTrack)]
        let loudness: [Loudness.Track]?
        /// Chunk 0's notes, and the audio task's.
        let notes: [String]?

        init(chunkZero: (folder: String, manifest: ChunkManifest),
             audioTask: (folder: String, manifest: AudioTaskManifest)?) throws(TranscodeError.Reason) {
            let first = chunkZero.manifest
            guard first.audioApart == true else {
                // An audio task of a source without audio brings nothing to choose between.
                if let audioTask, !audioTask.manifest.tracks.isEmpty {
                    throw .chunking("chunk 0 encoded the audio, so \(audioTask.folder) (an audio task's) is one too many")
                }
                folder = chunkZero.folder
                tracks = ([first.audio].compactMap { $0 } + (first.alternateAudio ?? [])).map { ($0, $0.track ?? .main) }
                try Self.checkNames(tracks, in: folder)
                loudness = first.loudness
                notes = first.notes
                return
            }
            guard let (folder, task) = audioTask else {
                throw .chunking("chunk 0 left the audio to the audio task (--only-audio), whose folder is not among the chunks'")
            }
            guard task.chunkCount == first.chunkCount, task.segmentCount == first.segmentCount,
                  task.segmentDuration == first.segmentDuration else {
                throw .chunking("\(folder) was cut on another plan than the chunks' (another source or other settings?)")
            }
            // Microseconds, as the muxers apply it.
            guard (task.timelineShift * 1e6).rounded(.up) == (first.timelineShift * 1e6).rounded(.up) else {
                throw .chunking("\(folder) is shifted by \(task.timelineShift) s where the chunks are by \(first.timelineShift) s (other settings?)")
            }
            self.folder = folder
            tracks = task.tracks.map { ($0, $0.track ?? .main) }
            try Self.checkNames(tracks, in: folder)
            loudness = task.loudness
            let all = (first.notes ?? []) + (task.notes ?? [])
            notes = all.isEmpty ? nil : all
        }

        private static func checkNames(_ tracks: [(audio: ChunkManifest.Audio, track: AudioTrack)],
                                       in folder: String) throws(TranscodeError.Reason) {
            for (audio, track) in tracks {
                try LadderStitcher.checkPlainNames([track.folder] + audio.segments.map(\.fileName), in: folder)
            }
        }
    }
}
