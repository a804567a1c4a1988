import Foundation
import HLSEngine
import Logging

/// Stores a progressive transcode's objects as the engine reports them, so a viewer can
/// start seconds after the upload: for each segment, the object first, then the EVENT
/// playlist that names it, rendered from what *this* store has stored (never from the
/// engine's own file, which may name segments not stored yet). Once every rung has a
/// stored segment, the early master (`live.m3u8`), then `onPlayable`. At the end the job
/// stores the engine's finished playlists (with EXT-X-ENDLIST) after every segment.
///
/// Segments may come from any encoder and in any order (`ProgressiveLadder` keeps the
/// contiguous run from 0), and are stored `storesAtOnce` at a time (`publishAll`): to a
/// remote bucket each put is a round trip, and one after another they held the first
/// playlists back and fell behind a fast encode. The playlists have one writer at a time,
/// each round from one state of the ladder, so none is overwritten by an older one.
///
/// An attempt that takes over a job first reads what the earlier one published, and
/// continues the same playlists: the heir cuts at the same frames with the same settings,
/// so its segment i has the timing of the stored segment i, which is kept, not stored
/// again, and an EVENT playlist never shrinks.
actor ProgressiveStore {
    private let storage: any ObjectStorage
    private let prefix: String
    private let work: URL
    private let logger: Logger
    private let onPlayable: @Sendable () async -> Void
    private var ladder: ProgressiveLadder
    /// Keys already in storage (from an earlier attempt, or stored here).
    private(set) var stored: Set<String>
    private var variants: [ProgressiveLadder.Variant]?
    private var masterStored = false
    /// The first storage failure: publishing stops, and the job's final store retries.
    private var failure: (any Error)?
    /// Puts in flight, by key: a rendition's `init.mp4` is stored once, by whichever of its
    /// segments comes first, and the others wait for that put.
    private var putting: [String: Task<Void, any Error>] = [:]
    /// The playlists' writer is at work; `playlistsStale`: the ladder changed since its round began.
    private var writingPlaylists = false
    private var playlistsStale = false
    /// Segments stored at once.
    static let storesAtOnce = 8

    /// - Parameters:
    ///   - work: the engine's output folder, where each reported file already is.
    ///   - existing: the keys under `prefix` before this attempt.
    init(storage: any ObjectStorage, prefix: String, work: URL, segmentDuration: Double,
         existing: Set<String>, logger: Logger, onPlayable: @escaping @Sendable () async -> Void) async {
        self.storage = storage
        self.prefix = prefix
        self.work = work
        self.logger = logger
        self.onPlayable = onPlayable
        self.stored = existing
        ladder = ProgressiveLadder(renditions: [], initializationURI: "init.mp4", segmentDuration: segmentDuration)
        masterStored = existing.contains("\(prefix)/\(ProgressiveLadder.masterName)")
        // What an earlier attempt published: its playlists' segments stay as they are.
        let suffix = "/" + ProgressiveLadder.playlistName
        for key in existing.sorted() where key.hasPrefix(prefix + "/") && key.hasSuffix(suffix) {
            let rendition = String(key.dropFirst(prefix.count + 1).dropLast(suffix.count))
            guard !rendition.isEmpty, !rendition.contains("/"), let text = try? await storage.data(key: key) else { continue }
            ladder.include(rendition)
            let playlist = String(decoding: text, as: UTF8.self)
            for segment in Self.segments(inPlaylist: playlist, rendition: rendition) {
                ladder.add(segment)
            }
            // Ended while the others went on (a still picture's rung): it holds none back,
            // and stays ended (read as growing, it shrank the sound's playlist to its one
            // segment on the heir's first `playable`).
            if playlist.contains("#EXT-X-ENDLIST") { ladder.end(rendition) }
        }
    }

    /// Whether an earlier attempt already made the video playable.
    var wasPlayable: Bool { masterStored }

    /// Stores the engine's publications as they come, `storesAtOnce` segments at a time, and
    /// hands each, in order, to `alsoTo` as it comes: a segment there may not be stored yet.
    /// A `.playable` or `.ended` waits for the segments reported before it, as the engine's
    /// order says it may.
    nonisolated func publishAll(_ publications: AsyncStream<Publication>,
                                alsoTo other: (@Sendable (Publication) async -> Void)?) async {
        await withTaskGroup(of: Void.self) { group in
            var running = 0
            for await publication in publications {
                if case .segment = publication {
                    if running == Self.storesAtOnce {
                        await group.next()
                        running -= 1
                    }
                    group.addTask { await self.publish(publication) }
                    running += 1
                } else {
                    await group.waitForAll()
                    running = 0
                    await publish(publication)
                }
                await other?(publication)
            }
        }
    }

    func publish(_ publication: Publication) async {
        guard failure == nil else { return }
        do {
            switch publication {
            case .segment(let segment):
                ladder.include(segment.rendition)
                try await store(segment)
            case .playable(let variants):
                // The engine says so once every rung has reported a segment, and each
                // one it reported before this is stored by now (publications are in order).
                let rungs = variants.filter { $0.captions == nil }
                rungs.forEach { ladder.include($0.name) }
                if let rung = rungs.first(where: { $0.channels == nil }) {
                    for track in variants where track.captions != nil { ladder.includeCaptions(track.name, following: rung.name) }
                }
                self.variants = variants
                try await playlistsChanged()
            case .ended(let rendition):
                // A still picture's rung is done: the sound's playlists stop waiting for it.
                ladder.end(rendition)
                try await playlistsChanged()
            }
        } catch {
            failure = error
            logger.warning("progressive publishing stopped", metadata: ["error": "\(error)"])
        }
    }

    private func store(_ segment: PublishedSegment) async throws {
        // A segment an earlier attempt stored is kept: same index, same timing.
        guard !ladder.has(segment.rendition, segment.index) else { return }
        // A provisional one (audio before its loudness gain) is kept out of caches; the job's
        // final store (or the stitch) writes its replacement as any other segment.
        let provisional = segment.provisional == true
        async let initialization: Void = putFile("\(segment.rendition)/init.mp4", provisional: provisional)
        try await putFile("\(segment.rendition)/\(segment.uri)", provisional: provisional)
        try await initialization
        // Stored, so the playlists may name it once every rung has its segment of that index.
        if ladder.add(segment) { try await playlistsChanged() }
    }

    /// The ladder changed: its playlists are stored again. One writer at a time: a change
    /// while it writes sends it round once more, from the ladder as it is then.
    private func playlistsChanged() async throws {
        playlistsStale = true
        guard !writingPlaylists else { return }
        writingPlaylists = true
        defer { writingPlaylists = false }
        while playlistsStale {
            playlistsStale = false
            try await storePlaylists(ladder)
        }
    }

    /// Every rung's EVENT playlist as `snapshot` has them, once the whole ladder is known
    /// (from `.playable`, or from an earlier attempt's playlists: before that no master
    /// names them), all at once; then the master, if they make the video playable.
    private func storePlaylists(_ snapshot: ProgressiveLadder) async throws {
        guard variants != nil || masterStored else { return }
        try await storeCaptions(snapshot)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for rendition in snapshot.renditions + snapshot.captions {
                let text = snapshot.eventPlaylist(rendition, ended: false)
                group.addTask { try await self.putText(text, "\(rendition)/\(ProgressiveLadder.playlistName)") }
            }
            try await group.waitForAll()
        }
        try await storeMasterIfPlayable(snapshot)
    }

    /// Each caption track's whole file and the WebVTT segments its playlist is about to
    /// name: the engine wrote them before it reported the video segments they follow.
    private func storeCaptions(_ snapshot: ProgressiveLadder) async throws {
        // As many as the rung they follow has in its playlist (fewer than the sound's, once
        // a still picture's rung has ended).
        let indices = snapshot.captionRung.map { snapshot.segments(of: $0).map(\.index) } ?? []
        let files = snapshot.captions.flatMap { folder in
            [folder + ".vtt"] + indices.map { ProgressiveLadder.captionSegment(folder, $0) }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for file in files { group.addTask { try await self.putFile(file) } }
            try await group.waitForAll()
        }
    }

    private func storeMasterIfPlayable(_ snapshot: ProgressiveLadder) async throws {
        guard !masterStored, snapshot.isPlayable, let variants else { return }
        try await putText(snapshot.master(variants), ProgressiveLadder.masterName)
        masterStored = true
        logger.info("playable while transcoding")
        await onPlayable()
    }

    private func putFile(_ relative: String, provisional: Bool = false) async throws {
        let key = "\(prefix)/\(relative)"
        guard !stored.contains(key) else { return }
        if let running = putting[key] { return try await running.value }
        let type = provisional ? HLSContentType.forPath(relative).provisional : HLSContentType.forPath(relative)
        let storage = self.storage, file = work.appendingPathComponent(relative)
        let put = Task { try await storage.put(file: file, key: key, contentType: type.contentType, cacheControl: type.cacheControl) }
        putting[key] = put
        defer { putting[key] = nil }
        try await withTaskCancellationHandler { try await put.value } onCancel: { put.cancel() }
        stored.insert(key)
    }

    /// A playlist changes: stored each time, with a short cache life (HLSContentType).
    private func putText(_ text: String, _ relative: String) async throws {
        let file = work.appendingPathComponent(relative + ".publishing")
        try Data(text.utf8).write(to: file, options: .atomic)
        defer { try? FileManager.default.removeItem(at: file) }
        let type = HLSContentType.forPath(relative)
        let key = "\(prefix)/\(relative)"
        try await storage.put(file: file, key: key, contentType: type.contentType, cacheControl: type.cacheControl)
        stored.insert(key)
    }

    /// The segments an EVENT playlist names, with their durations.
    static func segments(inPlaylist text: String, rendition: String) -> [PublishedSegment] {
        var segments: [PublishedSegment] = []
        var duration: Double?
        for line in text.split(separator: "\n") {
            if line.hasPrefix("#EXTINF:") {
                duration = Double(line.dropFirst(8).split(separator: ",").first ?? "")
            } else if !line.hasPrefix("#"), let seconds = duration, seconds.isFinite, seconds > 0 {
                segments.append(PublishedSegment(rendition: rendition, index: segments.count, uri: String(line),
                                                 duration: seconds, bytes: 0))
                duration = nil
            }
        }
        return segments
    }
}
