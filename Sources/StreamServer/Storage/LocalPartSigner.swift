import Crypto
import Foundation

/// Signs and checks the part-upload URLs of the embedded default, where the server
/// itself stands in for S3: the browser PUTs each part to a URL the server signed, so
/// the browser code is the same as against R2.
///
/// A signature is HMAC-SHA256 over method, object key, upload id, part number and
/// expiry. Each URL is therefore scoped to one part of one upload, and a changed
/// part number, key or expiry fails verification.
public struct LocalPartSigner: Sendable {
    public enum Rejection: Error, Equatable, Sendable {
        case expired
        case badSignature
    }

    private let secret: Data

    public init(secret: Data) { self.secret = secret }

    public func signature(method: String, key objectKey: String, uploadID: String, partNumber: Int, expires: Int) -> String {
        let message = [method, objectKey, uploadID, String(partNumber), String(expires)].joined(separator: "\n")
        return HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: SymmetricKey(data: secret))
            .map { String(format: "%02x", $0) }.joined()
    }

    /// Checks a presented signature in constant time, then the expiry.
    public func verify(method: String, key objectKey: String, uploadID: String, partNumber: Int, expires: Int,
                       signature presented: String, now: Date) throws(Rejection) {
        let expected = signature(method: method, key: objectKey, uploadID: uploadID, partNumber: partNumber, expires: expires)
        guard Self.constantTimeEqual(expected, presented) else { throw .badSignature }
        guard Double(expires) > now.timeIntervalSince1970 else { throw .expired }
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let left = Array(a.utf8), right = Array(b.utf8)
        guard left.count == right.count else { return false }
        return zip(left, right).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
