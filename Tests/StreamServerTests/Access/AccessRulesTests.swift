import Foundation
import Testing
@testable import StreamServer

/// The rules table of the README ("Who may do what"), written out row by row, against
/// the one function every route asks.
@Suite("Access rules")
struct AccessRulesTests {
    typealias Rules = AccessRules

    /// action, relation, visibility → status (200 allowed, with the view).
    static let table: [(Rules.Action, Rules.Relation, Visibility, Int, Rules.View?)] = [
        // Changing a video: owner or key; 401 without credentials, 403 with someone
        // else's; a private video is 404 to them (its existence is not revealed).
        (.change, .owner, .public, 200, .full), (.change, .owner, .unlisted, 200, .full), (.change, .owner, .private, 200, .full),
        (.change, .operator, .public, 200, .full), (.change, .operator, .unlisted, 200, .full), (.change, .operator, .private, 200, .full),
        (.change, .anonymous, .public, 401, nil), (.change, .anonymous, .unlisted, 401, nil), (.change, .anonymous, .private, 404, nil),
        (.change, .stranger, .public, 403, nil), (.change, .stranger, .unlisted, 403, nil), (.change, .stranger, .private, 404, nil),
        // Viewing: public and unlisted for anyone (restricted); private for owner and key.
        (.view, .owner, .public, 200, .full), (.view, .owner, .unlisted, 200, .full), (.view, .owner, .private, 200, .full),
        (.view, .operator, .public, 200, .full), (.view, .operator, .unlisted, 200, .full), (.view, .operator, .private, 200, .full),
        (.view, .anonymous, .public, 200, .restricted), (.view, .anonymous, .unlisted, 200, .restricted), (.view, .anonymous, .private, 404, nil),
        (.view, .stranger, .public, 200, .restricted), (.view, .stranger, .unlisted, 200, .restricted), (.view, .stranger, .private, 404, nil),
    ]

    @Test func everyRowOfTheTable() {
        #expect(Self.table.count == Rules.Action.allCases.count * 4 * Visibility.allCases.count)
        for (action, relation, visibility, status, view) in Self.table {
            let decision = Rules.decide(action, relation, visibility: visibility)
            switch decision {
            case .allow(let given):
                #expect(status == 200 && given == view, "\(action) \(relation) \(visibility): allowed \(given)")
            case .deny(let refusal):
                #expect(refusal.statusCode == status, "\(action) \(relation) \(visibility): \(refusal)")
            }
        }
    }

    @Test func whoIsWho() {
        let token = OwnerToken.make()
        let hash = OwnerToken.hash(token)
        #expect(token.hasPrefix("vso_") && token.count >= 4 + 43, "256 bits, base64url")
        #expect(hash != token && !hash.contains(token))
        #expect(Rules.relation(of: nil, to: .token(sha256: hash)) == .anonymous)
        #expect(Rules.relation(of: .ownerToken(token), to: .token(sha256: hash)) == .owner)
        #expect(Rules.relation(of: .ownerToken(OwnerToken.make()), to: .token(sha256: hash)) == .stranger)
        #expect(Rules.relation(of: .ownerToken(token), to: .user(subject: hash)) == .stranger)
        #expect(Rules.relation(of: .user(subject: "alice"), to: .user(subject: "alice")) == .owner)
        #expect(Rules.relation(of: .user(subject: "bob"), to: .user(subject: "alice")) == .stranger)
        #expect(Rules.relation(of: .user(subject: "alice"), to: .apiKey(name: "alice")) == .stranger)
        #expect(Rules.relation(of: .user(subject: "alice"), to: nil) == .stranger, "a video from before access control")
        #expect(Rules.relation(of: .apiKey(name: "ops"), to: nil) == .operator)
        #expect(Rules.relation(of: .apiKey(name: "ops"), to: .user(subject: "alice")) == .operator)
    }

    @Test func whoMayUploadAndReadMetrics() {
        let cases: [(Identity?, Bool, Int)] = [
            (nil, true, 200), (nil, false, 401), (.ownerToken(OwnerToken.make()), false, 401),
            (.user(subject: "alice"), false, 200), (.apiKey(name: "ops"), false, 200),
        ]
        for (identity, anonymous, status) in cases {
            #expect(Self.status(Rules.mayCreateUpload(identity, anonymousUploads: anonymous)) == status,
                    "\(String(describing: identity)) anonymous=\(anonymous)")
        }
        #expect(Rules.mayReadMetrics(.apiKey(name: "ops")) == .allow(.full))
        #expect(Self.status(Rules.mayReadMetrics(nil)) == 401)
        #expect(Self.status(Rules.mayReadMetrics(.user(subject: "alice"))) == 403)
    }

    @Test func ownersAreStoredAndReadBack() {
        for owner: VideoOwner in [.user(subject: "alice:with:colons"), .apiKey(name: "ops"), .token(sha256: OwnerToken.hash("x"))] {
            #expect(VideoOwner(stored: owner.stored) == owner)
        }
        #expect(VideoOwner(stored: "nobody") == nil && VideoOwner(stored: "root:x") == nil && VideoOwner(stored: nil) == nil)
    }

    @Test func playbackTokensOpenOneVideoUntilTheyExpire() throws {
        let tokens = PlaybackTokens(secret: Data(repeating: 7, count: 32))
        let video = UUID(), other = UUID()
        let token = tokens.token(for: video, expires: Date().addingTimeInterval(60))
        try tokens.verify(token, video: video)
        #expect(throws: PlaybackTokens.Refusal.forged) { try tokens.verify(token, video: other) }
        #expect(throws: PlaybackTokens.Refusal.expired) {
            try tokens.verify(token, video: video, now: Date().addingTimeInterval(120))
        }
        let stretched = token.replacingOccurrences(of: #"^\d+"#, with: "99999999999", options: .regularExpression)
        #expect(throws: PlaybackTokens.Refusal.forged) { try tokens.verify(stretched, video: video) }
        #expect(throws: PlaybackTokens.Refusal.forged) {
            try PlaybackTokens(secret: Data(repeating: 8, count: 32)).verify(token, video: video)
        }
        for garbage in ["", "1", "x.y", "-1.abc", "99999999999999999999.abc"] {
            #expect(throws: PlaybackTokens.Refusal.self) { try tokens.verify(garbage, video: video) }
        }
    }

    static func status(_ decision: Rules.Decision) -> Int {
        if case .deny(let refusal) = decision { return refusal.statusCode }
        return 200
    }
}
