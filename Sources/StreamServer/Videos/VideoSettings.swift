import Foundation

/// What an owner may change about a video (`PATCH /api/videos/{id}`), checked.
enum VideoSettings {
    static func title(_ text: String) throws(APIError) -> String {
        let title = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !title.isEmpty else { throw .badRequest("title is empty") }
        guard title.count <= 200 else { throw .badRequest("title is over 200 characters") }
        guard !title.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) }) else {
            throw .badRequest("title has control characters")
        }
        return title
    }

    static func visibility(_ text: String) throws(APIError) -> Visibility {
        guard let visibility = Visibility(rawValue: text) else {
            throw .badRequest("visibility must be public, unlisted or private")
        }
        return visibility
    }

    /// Where the video's HLS objects live at `visibility`: in S3 mode a private video's
    /// sit under `VSTREAM_PRIVATE_PREFIX`, which is not public; the embedded default
    /// serves every object itself and checks each request, so nothing moves there.
    static func prefix(for video: UUID, _ visibility: Visibility, state: ServerState) -> String {
        let base = "hls/\(video.uuidString.lowercased())"
        guard state.backend.bucket != nil, visibility == .private else { return base }
        return state.access.configuration.privatePrefix + base
    }

    /// Copies a READY video's objects to where `visibility` keeps them and returns that
    /// prefix (the caller removes the old one once the row says the new one).
    static func movePrivacy(_ video: VideoRecord, to visibility: Visibility, state: ServerState) async throws -> String {
        let target = prefix(for: video.id, visibility, state: state)
        guard target != video.hlsPrefix, let storage = state.backend.bucket else { return video.hlsPrefix }
        switch video.status {
        case .processing:
            throw APIError.conflict("a video can become private, or stop being private, once it is READY; it is PROCESSING")
        case .ready:
            try await storage.copyPrefix(from: video.hlsPrefix, to: target)
        case .uploading, .failed:
            break
        }
        return target
    }
}
