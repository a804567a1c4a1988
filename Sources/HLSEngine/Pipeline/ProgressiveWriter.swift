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
    /// The caption tracks, by folder ("captions/eng"): each video segment published brings
    /// its WebVTT segment, so a viewer who watches while it transcodes has the captions.
    private let captions: [(folder: String, track: SidecarCaptions)]
    /// The first rung's timestamp shift, which the captions' X-TIMESTAMP-MAP carries.
    private var captionShift: Double?
    private var ladder: ProgressiveLadder
    private var codecs: [String: String] = [:]
    private var masterWritten = false
    /// The renditions whose published files are replaced before the run ends
    /// (`PublishedSegment.provisional`).
    private let provisional: Set<String>
    private let publish: @Sendable (Publication) -> Void

    /// One audio track of the early ladder, with its channel count.
    struct SeparateAudio {
        var track: AudioTrack
        var channels: Int
    }

    init(output: OutputDirectory, renditions: [Rendition], format: SegmentFormat, segmentDuration: Double,
         frameRate: Double, audioBitrate: Int?, separateAudio: [SeparateAudio] = [], captions: [SidecarCaptions] = [],
         provisional: Set<String> = [], publish: @escaping @Sendable (Publication) -> Void) {
        self.output = output
        self.provisional = provisional
        self.renditions = renditions
        self.audioBitrate = audioBitrate
        self.frameRate = frameRate
        self.separateAudio = separateAudio
        self.publish = publish
        ladder = ProgressiveLadder(renditions: renditions.map(\.name) + separateAudio.map(\.track.folder),
                                   initializationURI: format.initializationName,
                                   segmentDuration: segmentDuration)
        self.captions = zip(SubtitleRendition.names(captions), captions).map { ("\(SubtitleRendition.folder)/\($0)", $1) }
        if let rung = renditions.first?.name {
            for caption in self.captions { ladder.includeCaptions(caption.folder, following: rung) }
        }
    }

    /// A rendition closed segment `index`; `codecs` is its encoder's real `avc1` string, and
    /// `shift` its muxer's timestamp shift (known once it wrote a packet).
    func segmentClosed(_ closed: PublishedSegment, codecs: String?, shift: Double? = nil) throws(TranscodeError.Reason) {
        var segment = closed
        if provisional.contains(segment.rendition) { segment.provisional = true }
        lock.lock()
        defer { lock.unlock() }
        if let codecs { self.codecs[segment.rendition] = codecs }
        if segment.rendition == renditions.first?.name, captionShift == nil { captionShift = shift }
        // Every rung's playlist grows together, by the segments they all have now.
        let before = ladder.publishedCount
        let grew = ladder.add(segment)
        if grew {
            try writeCaptions(from: before)
            for rendition in ladder.renditions + ladder.captions {
                try output.writeAtomically(ladder.eventPlaylist(rendition, ended: false),
                                           to: "\(rendition)/\(ProgressiveLadder.playlistName)")
            }
        }
        publish(.segment(segment))
        if grew { try writeMasterIfPlayable() }
    }

    /// The early master, once every rendition has a segment (under `lock`).
    private func writeMasterIfPlayable() throws(TranscodeError.Reason) {
        guard !masterWritten, ladder.isPlayable else { return }
        let variants = earlyVariants()
        try output.writeAtomically(ladder.master(variants), to: ProgressiveLadder.masterName)
        masterWritten = true
        publish(.playable(variants))
    }

    /// `rendition` has closed its last segment while the others go on (a still picture's
    /// rung): its playlist ends, and the others' grow without waiting for it. Said to the
    /// publisher too, whose own ladder must know it (`Publication.ended`).
    func renditionEnded(_ rendition: String) throws(TranscodeError.Reason) {
        lock.lock()
        defer { lock.unlock() }
        let before = ladder.publishedCount
        let grew = ladder.end(rendition)
        try writeCaptions(from: before)
        for name in ladder.renditions + ladder.captions {
            try output.writeAtomically(ladder.eventPlaylist(name, ended: false), to: "\(name)/\(ProgressiveLadder.playlistName)")
        }
        publish(.ended(rendition))
        if grew { try writeMasterIfPlayable() }
    }

    /// Every segment is in: each EVENT playlist gets EXT-X-ENDLIST (before `master.m3u8`) and
    /// names all of its rendition's segments, with the caption segments of any the rungs
    /// had beyond what every rendition had.
    func finish() throws(TranscodeError.Reason) {
        lock.lock()
        defer { lock.unlock() }
        try writeCaptions(from: ladder.publishedCount, ended: true)
        for rendition in ladder.renditions + ladder.captions {
            try output.writeAtomically(ladder.eventPlaylist(rendition, ended: true),
                                       to: "\(rendition)/\(ProgressiveLadder.playlistName)")
        }
    }

    /// The caption segments of the video segments `first`… that every rung now has (`ended`:
    /// that the first rung has), cut as the VOD playlists' will be (the same start, duration
    /// and shift, so the same bytes); with the first, each track's whole file.
    private func writeCaptions(from first: Int, ended: Bool = false) throws(TranscodeError.Reason) {
        guard !captions.isEmpty, let rung = renditions.first?.name else { return }
        let segments = ended ? ladder.allSegments(of: rung) : ladder.segments(of: rung)
        guard first < segments.count else { return }
        for (folder, track) in captions {
            if first == 0 {
                do {
                    try FileManager.default.createDirectory(atPath: output.path + "/" + folder, withIntermediateDirectories: true)
                } catch {
                    throw .io("cannot write \(folder): \(error.localizedDescription)")
                }
                try output.writeAtomically(track.file.webVTT, to: folder + ".vtt")
            }
            var start = segments[..<first].reduce(0) { $0 + $1.duration }
            for segment in segments[first...] {
                let text = SubtitleRendition.segmentText(track, start: segment.start ?? start, duration: segment.duration,
                                                         shift: captionShift ?? 0)
                try output.writeAtomically(text, to: ProgressiveLadder.captionSegment(folder, segment.index))
                start += segment.duration
            }
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
                                      language: separate.track.language, audioName: separate.track.name,
                                      describesVideo: separate.track.describesVideo)
        } + captions.map { folder, track in
            ProgressiveLadder.Variant(name: folder, width: 0, height: 0, bandwidth: 0, averageBandwidth: 0, codecs: "wvtt",
                                      frameRate: 0, captions: .init(language: track.language, name: track.name,
                                                                    isForced: track.isForced, isHearingImpaired: track.isHearingImpaired))
        }
    }
}
