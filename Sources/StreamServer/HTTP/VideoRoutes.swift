import Foundation
import HTTPTypes
import Hummingbird

/// The video list, one video, its deletion, and its live events.
struct VideoRoutes {
    let state: ServerState

    struct RenditionSummary: Codable, Sendable {
        var name: String
        var width: Int
        var height: Int
        var averageBandwidth: Int
        var peakBandwidth: Int
    }

    struct VideoResponse: ResponseEncodable, Sendable {
        var id: String
        var title: String
        var status: String
        var progress: Double
        var durationSeconds: Double?
        var width: Int?
        var height: Int?
        var renditions: [RenditionSummary]
        var playbackUrl: String?
        var posterUrl: String?
        var error: String?
        var createdAt: String
    }

    struct VideoList: ResponseEncodable { var videos: [VideoResponse] }

    func add(to router: Router<BasicRequestContext>) {
        let videos = router.group("api/videos")
        videos.get { _, _ in
            var list: [VideoResponse] = []
            for video in try await state.store.videos(limit: 100) { list.append(await response(video)) }
            return VideoList(videos: list)
        }
        videos.get(":id") { _, context in await response(try await video(context)) }
        videos.delete(":id") { _, context in try await delete(context) }
        videos.get(":id/events") { request, context in try await EventStream(state: state).response(request, video: try await video(context)) }
    }

    func video(_ context: BasicRequestContext) async throws -> VideoRecord {
        guard let id = context.parameters.get("id").flatMap(UUID.init(uuidString:)),
              let video = try await state.store.video(id) else { throw APIError.notFound("no such video") }
        return video
    }

    func response(_ video: VideoRecord) async -> VideoResponse {
        let live = await state.latestEvent(video.id)
        let progress: Double = switch video.status {
        case .ready: 100
        case .processing: live?.percent ?? 0
        case .uploading, .failed: 0
        }
        let renditions = video.renditions.flatMap { try? JSONDecoder().decode([RenditionSummary].self, from: Data($0.utf8)) } ?? []
        return VideoResponse(
            id: video.id.uuidString.lowercased(), title: video.title, status: video.status.rawValue, progress: progress,
            durationSeconds: video.durationSeconds, width: video.width, height: video.height, renditions: renditions,
            playbackUrl: video.status == .ready ? state.playbackURL(video) : nil,
            posterUrl: video.status == .ready ? state.posterURL(video) : nil,
            error: video.error, createdAt: ISO8601DateFormatter().string(from: video.createdAt))
    }

    /// Removes the row and every object: the upload's parts, the source, the HLS output.
    /// A running transcode is told to stop first; it removes what it stored after that.
    func delete(_ context: BasicRequestContext) async throws -> Response {
        let video = try await video(context)
        // The row goes first: a worker racing to READY then finds nothing to update (its
        // update is conditional), and a job that stops or finishes after this sees the
        // row gone and removes what it stored. Then the transcode stops, then the purge.
        try await state.store.delete(video.id)
        if video.status == .processing { try await state.cancelTranscode(video.id) }
        if let uploadID = video.uploadID, video.status == .uploading {
            try? await state.storage.abortMultipartUpload(key: video.sourceKey, uploadID: uploadID)
        }
        try await state.storage.delete(key: video.sourceKey)
        try await state.storage.deletePrefix(video.hlsPrefix)
        await state.hub.forget(video.id)
        context.logger.notice("state change", metadata: ["video": "\(video.id.uuidString.lowercased())", "status": "deleted",
                                                         "was": "\(video.status.rawValue)"])
        return Response(status: .noContent)
    }
}

/// `GET /api/videos/{id}/events`: Server-Sent Events. The current state at once, then
/// `progress` events, then one `ready` or `failed`; a `: ping` comment every 15 s.
struct EventStream {
    let state: ServerState
    static let pingInterval: Duration = .seconds(15)
    /// How often the row is read again while a video is processing.
    static let recheckInterval: Duration = .seconds(5)

    private enum Item: Sendable {
        case event(VideoEvent)
        case ping
        case recheck
    }

    func response(_ request: Request, video: VideoRecord) async throws -> Response {
        guard let slot = state.eventStreams.take() else {
            throw APIError(503, "too many live event streams on this server; try again shortly", retryAfter: 5)
        }
        return try await stream(request, video: video, holding: slot)
    }

    /// `slot` is held by the response body: it is given back when the body is done with,
    /// whether it ran to the end, failed, or never ran.
    private func stream(_ request: Request, video: VideoRecord, holding slot: EventStreamSlots.Slot) async throws -> Response {
        let lastEventID = HTTPField.Name("Last-Event-ID").flatMap { request.headers[$0] }.flatMap(Int.init)
        let hub = state.hub
        let id = video.id
        // Subscribe before reading the state, so nothing published in between is lost.
        let events = await hub.subscribe(id)
        let current = await state.latestEvent(id)
        let playbackURL = state.playbackURL(video)
        let store = state.store
        let initial = Self.stateEvent(video, live: current, playbackURL: playbackURL)
        let body = ResponseBody { writer in
            _ = slot  // captured: the body holds the slot for as long as it exists
            if initial.id != lastEventID || lastEventID == nil { try await writer.write(Self.encode(initial)) }
            if initial.kind == .ready || initial.kind == .failed {
                try await writer.finish(nil)
                return
            }
            // Events, pings and rechecks merged into one sequence; the timer ends with the response.
            let (merged, continuation) = AsyncStream.makeStream(of: Item.self)
            let forward = Task {
                for await event in events { continuation.yield(.event(event)) }
                continuation.finish()
            }
            let timer = Task {
                var elapsed: Duration = .zero
                while !Task.isCancelled {
                    try await Task.sleep(for: Self.recheckInterval)
                    elapsed += Self.recheckInterval
                    continuation.yield(.recheck)
                    if elapsed >= Self.pingInterval {
                        elapsed = .zero
                        continuation.yield(.ping)
                    }
                }
            }
            defer {
                forward.cancel()
                timer.cancel()
            }
            for await item in merged {
                switch item {
                case .ping:
                    try await writer.write(ByteBuffer(string: ": ping\n\n"))
                case .recheck:
                    // The row is the state of record: a final event lost with a Redis
                    // outage still reaches the client from here, and a deleted video
                    // ends its stream (an unreadable store is not a deletion).
                    let row: VideoRecord?
                    do { row = try await store.video(id) } catch { continue }
                    guard let row else {
                        try await writer.finish(nil)
                        return
                    }
                    guard row.status == .ready || row.status == .failed else { continue }
                    try await writer.write(Self.encode(Self.stateEvent(row, live: nil, playbackURL: playbackURL)))
                    try await writer.finish(nil)
                    return
                case .event(let event):
                    try await writer.write(Self.encode(event))
                    if event.kind == .ready || event.kind == .failed {
                        try await writer.finish(nil)
                        return
                    }
                }
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }

    /// The event a client gets on connecting: what the row says, with the latest live progress.
    static func stateEvent(_ video: VideoRecord, live: VideoEvent?, playbackURL: String) -> VideoEvent {
        switch video.status {
        case .ready:
            return VideoEvent(id: live?.id ?? 0, kind: .ready, status: .ready, percent: 100, playbackUrl: playbackURL)
        case .failed:
            return VideoEvent(id: live?.id ?? 0, kind: .failed, status: .failed, percent: 0, error: video.error)
        case .processing, .uploading:
            var event = live ?? VideoEvent(id: 0, kind: .state, status: video.status, percent: 0)
            event.kind = .state
            event.status = video.status
            return event
        }
    }

    static func encode(_ event: VideoEvent) -> ByteBuffer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = String(decoding: (try? encoder.encode(event)) ?? Data("{}".utf8), as: UTF8.self)
        return ByteBuffer(string: "id: \(event.id)\nevent: \(event.kind.rawValue)\ndata: \(data)\n\n")
    }
}
