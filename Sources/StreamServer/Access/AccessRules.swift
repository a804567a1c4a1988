/// The rules of who may do what, as one pure function of the caller's relation to the
/// video and the video's visibility, so that every route asks the same question and a
/// test can check each row of the table (docs: the README's "Who may do what").
enum AccessRules {
    /// What a request asks to do with a video.
    enum Action: Sendable, CaseIterable {
        /// Parts, sign, complete, abort, `DELETE` and `PATCH /api/videos/{id}`, and minting
        /// a playback token: the owner's or an operator's.
        case change
        /// `GET /api/videos/{id}` and its events.
        case view
    }

    /// How the caller stands to the video in question.
    enum Relation: Sendable, Equatable {
        /// An API key: every video is its to manage.
        case `operator`
        case owner
        /// A credential, but someone else's.
        case stranger
        /// No credential at all.
        case anonymous
    }

    /// What the caller may see of a video it may view.
    enum View: Sendable, Equatable {
        /// Everything, storage keys and full errors included.
        case full
        /// What anyone may see: no upload id, file name, keys, or error details.
        case restricted
    }

    enum Decision: Sendable, Equatable {
        case allow(View)
        case deny(APIError)
    }

    static func relation(of identity: Identity?, to owner: VideoOwner?) -> Relation {
        switch (identity, owner) {
        case (nil, _): .anonymous
        case (.apiKey?, _): .operator
        case (.user(let subject)?, .user(let owner)?) where subject == owner: .owner
        case (.ownerToken(let token)?, .token(let hash)?) where OwnerToken.matches(token, hash: hash): .owner
        default: .stranger
        }
    }

    /// Who may create an upload: a key, a JWT user, or anyone while anonymous uploads are on.
    static func mayCreateUpload(_ identity: Identity?, anonymousUploads: Bool) -> Decision {
        switch identity {
        case .apiKey?, .user?: .allow(.full)
        case .ownerToken?, nil:
            anonymousUploads ? .allow(.full) : .deny(APIError(401, "sign in to upload: this server does not take anonymous uploads"))
        }
    }

    /// `GET /metrics` on the public listener: a key only (the `--metrics-port` listener,
    /// bound to loopback, asks nobody).
    static func mayReadMetrics(_ identity: Identity?) -> Decision {
        switch identity {
        case .apiKey?: .allow(.full)
        case nil: .deny(APIError(401, "metrics need an API key"))
        case .user?, .ownerToken?: .deny(APIError(403, "metrics need an API key"))
        }
    }

    /// The decision for `action` on a video with `visibility`.
    /// A private video is never revealed to someone who may not see it: 404, not 403.
    static func decide(_ action: Action, _ relation: Relation, visibility: Visibility) -> Decision {
        let hidden = APIError.notFound("no such video")
        switch (action, relation) {
        case (_, .operator), (_, .owner):
            return .allow(.full)
        case (.view, _):
            return visibility == .private ? .deny(hidden) : .allow(.restricted)
        case (.change, .anonymous):
            return visibility == .private ? .deny(hidden) : .deny(APIError(401, "this needs the video owner's credentials"))
        case (.change, .stranger):
            return visibility == .private ? .deny(hidden) : .deny(APIError(403, "only the video's owner may do this"))
        }
    }
}
