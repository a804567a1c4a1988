/// Who a request says it is, from its `Authorization: Bearer …` header. Filled in by
/// `BearerAuthenticator`; a request without the header has no identity (anonymous).
public enum Identity: Sendable, Equatable {
    /// An operator or an app's back end: may do everything, on every video.
    case apiKey(name: String)
    /// A user of an app that embeds vstream, from the app's JWT (`sub`).
    case user(subject: String)
    /// An anonymous uploader's `ownerToken`: the credential of one video. Which video is
    /// known only when a route compares it with that video's stored hash.
    case ownerToken(String)

    /// The owner a new upload gets when this identity creates it (a token owner gets a
    /// fresh token of its own, so it has none here).
    var owner: VideoOwner? {
        switch self {
        case .apiKey(let name): .apiKey(name: name)
        case .user(let subject): .user(subject: subject)
        case .ownerToken: nil
        }
    }
}

/// Who owns a video: stored in the `owner` column as one string with a mode prefix.
public enum VideoOwner: Sendable, Equatable {
    case user(subject: String)
    case apiKey(name: String)
    /// An anonymous upload: the SHA-256 of its `ownerToken`, never the token itself.
    case token(sha256: String)

    var stored: String {
        switch self {
        case .user(let subject): "user:\(subject)"
        case .apiKey(let name): "key:\(name)"
        case .token(let hash): "token:\(hash)"
        }
    }

    init?(stored: String?) {
        guard let stored, let colon = stored.firstIndex(of: ":") else { return nil }
        let value = String(stored[stored.index(after: colon)...])
        switch stored[..<colon] {
        case "user": self = .user(subject: value)
        case "key": self = .apiKey(name: value)
        case "token": self = .token(sha256: value)
        default: return nil
        }
    }
}

/// Who may see a video. `unlisted` is the default: it plays for anyone with the link.
public enum Visibility: String, Sendable, Codable, CaseIterable {
    /// Listed on the public list and playable by anyone.
    case `public`
    /// Playable by anyone with the link, never listed.
    case unlisted
    /// Only the owner and keys see it; playback needs a playback token.
    case `private`
}

extension VideoOwner: Codable {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let owner = VideoOwner(stored: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an owner: \(text)"))
        }
        self = owner
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(stored)
    }
}
