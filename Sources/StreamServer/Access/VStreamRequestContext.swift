import Hummingbird
import HummingbirdAuth
import NIOCore

/// The context of every request: Hummingbird's core, plus who is asking (filled in by
/// `BearerAuthenticator`) and from which address (for the limits of anonymous callers).
public struct VStreamRequestContext: AuthRequestContext, RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var identity: Identity?
    /// The TCP peer: the client, or the proxy in front of it.
    public let peerAddress: String?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        identity = nil
        peerAddress = source.channel.remoteAddress?.ipAddress
    }
}

/// Reads `Authorization: Bearer …`: an API key, an owner token (`vso_…`), or a JWT, in
/// that order. No header is no identity (anonymous); a header that is none of these is
/// 401 at once, on every route, so a mistyped credential never passes as anonymous.
struct BearerAuthenticator: AuthenticatorMiddleware {
    typealias Context = VStreamRequestContext
    let keys: APIKeys
    let jwt: JWTVerifier?

    func authenticate(request: Request, context: Context) async throws -> Identity? {
        guard request.headers[.authorization] != nil else { return nil }
        guard let token = request.headers.bearer?.token.trimmingCharacters(in: .whitespaces), !token.isEmpty else {
            throw APIError.unauthorized("the Authorization header must be: Bearer <token>")
        }
        if let name = keys.name(for: token) { return .apiKey(name: name) }
        if token.hasPrefix(OwnerToken.prefix) {
            guard OwnerToken.isWellFormed(token) else { throw APIError.unauthorized("the owner token is malformed") }
            return .ownerToken(token)
        }
        guard let jwt else { throw APIError.unauthorized("the bearer token is not a credential of this server") }
        do {
            return .user(subject: try await jwt.subject(of: token))
        } catch {
            throw APIError.unauthorized(error.description)
        }
    }
}

extension VStreamRequestContext {
    /// Whom per-caller limits count: a JWT user by subject, anyone else without a key by
    /// address; nil for a key (no limit).
    func quotaKey(trustForwardedFor: Bool, forwardedFor: String?) -> String? {
        switch identity {
        case .apiKey?: return nil
        case .user(let subject)?: return "user:\(subject)"
        case .ownerToken?, nil:
            // Behind a proxy the peer is the proxy: its X-Forwarded-For's last hop is the client.
            if trustForwardedFor, let hop = forwardedFor?.split(separator: ",").last?.trimmingCharacters(in: .whitespaces),
               !hop.isEmpty, hop.count <= 45 {
                return "ip:\(hop)"
            }
            return "ip:\(peerAddress ?? "unknown")"
        }
    }
}
