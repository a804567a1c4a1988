import Foundation
import HLSEngine
import Hummingbird

/// The video list, one video, its settings, its deletion, its playback URL and its live
/// events. Every route asks `AccessRules` through `ServerState.authorize`.
struct VideoRoutes {
    let state: ServerState

    /// A video as the API shows it. The fields under "the owner's" are left out for
    /// anyone else, and so is everything of an error beyond its short reason.
    struct VideoResponse: ResponseEncodable, Sendable {
        var id: String
        var title: String
        var status: String
        var visibility: String
        var progress: Double
        var durationSeconds: Double?
        var width: Int?
        var height: Int?
        var renditions: [RenditionSummary]
        /// Whether it plays now: READY, or PROCESSING with its progressive master stored.
        var playable: Bool
        /// `master.m3u8` once READY, `live.m3u8` while it plays during the transcode; nil
        /// for a private video: its URL needs a token (`POST …/playback`).
        var playbackUrl: String?
        var posterUrl: String?
        /// The scrubbing storyboard (WebVTT over JPEG sheets) once READY, when it has one.
        var storyboardUrl: String?
        /// READY: the caption tracks (WebVTT), each with its language, name and URL.
        var captions: [CaptionTrack]?
        /// READY: the audio tracks, the default first, each with its language, name and
        /// playlist URL (players pick them from the master's AUDIO group).
        var audioTracks: [AudioTrackItem]?
        /// `download.mp4` once READY: one rung as a plain MP4 (for downloads, and players
        /// without HLS), its size and its rung.
        var downloadUrl: String?
        /// `manifest.mpd` once READY: the same segments for DASH players.
        var dashUrl: String?
        var downloadBytes: Int64?
        var downloadRendition: String?
        var error: String?
        var createdAt: String
        /// Whether the caller may rename, change and delete it.
        var canEdit: Bool
        // The owner's:
        var originalFilename: String?
        var size: Int64?
        var uploadId: String?
        var sourceKey: String?
        var hlsPrefix: String?
    }

    struct VideoList: ResponseEncodable { var videos: [VideoResponse] }
    struct CaptionTrack: Codable, Sendable {
        var language: String
        var name: String
        var url: String
        var forced: Bool
        /// Captions for the deaf and hard of hearing, which describe sounds too (SDH).
        var hearingImpaired: Bool
    }
    struct AudioTrackItem: Codable, Sendable {
        var language: String
        var name: String
        var url: String
        var `default`: Bool
        /// An audio description, for the blind and partially sighted.
        var describesVideo: Bool
        /// EBU R128: the source's integrated loudness (LUFS), loudness range (LU) and true peak
        /// (dBTP), the gain applied (dB), and the result's loudness and true peak.
        var loudness: LoudnessFigures?
    }
    struct LoudnessFigures: Codable, Sendable {
        var integrated: Double?
        var range: Double?
        var truePeak: Double?
        var gain: Double
        var outputIntegrated: Double?
        var outputTruePeak: Double?
    }

    /// The video's audio renditions, their playlists under `folder`.
    static func audioTracks(_ video: VideoRecord, folder: String) -> [AudioTrackItem]? {
        guard video.status == .ready, let tracks = video.outputs?.audioTracks, !tracks.isEmpty else { return nil }
        let loudness = video.outputs?.loudness ?? []
        return tracks.map { track in
            let figures = loudness.first { $0.folder == track.folder }.map {
                LoudnessFigures(integrated: $0.source.integrated.map(Self.tenth), range: $0.source.range.map(Self.tenth),
                                truePeak: $0.source.truePeak.map(Self.tenth), gain: Self.tenth($0.gain),
                                outputIntegrated: $0.output.integrated.map(Self.tenth), outputTruePeak: $0.output.truePeak.map(Self.tenth))
            }
            return AudioTrackItem(language: track.language ?? "und", name: track.name, url: folder + track.playlist,
                                  default: track.isDefault, describesVideo: track.describesVideo == true, loudness: figures)
        }
    }

    /// A figure to a tenth of a dB: more digits say nothing about loudness.
    static func tenth(_ value: Double) -> Double { (value * 10).rounded() / 10 }

    /// The video's caption tracks, their files under `folder` (a public prefix, or a token's).
    static func captions(_ video: VideoRecord, folder: String) -> [CaptionTrack]? {
        guard video.status == .ready, let tracks = video.outputs?.captions, !tracks.isEmpty else { return nil }
        return tracks.map {
            CaptionTrack(language: $0.language, name: $0.name, url: folder + $0.file, forced: $0.forced,
                         hearingImpaired: $0.hearingImpaired == true)
        }
    }
    struct SettingsRequest: Decodable { var title: String?; var visibility: String? }
    struct PlaybackGrant: ResponseEncodable {
        var playbackUrl: String
        var posterUrl: String
        var storyboardUrl: String?
        var captions: [CaptionTrack]?
        var audioTracks: [AudioTrackItem]?
        var downloadUrl: String?
        var dashUrl: String?
        var expiresAt: String
    }

    func add(to router: Router<VStreamRequestContext>) {
        let videos = router.group("api/videos")
        videos.get { request, context in try await list(request, context) }
        videos.get(":id") { _, context in
            let (video, view) = try await state.authorize(.view, context.parameters.get("id"), context)
            return await response(video, view: view)
        }
        videos.patch(":id") { request, context in try await changeSettings(request, context) }
        videos.delete(":id") { _, context in try await delete(context) }
        videos.post(":id/playback") { _, context in try await playback(context) }
        videos.get(":id/events") { request, context in
            let (video, view) = try await state.authorize(.view, context.parameters.get("id"), context)
            return try await EventStream(state: state).response(request, video: video, view: view)
        }
    }

    /// Anyone: public READY videos. `?owner=me`: the caller's own, in every state. A key: all.
    func list(_ request: Request, _ context: VStreamRequestContext) async throws -> VideoList {
        let query: VideoQuery
        switch request.uri.queryParameters.get("owner") {
        case nil:
            if case .apiKey? = context.identity { query = .all } else { query = .listed }
        case "me":
            switch context.identity {
            case nil: throw APIError.unauthorized("?owner=me needs credentials")
            case .apiKey(let name)?: query = .ownedBy(.apiKey(name: name))
            case .user(let subject)?: query = .ownedBy(.user(subject: subject))
            case .ownerToken(let token)?: query = .ownedBy(.token(sha256: OwnerToken.hash(token)))
            }
        default:
            throw APIError.badRequest("owner must be 'me'")
        }
        var list: [VideoResponse] = []
        for video in try await state.store.videos(query, limit: 100) {
            let relation = AccessRules.relation(of: context.identity, to: video.owner)
            guard case .allow(let view) = AccessRules.decide(.view, relation, visibility: video.visibility) else { continue }
            list.append(await response(video, view: view))
        }
        return VideoList(videos: list)
    }

    func response(_ video: VideoRecord, view: AccessRules.View) async -> VideoResponse {
        let live = await state.latestEvent(video.id)
        let progress: Double = switch video.status {
        case .ready: 100
        case .processing: live?.percent ?? 0
        case .uploading, .failed: 0
        }
        let renditions = video.renditions ?? []
        let liveURL = video.status == .processing ? live?.playbackUrl : nil
        let playable = video.status == .ready || liveURL != nil
        let shareable = playable && video.visibility != .private
        let full = view == .full
        return VideoResponse(
            id: video.id.uuidString.lowercased(), title: video.title, status: video.status.rawValue,
            visibility: video.visibility.rawValue, progress: progress,
            durationSeconds: video.durationSeconds, width: video.width, height: video.height, renditions: renditions,
            playable: playable,
            playbackUrl: shareable ? (liveURL ?? state.playbackURL(video)) : nil,
            posterUrl: shareable && video.status == .ready ? state.posterURL(video) : nil,
            storyboardUrl: shareable && video.status == .ready ? video.outputs?.storyboard.map { state.objectURL(video, $0) } : nil,
            captions: shareable ? Self.captions(video, folder: state.objectURL(video, "")) : nil,
            audioTracks: shareable ? Self.audioTracks(video, folder: state.objectURL(video, "")) : nil,
            downloadUrl: shareable && video.status == .ready ? video.outputs?.download.map { state.objectURL(video, $0.file) } : nil,
            dashUrl: shareable && video.status == .ready ? video.outputs?.dash.map { state.objectURL(video, $0) } : nil,
            downloadBytes: video.status == .ready ? video.outputs?.download?.bytes : nil,
            downloadRendition: video.status == .ready ? video.outputs?.download?.rendition : nil,
            error: full ? video.error : video.error.map(Self.shortReason),
            createdAt: ISO8601DateFormatter().string(from: video.createdAt), canEdit: full,
            originalFilename: full ? video.originalFilename : nil, size: full ? video.size : nil,
            uploadId: full ? video.uploadID : nil, sourceKey: full ? video.sourceKey : nil,
            hlsPrefix: full ? video.hlsPrefix : nil)
    }

    /// An error as anyone but the owner sees it: its first clause, never more than 120 characters.
    static func shortReason(_ error: String) -> String {
        let clause = error.split(separator: ":", maxSplits: 1).first.map(String.init) ?? error
        return String(clause.prefix(120))
    }

    /// `PATCH /api/videos/{id}` `{title?, visibility?}`: the owner's or a key's.
    func changeSettings(_ request: Request, _ context: VStreamRequestContext) async throws -> VideoResponse {
        let (authorized, view) = try await state.authorize(.change, context.parameters.get("id"), context)
        let body = try await JSONBody.decode(SettingsRequest.self, request, context)
        // A move of privacy copies every object: never beside a caption change, which would
        // write to the prefix being left.
        let video = try await state.edits.run(authorized.id) { [state] in
            guard var video = try await state.store.video(authorized.id) else { throw APIError.notFound("no such video") }
            let title = try body.title.map(VideoSettings.title) ?? video.title
            let visibility = try body.visibility.map(VideoSettings.visibility) ?? video.visibility
            let prefix = try await VideoSettings.movePrivacy(video, to: visibility, state: state)
            // Only while the state is the one the move was made for: a video that completed
            // its upload meanwhile must keep the prefix its job writes to.
            guard try await state.store.updateSettings(video.id, title: title, visibility: visibility, hlsPrefix: prefix,
                                                       expected: video.status) else {
                if prefix != video.hlsPrefix { try? await state.storage.deletePrefix(prefix) }
                throw APIError.conflict("the video changed meanwhile; try again")
            }
            if prefix != video.hlsPrefix { try? await state.storage.deletePrefix(video.hlsPrefix) }
            video.title = title
            video.visibility = visibility
            video.hlsPrefix = prefix
            return video
        }
        context.logger.notice("settings changed", metadata: ["video": "\(video.id.uuidString.lowercased())",
                                                             "visibility": "\(video.visibility.rawValue)"])
        return await response(video, view: view)
    }

    /// `POST /api/videos/{id}/playback`: an expiring URL that plays the video whatever
    /// its visibility; the way a private video plays.
    func playback(_ context: VStreamRequestContext) async throws -> PlaybackGrant {
        let (video, _) = try await state.authorize(.change, context.parameters.get("id"), context)
        // READY plays its master; PROCESSING, once playable, its progressive master.
        let live = await state.latestEvent(video.id)
        let progressive = video.status == .processing && live?.playbackUrl != nil
        guard video.status == .ready || progressive else {
            throw APIError.conflict("the video is \(video.status.rawValue) and not playable yet")
        }
        let expires = Date().addingTimeInterval(state.access.configuration.playbackTokenSeconds)
        let master = state.access.playbackURL(video, expires: expires)
        let folder = String(master.dropLast("master.m3u8".count))
        return PlaybackGrant(playbackUrl: progressive ? folder + ProgressiveLadder.masterName : master,
                             posterUrl: folder + "poster.jpg",
                             storyboardUrl: video.status == .ready ? video.outputs?.storyboard.map { folder + $0 } : nil,
                             captions: Self.captions(video, folder: folder),
                             audioTracks: Self.audioTracks(video, folder: folder),
                             downloadUrl: video.status == .ready ? video.outputs?.download.map { folder + $0.file } : nil,
                             dashUrl: video.status == .ready ? video.outputs?.dash.map { folder + $0 } : nil,
                             expiresAt: ISO8601DateFormatter().string(from: expires))
    }

    /// Removes the row and every object: the upload's parts, the source, the HLS output.
    /// A running transcode is told to stop first; it removes what it stored after that.
    func delete(_ context: VStreamRequestContext) async throws -> Response {
        let (authorized, _) = try await state.authorize(.change, context.parameters.get("id"), context)
        // Not beside a caption change or a move of privacy: either would store files after
        // the purge, or move them out of its way.
        let video = try await state.edits.run(authorized.id) { [state] in
            guard let video = try await state.store.video(authorized.id) else { throw APIError.notFound("no such video") }
            // The transcode is told to stop first: it is the step that needs the queue, so a
            // stalled Redis answers 503 before anything is changed, and the retried DELETE
            // finds the video whole. Then the row: a worker racing to READY finds nothing to
            // update (its update is conditional), and a job that stops or finishes after this
            // sees the row gone and removes what it stored. Then the purge.
            if video.status == .processing { try await state.cancelTranscode(video.id) }
            try await state.store.delete(video.id)
            if let uploadID = video.uploadID, video.status == .uploading {
                try? await state.storage.abortMultipartUpload(key: video.sourceKey, uploadID: uploadID)
            }
            try await state.storage.delete(key: video.sourceKey)
            try await state.storage.deletePrefix(video.hlsPrefix)
            return video
        }
        await state.hub.forget(video.id)
        context.logger.notice("state change", metadata: ["video": "\(video.id.uuidString.lowercased())", "status": "deleted",
                                                         "was": "\(video.status.rawValue)"])
        return Response(status: .noContent)
    }
}
