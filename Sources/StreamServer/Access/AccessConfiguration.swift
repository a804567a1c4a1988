import Foundation

/// Who may call the API, and how much (README: "Who may do what").
public struct AccessConfiguration: Sendable {
    /// `VSTREAM_API_KEYS` or `VSTREAM_API_KEYS_FILE`.
    public var apiKeys = APIKeys()
    /// `VSTREAM_JWT_SECRET` (HS256) or `VSTREAM_JWT_PUBLIC_KEY_FILE` (RS256 or ES256).
    public var jwtKey: JWTVerifier.Key?
    /// `VSTREAM_JWT_ISSUER` and `VSTREAM_JWT_AUDIENCE`, checked when set.
    public var jwtClaims = JWTVerifier.Claims()
    /// `VSTREAM_ANONYMOUS_UPLOADS` (true/false). nil: on exactly when neither keys nor a
    /// JWT verifier are configured (the embedded default).
    public var anonymousUploadsSetting: Bool?
    /// `VSTREAM_PLAYBACK_TOKEN_SECONDS`: how long a private video's playback URL works (6 h).
    public var playbackTokenSeconds: Double = 6 * 3600
    /// `VSTREAM_PLAYBACK_SECRET`: the HMAC key of playback tokens; nil makes one per data
    /// directory, which is right for one API node only.
    public var playbackSecret: String?
    /// `VSTREAM_UPLOADS_PER_HOUR`: uploads a caller without a key may create an hour.
    public var uploadsPerHour = 20
    /// `VSTREAM_UPLOAD_QUOTA_BYTES`: bytes a caller without a key may have in UPLOADING at once.
    public var uploadQuotaBytes: Int64 = 20 << 30
    /// `VSTREAM_CORS_ORIGINS` (comma-separated): origins whose pages may call the API
    /// (with an `Authorization` header). Nothing else is allowed cross-origin.
    public var corsOrigins: [String] = []
    /// `VSTREAM_TRUST_FORWARDED_FOR`: behind a reverse proxy, count anonymous callers by the
    /// last `X-Forwarded-For` hop rather than by the proxy's address.
    public var trustForwardedFor = false
    /// `VSTREAM_PRIVATE_PREFIX`: in S3 mode, where private videos' objects live in the
    /// bucket ("private/"). That prefix must not be publicly readable.
    public var privatePrefix = "private/"

    public init() {}

    public var anonymousUploads: Bool { anonymousUploadsSetting ?? (apiKeys.isEmpty && jwtKey == nil) }

    /// - Throws: `ConfigurationError` for keys or a key file that cannot be used.
    public static func fromEnvironment(_ environment: [String: String]) throws -> AccessConfiguration {
        var access = AccessConfiguration()
        var pairs = environment["VSTREAM_API_KEYS"] ?? ""
        if let file = environment["VSTREAM_API_KEYS_FILE"], !file.isEmpty {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw ConfigurationError("VSTREAM_API_KEYS_FILE cannot be read: \(file)")
            }
            pairs += "\n" + text
        }
        access.apiKeys = try APIKeys(pairs: pairs)
        if let secret = environment["VSTREAM_JWT_SECRET"], !secret.isEmpty {
            access.jwtKey = .hmacSecret(secret)
        } else if let file = environment["VSTREAM_JWT_PUBLIC_KEY_FILE"], !file.isEmpty {
            guard let pem = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw ConfigurationError("VSTREAM_JWT_PUBLIC_KEY_FILE cannot be read: \(file)")
            }
            access.jwtKey = .publicKeyPEM(pem)
        }
        access.jwtClaims = .init(issuer: environment["VSTREAM_JWT_ISSUER"].flatMap { $0.isEmpty ? nil : $0 },
                                 audience: environment["VSTREAM_JWT_AUDIENCE"].flatMap { $0.isEmpty ? nil : $0 })
        if let anonymous = environment["VSTREAM_ANONYMOUS_UPLOADS"], !anonymous.isEmpty {
            guard let value = Self.bool(anonymous) else { throw ConfigurationError("VSTREAM_ANONYMOUS_UPLOADS must be true or false") }
            access.anonymousUploadsSetting = value
        }
        let env = EnvironmentReader(environment)
        if let seconds = try env.number("VSTREAM_PLAYBACK_TOKEN_SECONDS", in: 1...(30 * 86400)) { access.playbackTokenSeconds = seconds }
        if let secret = environment["VSTREAM_PLAYBACK_SECRET"], !secret.isEmpty {
            guard secret.utf8.count >= 32 else { throw ConfigurationError("VSTREAM_PLAYBACK_SECRET must have at least 32 bytes") }
            access.playbackSecret = secret
        }
        if let count = try env.integer("VSTREAM_UPLOADS_PER_HOUR", in: 0...1_000_000) { access.uploadsPerHour = count }
        if let bytes = try env.integer("VSTREAM_UPLOAD_QUOTA_BYTES", in: Int64(0)...(Int64(1) << 50)) { access.uploadQuotaBytes = bytes }
        access.corsOrigins = env.list("VSTREAM_CORS_ORIGINS")
        access.trustForwardedFor = try env.bool("VSTREAM_TRUST_FORWARDED_FOR") ?? false
        if let prefix = environment["VSTREAM_PRIVATE_PREFIX"], !prefix.isEmpty {
            let trimmed = prefix.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            guard !trimmed.isEmpty, trimmed != "hls", !trimmed.contains(".."), trimmed != "uploads" else {
                throw ConfigurationError("VSTREAM_PRIVATE_PREFIX must be a folder of its own, not hls/ or uploads/")
            }
            access.privatePrefix = trimmed + "/"
        }
        return access
    }

    static func bool(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "1", "true", "yes", "on": true
        case "0", "false", "no", "off": false
        default: nil
        }
    }
}
