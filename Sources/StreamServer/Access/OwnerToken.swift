import Crypto
import Foundation

/// The credential an anonymous uploader gets for one video: 256 random bits, shown once
/// in the answer to `POST /api/uploads`, kept only as a SHA-256 hash.
enum OwnerToken {
    /// Tells an owner token apart from an API key or a JWT without trying either.
    static let prefix = "vso_"

    static func make() -> String {
        prefix + Base64URL.encode(Data(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }))
    }

    /// The shape `make()` gives: the prefix and 43 base64url characters (256 bits).
    /// Anything else is refused with 401 before it is looked up, whatever its length.
    static func isWellFormed(_ token: String) -> Bool {
        guard token.hasPrefix(prefix) else { return false }
        let body = token.utf8.dropFirst(prefix.utf8.count)
        return body.count == 43 && body.allSatisfy { byte in
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
        }
    }

    static func hash(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Whether `token` is the one whose hash is stored; constant time in the hash.
    static func matches(_ token: String, hash stored: String) -> Bool {
        ConstantTime.equal(Data(hash(token).utf8), Data(stored.utf8))
    }
}

enum ConstantTime {
    /// Compares two byte strings without stopping at the first difference.
    static func equal(_ a: Data, _ b: Data) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}

enum Base64URL {
    static func encode(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ text: Substring) -> Data? {
        guard text.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }), text.allSatisfy(\.isASCII) else { return nil }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }
}
