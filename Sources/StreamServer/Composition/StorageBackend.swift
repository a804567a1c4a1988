import Foundation

/// The storage backend, and what differs between the two: who stores a part, who signs
/// its URL, who serves playback. The routes ask these questions and never switch on the
/// backend themselves.
public enum StorageBackend: Sendable {
    /// The embedded default: the server stores parts itself, at URLs it signs.
    case local(LocalStorage)
    /// S3-compatible storage: the browser PUTs parts to presigned S3 URLs.
    case s3(S3Storage)

    public var storage: any ObjectStorage {
        switch self {
        case .local(let storage): storage
        case .s3(let storage): storage
        }
    }

    /// The storage the server writes uploaded parts into itself; nil when the browser
    /// sends them straight to S3.
    var partStore: LocalStorage? {
        if case .local(let storage) = self { storage } else { nil }
    }

    /// Uploads fill the server's own disk (so new ones are refused when it runs low).
    var keepsUploadsOnLocalDisk: Bool { partStore != nil }

    /// `GET /hls/{id}/…` is this server's to answer; in S3 mode public objects play from
    /// the bucket (`PUBLIC_BASE_URL`) and only the token route reads through the server.
    var servesPublicPlayback: Bool { partStore != nil }

    /// S3 storage that can copy a prefix (a video moving in or out of the private prefix).
    var bucket: S3Storage? {
        if case .s3(let storage) = self { storage } else { nil }
    }

    /// The URL the browser PUTs part `partNumber` of `video`'s upload to: the server's
    /// own signed route, or S3's presigned URL.
    func partURL(video: VideoRecord, partNumber: Int, expires: Int, lifetime: Int, signer: LocalPartSigner) -> String {
        switch self {
        case .local:
            let signature = signer.signature(method: "PUT", key: video.sourceKey, uploadID: video.uploadID ?? "",
                                             partNumber: partNumber, expires: expires)
            return "/api/uploads/\(video.id.uuidString.lowercased())/parts/\(partNumber)?expires=\(expires)&signature=\(signature)"
        case .s3(let storage):
            return storage.partUploadURL(key: video.sourceKey, uploadID: video.uploadID ?? "", partNumber: partNumber,
                                         expires: lifetime)
        }
    }
}
