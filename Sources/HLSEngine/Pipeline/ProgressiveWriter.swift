import Foundation

/// Progressive publishing in the engine (`TranscodeOptions.progressive`): once every rung
/// has closed segment n, every EVENT playlist is rewritten atomically to name it; with the
/// first, the early master (`live.m3u8`) is written, once. Each step is
/// also reported as a `Publication`, for an app (or the service) that stores segments
/// as they come. Called from every rendition thread, so it serializes them.
final class ProgressiveWriter: @unchecked Sendable {
    // @unchecked: every mutable member is touched under `lock` only.
    private let lock = NSLock()
    private let output: OutputDirectory
    /// The AAC rate, nil without audio.
    private let audioBitrate: Int?
    private let renditions: [Rendition]
    private let frameRate: Double
    /// The audio renditions of a ladder with separate audio (DASH, or more than one
    /// track), the default first; empty when the rungs carry the audio.
    private let separateAudio: [SeparateAudio]
    private var ladder: ProgressiveLadder
    private var codecs: [String: String] = [:]
    private var masterWritten = false
    private let publish: @Sendable (Publication) -> Void

    /// One audio track of the early ladder, with its channel count.
    struct SeparateAudio {
        var track: AudioTrack
        var channels: Int
    }

    init(output: OutputDirectory, renditions: [Rendition], format: SegmentFormat, segmentDuration: Double,
         frameRate: Double, audioBitrate: Int?, separateAudio: [SeparateAudio] = [],
         publish: @escaping @Sendable (Publication) -> Void) {
        self.output = output
        self.renditions = renditions
        self.audioBitrate = audioBitrate
        self.frameRate = frameRate
        self.separateAudio = separateAudio
        self.publish = publish
        ladder = ProgressiveLadder(renditions: renditions.map(\.name) + separateAudio.map(\.track.folder),
                                   initializationURI: format.initializationName,
                                   segmentDuration: segmentDuration)
    }

    /// A rendition closed segment `index`; `codecs` is its encoder's real `avc1` string.
    func segmentClosed(_ segment: PublishedSegment, codecs: String?) throws(TranscodeError.Reason) {
        lock.lock()
        defer { lock.unlock() }
        if let codecs { self.codecs[segment.rendition] = codecs }
        // Every rung's playlist grows together, by the segments they all have now.
        let grew = ladder.add(segment)
        if grew {
            for rendition in ladder.renditions {
                try output.writeAtomically(ladder.eventPlaylist(rendition, ended: false),
                                           to: "\(rendition)/\(ProgressiveLadder.playlistName)")
            }
        }
        publish(.segment(segment))
        if grew, !masterWritten, ladder.isPlayable {
            let variants = earlyVariants()
            try output.writeAtomically(ladder.master(variants), to: ProgressiveLadder.masterName)
            masterWritten = true
            publish(.playable(variants))
        }
    }

    /// Every segment is in: each EVENT playlist gets EXT-X-ENDLIST (before `master.m3u8`).
    func finish() throws(TranscodeError.Reason) {
        lock.lock()
        defer { lock.unlock() }
        for rendition in ladder.renditions {
            try output.writeAtomically(ladder.eventPlaylist(rendition, ended: true),
                                       to: "\(rendition)/\(ProgressiveLadder.playlistName)")
        }
    }

    private func earlyVariants() -> [ProgressiveLadder.Variant] {
        let audio = audioBitrate ?? 0
        let video = renditions.map { rendition in
            let videoCodecs = codecs[rendition.name] ?? "avc1.640028"
            return ProgressiveLadder.Variant(
                name: rendition.name, width: rendition.width, height: rendition.height,
                bandwidth: rendition.maxBitrate + audio, averageBandwidth: rendition.videoBitrate + audio,
                codecs: audioBitrate != nil ? "\(videoCodecs),\(CodecString.aacLC)" : videoCodecs, frameRate: frameRate)
        }
        return video + separateAudio.map { separate in
            ProgressiveLadder.Variant(name: separate.track.folder, width: 0, height: 0, bandwidth: audio, averageBandwidth: audio,
                                      codecs: CodecString.aacLC, frameRate: 0, channels: separate.channels,
                                      language: separate.track.language, audioName: separate.track.name)
        }
    }
}
