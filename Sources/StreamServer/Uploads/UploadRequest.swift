import Foundation

/// `POST /api/uploads`: what the browser says about the file it is about to send.
public struct UploadRequest: Sendable, Decodable, Equatable {
    public var filename: String?
    public var size: Int64?
    public var contentType: String?
    /// The file's lastModified (ms since 1970), part of the resume fingerprint.
    public var lastModified: Int64?
    public var title: String?
    /// public, unlisted (the default) or private.
    public var visibility: String?

    public init(filename: String?, size: Int64?, contentType: String?, lastModified: Int64?, title: String? = nil,
                visibility: String? = nil) {
        self.filename = filename
        self.size = size
        self.contentType = contentType
        self.lastModified = lastModified
        self.title = title
        self.visibility = visibility
    }
}

/// How a validated upload is cut into parts.
public struct UploadPlan: Sendable, Equatable, Encodable {
    /// 10 MiB: S3's minimum is 5 MiB for all but the last part.
    public static let partSize: Int64 = 10 * 1024 * 1024
    /// S3 allows at most 10,000 parts per upload.
    public static let maxParts: Int64 = 10_000

    public var filename: String
    public var size: Int64
    public var contentType: String
    public var lastModified: Int64
    public var title: String
    public var partSize: Int64
    public var partCount: Int

    /// Validates a request against the size limit.
    /// - Throws: 400 for a missing field or an empty file, 413 over `maxBytes`,
    ///   415 for a content type that is not video.
    public init(_ request: UploadRequest, maxBytes: Int64) throws(APIError) {
        guard let filename = request.filename?.trimmingCharacters(in: .whitespacesAndNewlines), !filename.isEmpty else {
            throw .badRequest("filename is required")
        }
        guard let size = request.size else { throw .badRequest("size is required") }
        guard let contentType = request.contentType?.lowercased(), !contentType.isEmpty else {
            throw .badRequest("contentType is required")
        }
        guard let lastModified = request.lastModified else { throw .badRequest("lastModified is required") }
        guard size > 0 else { throw .badRequest("the file is empty") }
        guard size <= maxBytes else { throw .tooLarge("the file is \(size) bytes; the limit is \(maxBytes)") }
        let mediaType = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        // video/ and a subtype of RFC 6838 restricted-name characters (as web/openapi.yaml says).
        let subtype = mediaType.dropFirst("video/".count)
        let restricted = Set("abcdefghijklmnopqrstuvwxyz0123456789!#$&^_.+-")
        guard mediaType.hasPrefix("video/"), !subtype.isEmpty, subtype.allSatisfy(restricted.contains) else {
            throw .unsupportedMediaType("content type \(mediaType) is not a video")
        }
        let parts = (size + Self.partSize - 1) / Self.partSize
        guard parts <= Self.maxParts else { throw .tooLarge("the file needs more than \(Self.maxParts) parts") }
        self.filename = String(filename.prefix(255))
        self.size = size
        self.contentType = mediaType
        self.lastModified = lastModified
        let trimmedTitle = request.title?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        self.title = String((trimmedTitle.isEmpty ? filename : trimmedTitle).prefix(200))
        self.partSize = Self.partSize
        self.partCount = Int(parts)
    }

    /// Checks part numbers asked for by `POST /api/uploads/{id}/sign`: 1...partCount, at most 100.
    public func validatePartNumbers(_ numbers: [Int]) throws(APIError) {
        try PartRange(count: partCount).validate(numbers)
    }
}
