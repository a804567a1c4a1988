import Foundation

/// Adds a caption track to a finished ladder, or takes one away, touching text files only:
/// the track's WebVTT files, `master.m3u8` and `manifest.mpd`. It is what the service's
/// `POST` and `DELETE /api/videos/{id}/captions` do to a READY video.
///
///     let file = try CaptionFile(data: Data(contentsOf: srtURL))
///     let track = try SidecarCaptions(language: "fr", name: "Français", file: file)
///     let ladder = LadderCaptions(folder: "out", segmentsPlaylist: "360p/index.m3u8",
///                                 timelineShift: result.timelineShift ?? 0)
///     let added = try ladder.add(track, to: result.captions ?? [])
///
/// The folder needs `master.m3u8`, the media playlist whose segments the captions follow
/// (every rung is cut at the same times), and `manifest.mpd` when the ladder has one. Each is
/// rewritten whole, through a rename, and the master last: a player that reads the master
/// finds every file it names.
public struct LadderCaptions: Sendable {
    public let folder: String
    /// Relative to `folder`: "360p/index.m3u8".
    public let segmentsPlaylist: String
    /// `TranscodeResult.timelineShift`: media time = source time + this.
    public let timelineShift: Double

    public init(folder: String, segmentsPlaylist: String, timelineShift: Double) {
        self.folder = folder
        self.segmentsPlaylist = segmentsPlaylist
        self.timelineShift = timelineShift
    }

    /// What a change wrote, relative to `folder`, and the ladder's tracks after it.
    public struct Change: Sendable, Equatable {
        /// The caption files written (the track's), then the manifests, the master last.
        public var written: [String]
        /// The files of a replaced or removed track that are no longer named.
        public var removed: [String]
        public var captions: [TranscodeResult.Caption]

        /// What `written` stores first, in any order: the track's files (a film's are
        /// thousands of segments).
        public var trackFiles: [String] { written.filter { !Self.manifestNames.contains($0) } }
        /// Then these, in this order: the master last.
        public var manifests: [String] { written.filter { Self.manifestNames.contains($0) } }

        static let manifestNames: Set = [DASHManifest.fileName, "master.m3u8"]
    }

    /// Publishes `track` as a SUBTITLES rendition in `captions/LANG/`; the track already
    /// there (the first of that language) is replaced.
    /// - Throws: `TranscodeError.Reason.io` when a file cannot be read or written.
    public func add(_ track: SidecarCaptions, to existing: [TranscodeResult.Caption]) throws(TranscodeError.Reason) -> Change {
        let segments = try segmentTimes()
        let name = track.language
        let previous = existing.first { $0.playlist == "\(SubtitleRendition.folder)/\(name)/index.m3u8" }
        var oldFiles: [String] = []
        if let previous { oldFiles = try files(of: previous) }
        let rendition = try SubtitleRendition.write(track, name: name, segments: segments, shift: timelineShift, root: folder)
        let others = existing.filter { $0.playlist != rendition.uri }.map(\.name)
        let caption = TranscodeResult.Caption(language: track.language, name: SidecarCaptions.uniqueName(track.name, among: others),
                                              file: "\(SubtitleRendition.folder)/\(name).vtt",
                                              playlist: rendition.uri, forced: track.isForced, hearingImpaired: track.isHearingImpaired)
        let captions = existing.filter { $0.playlist != caption.playlist } + [caption]
        let trackFiles = try files(of: caption)
        let manifests = try rewriteManifests(captions)
        return Change(written: trackFiles + manifests, removed: oldFiles.filter { !trackFiles.contains($0) }, captions: captions)
    }

    /// Takes the track of `language` out of the ladder; nil when there is none.
    public func remove(language: String, from existing: [TranscodeResult.Caption]) throws(TranscodeError.Reason) -> Change? {
        guard let track = existing.first(where: { $0.playlist == "\(SubtitleRendition.folder)/\(language)/index.m3u8" })
                ?? existing.last(where: { $0.language == language }) else { return nil }
        let captions = existing.filter { $0 != track }
        let old = try files(of: track)
        let manifests = try rewriteManifests(captions)
        for file in old { try? FileManager.default.removeItem(atPath: folder + "/" + file) }
        return Change(written: manifests, removed: old, captions: captions)
    }

    // MARK: The ladder's files

    /// Where each segment starts and how long it lasts, from the EXTINF lines.
    func segmentTimes() throws(TranscodeError.Reason) -> [(start: Double, duration: Double)] {
        let durations = try read(segmentsPlaylist).split(separator: "\n").compactMap { line -> Double? in
            guard line.hasPrefix("#EXTINF:") else { return nil }
            return Double(line.dropFirst("#EXTINF:".count).prefix { $0 != "," })
        }
        guard !durations.isEmpty, durations.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw .io("\(segmentsPlaylist) names no segment")
        }
        var start = 0.0
        return durations.map { duration in
            defer { start += duration }
            return (start, duration)
        }
    }

    /// The track's whole file, its playlist and the segments the playlist names.
    private func files(of track: TranscodeResult.Caption) throws(TranscodeError.Reason) -> [String] {
        let base = track.playlist.split(separator: "/").dropLast().joined(separator: "/")
        guard let text = try? String(contentsOfFile: folder + "/" + track.playlist, encoding: .utf8) else {
            return [track.file, track.playlist]
        }
        let segments = text.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty && !$0.contains("/") }
        return [track.file] + segments.map { "\(base)/\($0)" } + [track.playlist]
    }

    /// The MPD's text AdaptationSets and the master's SUBTITLES renditions become
    /// `captions`'; returns what it rewrote, the master last.
    private func rewriteManifests(_ captions: [TranscodeResult.Caption]) throws(TranscodeError.Reason) -> [String] {
        var written: [String] = []
        if FileManager.default.fileExists(atPath: folder + "/" + DASHManifest.fileName) {
            let mpd = try read(DASHManifest.fileName)
            try OutputDirectory.writeAtomically(Self.replacingTextSets(in: mpd, with: captions), to: folder + "/" + DASHManifest.fileName)
            written.append(DASHManifest.fileName)
        }
        let master = try read("master.m3u8")
        try OutputDirectory.writeAtomically(Self.replacingSubtitles(in: master, with: captions), to: folder + "/master.m3u8")
        return written + ["master.m3u8"]
    }

    /// The master with exactly `captions` as its SUBTITLES group, named by every variant.
    static func replacingSubtitles(in master: String, with captions: [TranscodeResult.Caption]) -> String {
        let media = captions.map {
            MasterPlaylist.Subtitles(uri: $0.playlist, language: $0.language, name: $0.name, isForced: $0.forced,
                                     isHearingImpaired: $0.hearingImpaired == true).mediaTag
        }
        var lines: [String] = []
        var inserted = false
        for line in master.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("#EXT-X-MEDIA:") && line.contains("TYPE=SUBTITLES") { continue }
            if line.hasPrefix("#EXT-X-STREAM-INF:") {
                if !inserted { lines += media; inserted = true }
                var attributes = line.replacingOccurrences(of: ",SUBTITLES=\"\(MasterPlaylist.Subtitles.groupID)\"", with: "")
                if !captions.isEmpty { attributes += ",SUBTITLES=\"\(MasterPlaylist.Subtitles.groupID)\"" }
                lines.append(attributes)
                continue
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    /// The MPD with one text AdaptationSet per caption track, and no other.
    static func replacingTextSets(in mpd: String, with captions: [TranscodeResult.Caption]) -> String {
        var lines: [String] = []
        var skipping = false
        for line in mpd.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.contains("<AdaptationSet") && line.contains(#"contentType="text""#) { skipping = true }
            if skipping {
                if line.contains("</AdaptationSet>") { skipping = false }
                continue
            }
            if line.trimmingCharacters(in: .whitespaces) == "</Period>" {
                lines += DASHManifest.textAdaptationSets(captions.map {
                    .init(uri: $0.file, language: $0.language, name: $0.name, isForced: $0.forced,
                          isHearingImpaired: $0.hearingImpaired == true)
                })
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    private func read(_ relative: String) throws(TranscodeError.Reason) -> String {
        guard let text = try? String(contentsOfFile: folder + "/" + relative, encoding: .utf8) else {
            throw .io("cannot read \(relative) of the ladder")
        }
        return text
    }
}
