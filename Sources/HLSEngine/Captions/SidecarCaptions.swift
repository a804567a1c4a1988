import Foundation

/// A caption file given with the video (`vstream transcode --captions FILE:LANG[:NAME]`),
/// published as a WebVTT SUBTITLES rendition of the ladder.
public struct SidecarCaptions: Sendable, Equatable, Codable {
    /// ISO 639 (`eng`, `fr`, `pt-BR`): letters and hyphens, at most 16.
    public var language: String
    public var name: String
    public var file: CaptionFile
    /// Shown even with captions off (a source stream's `forced` disposition).
    public var isForced = false
    /// Captions for the deaf and hard of hearing, which describe sounds as well as speech
    /// (a source stream's `hearing impaired` disposition). Nil otherwise, and in manifests
    /// written before it.
    public var isHearingImpaired: Bool?

    /// - Parameter isHearingImpaired: captions for the deaf and hard of hearing (SDH); an
    ///   untitled track is then named so: "English (SDH)".
    /// - Throws: a `CaptionFile.Refusal` for a language that is not a tag.
    public init(language: String, name: String?, file: CaptionFile, isHearingImpaired: Bool = false) throws(CaptionFile.Refusal) {
        let tag = language.trimmingCharacters(in: .whitespaces)
        guard !tag.isEmpty, tag.count <= 16, tag.allSatisfy({ ($0.isASCII && $0.isLetter) || $0 == "-" }) else {
            throw CaptionFile.Refusal(reason: "the language must be a tag such as eng, fr or pt-BR")
        }
        self.language = tag
        let given = (name ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let untitled = isHearingImpaired ? "\(Self.name(language: tag)) (SDH)" : Self.name(language: tag)
        self.name = given.isEmpty ? untitled : String(given.prefix(100))
        self.file = file
        self.isHearingImpaired = isHearingImpaired ? true : nil
    }

    /// What a player's menu shows for a track with no title: its language's English name
    /// ("English" for eng or en, as an audio track's), else "Captions". Before, the tag.
    static func name(language: String) -> String {
        guard language != "und" else { return "Captions" }
        return Locale(identifier: "en_US").localizedString(forLanguageCode: language) ?? language
    }

    /// `name`, or with " (2)", " (3)"… if a track in `taken` has it: NAME is unique in a
    /// group (RFC 8216 §4.3.4.1.1), and two English tracks were both "eng".
    static func uniqueName(_ name: String, among taken: [String]) -> String {
        guard taken.contains(name) else { return name }
        return (2...).lazy.map { "\(name) (\($0))" }.first { !taken.contains($0) } ?? name
    }

    /// `all`, each named uniquely among the ones before it.
    static func uniquelyNamed(_ all: [SidecarCaptions]) -> [SidecarCaptions] {
        var named: [SidecarCaptions] = []
        for var track in all {
            track.name = uniqueName(track.name, among: named.map(\.name))
            named.append(track)
        }
        return named
    }
}

/// Writes a caption track beside the ladder: the whole file (`captions/LANG.vtt`, for the
/// page and for download) and the HLS rendition (`captions/LANG/index.m3u8`), one WebVTT
/// segment per video segment, on the same boundaries, each with the `X-TIMESTAMP-MAP` that
/// puts its times on the media's timeline (RFC 8216 §3.5): the video's timestamps are
/// shifted by the muxer's `shift`, so local 0 is that shift in 90 kHz ticks.
enum SubtitleRendition {
    static let folder = "captions"
    /// Cue text one WebVTT segment may hold: cues that all overlap would otherwise repeat a
    /// track's whole text in every segment they span.
    static let maxSegmentBytes = 64 << 10

    /// - Parameters:
    ///   - segments: the video's segments, in order: where each starts and how long it lasts.
    ///   - index: the track's place among `all`: a second track of one language gets "eng-2".
    static func write(_ captions: SidecarCaptions, index: Int, of all: [SidecarCaptions], segments: [(start: Double, duration: Double)],
                      shift: Double, output: OutputDirectory) throws -> MasterPlaylist.Subtitles {
        try write(captions, name: names(all)[index], segments: segments, shift: shift, root: output.path)
    }

    /// Each track's folder name under `captions/`: its language, the second of one language
    /// "eng-2", and so on.
    static func names(_ all: [SidecarCaptions]) -> [String] {
        all.indices.map { index in
            let earlier = all[..<index].filter { $0.language == all[index].language }.count
            return earlier == 0 ? all[index].language : "\(all[index].language)-\(earlier + 1)"
        }
    }

    /// Writes every track on `segments`, the tracks of one language numbered (eng, eng-2).
    static func writeAll(_ captions: [SidecarCaptions], segments: [(start: Double, duration: Double)], shift: Double,
                         output: OutputDirectory) throws -> [MasterPlaylist.Subtitles] {
        try captions.indices.map { try write(captions[$0], index: $0, of: captions, segments: segments, shift: shift, output: output) }
    }

    /// The tracks as a result lists them: the whole file beside each rendition's folder.
    static func published(_ subtitles: [MasterPlaylist.Subtitles]) -> [TranscodeResult.Caption] {
        subtitles.map {
            TranscodeResult.Caption(language: $0.language, name: $0.name,
                                    file: $0.uri.split(separator: "/").dropLast().joined(separator: "/") + ".vtt",
                                    playlist: $0.uri, forced: $0.isForced, hearingImpaired: $0.isHearingImpaired ? true : nil)
        }
    }

    /// Where each segment of a rung starts, and how long it lasts.
    static func timeline(_ segments: [SegmentedMuxer.Segment]) -> [(start: Double, duration: Double)] {
        zip(segments, PlaylistWriter.segmentDurations(segments)).map { (start: $0.start ?? 0, duration: $1) }
    }

    /// The WebVTT segment `number` of a track, in its folder.
    static func segmentName(_ number: Int) -> String { String(format: "segment_%05d.vtt", number) }

    /// The WebVTT segment of the video segment that starts at `start` (source seconds) and
    /// lasts `duration`: every cue that shows during it (one that spans a boundary is in
    /// both), a pile of overlapping cues bounded (the whole file keeps them).
    static func segmentText(_ captions: SidecarCaptions, start: Double, duration: Double, shift: Double) -> String {
        let map = "X-TIMESTAMP-MAP=MPEGTS:\(Int64((shift * 90_000).rounded())),LOCAL:00:00:00.000"
        let end = start + duration
        var body: [String] = []
        var characters = 0
        for cue in captions.file.cues.prefix(while: { $0.start < end }) where cue.end > start {
            let text = "\n\(CaptionFile.vttTime(cue.start)) --> \(CaptionFile.vttTime(cue.end))\n\(CaptionFile.escaped(cue.text))\n"
            characters += text.utf8.count
            if characters > maxSegmentBytes { break }
            body.append(text)
        }
        return "WEBVTT\n\(map)\n" + body.joined()
    }

    /// Writes the track as `captions/NAME.vtt` and `captions/NAME/` under the ladder at `root`.
    static func write(_ captions: SidecarCaptions, name: String, segments: [(start: Double, duration: Double)],
                      shift: Double, root: String) throws(TranscodeError.Reason) -> MasterPlaylist.Subtitles {
        let folder = "\(Self.folder)/\(name)"
        do {
            try FileManager.default.createDirectory(atPath: root + "/" + folder, withIntermediateDirectories: true)
        } catch {
            throw TranscodeError.Reason.io("cannot write \(folder): \(error.localizedDescription)")
        }
        try OutputDirectory.writeAtomically(captions.file.webVTT, to: "\(root)/\(Self.folder)/\(name).vtt")
        var playlistSegments: [MediaPlaylist.Segment] = []
        for (number, segment) in segments.enumerated() {
            let uri = segmentName(number)
            try OutputDirectory.writeAtomically(segmentText(captions, start: segment.start, duration: segment.duration, shift: shift),
                                                to: "\(root)/\(folder)/\(uri)")
            playlistSegments.append(.init(uri: uri, duration: segment.duration))
        }
        try OutputDirectory.writeAtomically(MediaPlaylist(initializationURI: nil, segments: playlistSegments).render(),
                                            to: "\(root)/\(folder)/index.m3u8")
        return MasterPlaylist.Subtitles(uri: "\(folder)/index.m3u8", language: captions.language, name: captions.name,
                                        isForced: captions.isForced, isHearingImpaired: captions.isHearingImpaired == true)
    }
}
