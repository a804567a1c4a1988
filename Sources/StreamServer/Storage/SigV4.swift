import Crypto
import Foundation

/// AWS Signature Version 4 for S3-compatible storage (Cloudflare R2, SeaweedFS, AWS):
/// presigned URLs for the browser's part uploads, and Authorization headers for the
/// server's own calls. Pure functions over the request; tested against AWS's
/// published examples.
public struct SigV4: Sendable {
    public var accessKeyID: String
    public var secretAccessKey: String
    /// "auto" for R2.
    public var region: String
    public var service = "s3"

    public init(accessKeyID: String, secretAccessKey: String, region: String) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.region = region
    }

    /// The payload hash placeholder for presigned URLs: the body is not known when signing.
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// A presigned URL (query-string authentication). `host` may carry a port.
    /// - Parameters:
    ///   - path: the absolute path, already in S3's form (`/bucket/key` or `/key`), not yet encoded.
    ///   - query: extra parameters such as `partNumber` and `uploadId`.
    public func presignedURL(method: String, scheme: String = "https", host: String, path: String,
                             query: [String: String] = [:], date: Date, expires: Int) -> String {
        let timestamp = Self.timestamp(date)
        var parameters = query
        parameters["X-Amz-Algorithm"] = "AWS4-HMAC-SHA256"
        parameters["X-Amz-Credential"] = "\(accessKeyID)/\(scope(timestamp))"
        parameters["X-Amz-Date"] = timestamp
        parameters["X-Amz-Expires"] = String(expires)
        parameters["X-Amz-SignedHeaders"] = "host"
        let canonicalQuery = Self.canonicalQuery(parameters)
        let request = canonicalRequest(method: method, path: path, query: canonicalQuery,
                                       headers: [("host", host)], payloadHash: Self.unsignedPayload)
        let signature = sign(request, timestamp: timestamp)
        return "\(scheme)://\(host)\(Self.encodePath(path))?\(canonicalQuery)&X-Amz-Signature=\(signature)"
    }

    /// The `Authorization` header for a request whose headers are `headers` (names in
    /// any case; `host`, `x-amz-date` and `x-amz-content-sha256` must be among them).
    public func authorization(method: String, path: String, query: [String: String] = [:],
                              headers: [String: String], payloadHash: String, date: Date) -> String {
        let timestamp = Self.timestamp(date)
        let canonicalHeaders = headers.map { ($0.key.lowercased(), $0.value.trimmingCharacters(in: .whitespaces)) }
            .sorted { $0.0 < $1.0 }
        let request = canonicalRequest(method: method, path: path, query: Self.canonicalQuery(query),
                                       headers: canonicalHeaders, payloadHash: payloadHash)
        let signedHeaders = canonicalHeaders.map(\.0).joined(separator: ";")
        return "AWS4-HMAC-SHA256 Credential=\(accessKeyID)/\(scope(timestamp)), "
            + "SignedHeaders=\(signedHeaders), Signature=\(sign(request, timestamp: timestamp))"
    }

    // MARK: The algorithm (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html)

    func canonicalRequest(method: String, path: String, query: String, headers: [(String, String)],
                          payloadHash: String) -> String {
        [method, Self.encodePath(path), query,
         headers.map { "\($0.0):\($0.1)\n" }.joined(),
         headers.map(\.0).joined(separator: ";"),
         payloadHash].joined(separator: "\n")
    }

    func scope(_ timestamp: String) -> String { "\(timestamp.prefix(8))/\(region)/\(service)/aws4_request" }

    func sign(_ canonicalRequest: String, timestamp: String) -> String {
        let stringToSign = ["AWS4-HMAC-SHA256", timestamp, scope(timestamp),
                            Self.hex(SHA256.hash(data: Data(canonicalRequest.utf8)))].joined(separator: "\n")
        var key = SymmetricKey(data: Data("AWS4\(secretAccessKey)".utf8))
        for part in [String(timestamp.prefix(8)), region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return Self.hex(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: key))
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter.string(from: date)
    }

    /// RFC 3986 encoding as SigV4 wants it: only A-Z a-z 0-9 - _ . ~ stay as they are.
    static func encode(_ value: String, keepSlash: Bool = false) -> String {
        var result = ""
        for byte in value.utf8 {
            if isUnreserved(byte) || (keepSlash && byte == UInt8(ascii: "/")) {
                result.append(Character(UnicodeScalar(byte)))
            } else {
                result += String(format: "%%%02X", byte)
            }
        }
        return result
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    /// S3 encodes each path segment once (slashes kept).
    static func encodePath(_ path: String) -> String { encode(path, keepSlash: true) }

    /// Parameters encoded, then sorted by name (and value) in byte order.
    static func canonicalQuery(_ parameters: [String: String]) -> String {
        let encoded: [(name: String, value: String)] = parameters.map { (encode($0.key), encode($0.value)) }
        let sorted = encoded.sorted { left, right in
            left.name == right.name ? left.value < right.value : left.name < right.name
        }
        return sorted.map { pair in pair.name + "=" + pair.value }.joined(separator: "&")
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}
