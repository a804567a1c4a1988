import Foundation

/// What the routes need to apply the access rules: the authenticator, the playback
/// tokens, and the per-caller upload limits.
public struct AccessControl: Sendable {
    public let configuration: AccessConfiguration
    let authenticator: BearerAuthenticator
    let playbackTokens: PlaybackTokens
    let uploadLimiter: UploadRateLimiter

    /// - Parameter counter: where upload counts live (Redis when configured).
    init(_ configuration: AccessConfiguration, playbackSecret: Data, counter: any RateCounter) async throws {
        self.configuration = configuration
        var jwt: JWTVerifier?
        if let key = configuration.jwtKey { jwt = try await JWTVerifier(key: key, claims: configuration.jwtClaims) }
        authenticator = BearerAuthenticator(keys: configuration.apiKeys, jwt: jwt)
        playbackTokens = PlaybackTokens(secret: configuration.playbackSecret.map { Data($0.utf8) } ?? playbackSecret)
        uploadLimiter = UploadRateLimiter(perHour: configuration.uploadsPerHour, counter: counter)
    }

    /// A playback URL for `video` that works until `expires`, relative to this server.
    func playbackURL(_ video: VideoRecord, expires: Date) -> String {
        let token = playbackTokens.token(for: video.id, expires: expires)
        return "/hls/t/\(token)/\(video.id.uuidString.lowercased())/master.m3u8"
    }
}

extension ServerState {
    /// The video `id` names, if the caller may do `action` with it, and how much of it
    /// the caller may see. Otherwise the rule's refusal: 401, 403, or 404 for a private
    /// video (whose existence is not revealed), and 404 for no such video.
    func authorize(_ action: AccessRules.Action, _ id: String?, _ context: VStreamRequestContext,
                   missing: String = "no such video") async throws -> (VideoRecord, AccessRules.View) {
        guard let id = id.flatMap(UUID.init(uuidString:)), let video = try await store.video(id) else {
            throw APIError.notFound(missing)
        }
        let relation = AccessRules.relation(of: context.identity, to: video.owner)
        switch AccessRules.decide(action, relation, visibility: video.visibility) {
        case .allow(let view): return (video, view)
        case .deny(let refusal): throw refusal.statusCode == 404 ? APIError.notFound(missing) : refusal
        }
    }
}
