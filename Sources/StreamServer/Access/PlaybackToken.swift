import Crypto
import Foundation

/// The expiring token that opens a private video's playback: `EXPIRES.SIGNATURE`, an
/// HMAC-SHA256 over the video id and the expiry. It sits in the path
/// (`/hls/t/TOKEN/ID/master.m3u8`), so the relative URIs of the master and the variant
/// playlists carry it to every playlist, segment and the poster without rewriting.
/// Every API node must share the secret (`VSTREAM_PLAYBACK_SECRET`).
struct PlaybackTokens: Sendable {
    enum Refusal: Error, Equatable {
        case malformed
        case expired
        case forged
    }

    private let key: SymmetricKey

    init(secret: Data) { key = SymmetricKey(data: secret) }

    func token(for video: UUID, expires: Date) -> String {
        let seconds = Int64(expires.timeIntervalSince1970.rounded(.down))
        return "\(seconds).\(signature(video, seconds))"
    }

    /// Checks that `token` opens `video` at `now`.
    func verify(_ token: String, video: UUID, now: Date = Date()) throws(Refusal) {
        let parts = token.split(separator: ".", maxSplits: 1)
        guard parts.count == 2, parts[0].count <= 12, let seconds = Int64(parts[0]) else { throw .malformed }
        // The signature first: a forged token learns nothing, not even whether it expired.
        guard ConstantTime.equal(Data(parts[1].utf8), Data(signature(video, seconds).utf8)) else { throw .forged }
        guard Double(seconds) > now.timeIntervalSince1970 else { throw .expired }
    }

    private func signature(_ video: UUID, _ expires: Int64) -> String {
        let message = Data("vstream-playback|\(video.uuidString.lowercased())|\(expires)".utf8)
        return Base64URL.encode(Data(HMAC<SHA256>.authenticationCode(for: message, using: key)))
    }
}
