import Foundation
import JWTKit

/// Verifies the JWTs of an embedding app's users (jwt-kit): HS256 with
/// `VSTREAM_JWT_SECRET`, or RS256/ES256 with the PEM public key in
/// `VSTREAM_JWT_PUBLIC_KEY_FILE`. The token's `alg` must be the configured one (so
/// `none`, and a public key used as an HMAC secret, never pass); `exp` is required,
/// `nbf` is honoured, and `iss` and `aud` must match when they are configured.
public struct JWTVerifier: Sendable {
    public enum Key: Sendable {
        case hmacSecret(String)
        case publicKeyPEM(String)
    }

    public struct Claims: Sendable, Equatable {
        public var issuer: String?
        public var audience: String?
        public init(issuer: String? = nil, audience: String? = nil) {
            self.issuer = issuer
            self.audience = audience
        }
    }

    /// Why a token was refused; each answers 401 with its reason.
    public struct Refusal: Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// The algorithm tokens must name in their header: HS256, RS256 or ES256.
    public let algorithm: String
    private let keys: JWTKeyCollection
    private let expected: Claims

    /// - Throws: `ConfigurationError` for a secret under 32 bytes or a PEM that is neither
    ///   an RSA (2048 bits or more) nor a P-256 public key.
    public init(key: Key, claims: Claims = Claims()) async throws {
        keys = JWTKeyCollection()
        expected = claims
        switch key {
        case .hmacSecret(let secret):
            guard secret.utf8.count >= 32 else { throw ConfigurationError("VSTREAM_JWT_SECRET must have at least 32 bytes") }
            await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
            algorithm = "HS256"
        case .publicKeyPEM(let pem):
            if let rsa = try? Insecure.RSA.PublicKey(pem: pem) {
                await keys.add(rsa: rsa, digestAlgorithm: .sha256)
                algorithm = "RS256"
            } else if let ecdsa = try? ES256PublicKey(pem: pem) {
                await keys.add(ecdsa: ecdsa)
                algorithm = "ES256"
            } else {
                throw ConfigurationError("VSTREAM_JWT_PUBLIC_KEY_FILE is neither an RSA (2048 bits or more) nor a P-256 public key in PEM")
            }
        }
    }

    /// The token's subject, once its algorithm, signature and claims are all good.
    public func subject(of token: String, now: Date = Date()) async throws(Refusal) -> String {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerData = Base64URL.decode(parts[0]),
              let header = try? JSONDecoder().decode(Header.self, from: headerData) else {
            throw Refusal(description: "the token is not a JWT")
        }
        guard header.alg == algorithm else {
            throw Refusal(description: "the token's algorithm \(header.alg ?? "(none)") is not \(algorithm)")
        }
        let payload: UserClaims
        do {
            payload = try await keys.verify(token, as: UserClaims.self)
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
            throw Refusal(description: "the token's signature is not valid")
        } catch {
            // Decoding fails without `exp` (it is not optional), or on a malformed token.
            throw Refusal(description: "the token was refused: malformed or missing claims (exp is required)")
        }
        // The time claims are checked here, once, against `now` (a test may move it).
        if payload.exp.value <= now { throw Refusal(description: "the token has expired") }
        if let notBefore = payload.nbf?.value, notBefore > now { throw Refusal(description: "the token is not valid yet") }
        if let issuer = expected.issuer, payload.iss?.value != issuer {
            throw Refusal(description: "the token's issuer is not \(issuer)")
        }
        if let audience = expected.audience, !(payload.aud?.value.contains(audience) ?? false) {
            throw Refusal(description: "the token is not meant for \(audience)")
        }
        guard let subject = payload.sub?.value, !subject.isEmpty, subject.count <= 255 else {
            throw Refusal(description: "the token has no subject")
        }
        return subject
    }

    private struct Header: Decodable { var alg: String? }

    /// The claims vstream reads; others are ignored.
    struct UserClaims: JWTPayload {
        var sub: SubjectClaim?
        var exp: ExpirationClaim
        var nbf: NotBeforeClaim?
        var iss: IssuerClaim?
        var aud: AudienceClaim?

        /// Nothing here: `subject(of:)` checks every claim once, with its own clock.
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }
}
