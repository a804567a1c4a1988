import Foundation
import HTTPTypes
import Hummingbird
import ServiceLifecycle

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

    /// The stream for a caller that may see `view` of the video.
    func response(_ request: Request, video: VideoRecord, view: AccessRules.View) async throws -> Response {
        guard let slot = state.eventStreams.take() else {
            throw APIError(503, "too many live event streams on this server; try again shortly", retryAfter: 5)
        }
        return try await stream(request, video: video, view: view, holding: slot)
    }

    /// What this caller may see of an event: a private video's URL needs a playback
    /// token (`POST …/playback`), and only the owner reads a failure's details.
    static func shown(_ event: VideoEvent, private isPrivate: Bool, view: AccessRules.View) -> VideoEvent {
        var event = event
        if isPrivate { event.playbackUrl = nil }
        if view == .restricted { event.error = event.error.map(VideoRoutes.shortReason) }
        return event
    }

    /// `slot` is held by the response body: it is given back when the body is done with,
    /// whether it ran to the end, failed, or never ran.
    private func stream(_ request: Request, video: VideoRecord, view: AccessRules.View,
                        holding slot: EventStreamSlots.Slot) async throws -> Response {
        let lastEventID = HTTPField.Name("Last-Event-ID").flatMap { request.headers[$0] }.flatMap(Int.init)
        let hub = state.hub
        let id = video.id
        // Subscribe before reading the state, so nothing published in between is lost.
        let events = await hub.subscribe(id)
        let current = await state.latestEvent(id)
        let playbackURL = state.playbackURL(video)
        let store = state.store
        let isPrivate = video.visibility == .private
        let initial = Self.shown(Self.stateEvent(video, live: current, playbackURL: playbackURL), private: isPrivate, view: view)
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
            // A graceful shutdown ends the stream: the browser's EventSource reconnects,
            // to another node or to this one once it is back.
            for await item in merged.cancelOnGracefulShutdown() {
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
                    let final = Self.stateEvent(row, live: nil, playbackURL: playbackURL)
                    try await writer.write(Self.encode(Self.shown(final, private: isPrivate, view: view)))
                    try await writer.finish(nil)
                    return
                case .event(let event):
                    try await writer.write(Self.encode(Self.shown(event, private: isPrivate, view: view)))
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
