import Foundation
import HTTPTypes
import Hummingbird

/// Direct-to-storage resumable uploads. The server signs and coordinates; the bytes go
/// to storage. In the embedded default the server is that storage, behind the same
/// kind of signed part URLs as S3, so the browser code is identical.
struct UploadRoutes {
    let state: ServerState

    struct CreatedUpload: ResponseEncodable {
        var videoId: String
        var uploadId: String
        var partSize: Int64
        var partCount: Int
        var visibility: String
        /// An anonymous upload's credential for this video, shown this once (the server
        /// keeps only its hash); nil when a key or a JWT user owns the video.
        var ownerToken: String?
    }

    struct PartList: ResponseEncodable { var parts: [UploadedPart] }
    struct SignRequest: Decodable { var partNumbers: [Int]? }
    struct SignedURLs: ResponseEncodable { var urls: [String: String]; var expiresAt: String }
    struct CompleteRequest: Decodable {
        struct Part: Decodable { var partNumber: Int?; var etag: String? }
        var parts: [Part]?
    }
    struct Accepted: ResponseEncodable { var videoId: String; var status: String }

    func add(to router: Router<VStreamRequestContext>) {
        let uploads = router.group("api/uploads")
        uploads.post { request, context in try await create(request, context) }
        uploads.get(":id/parts") { _, context in try await parts(context) }
        uploads.post(":id/sign") { request, context in try await sign(request, context) }
        uploads.put(":id/parts/:part") { request, context in try await putPart(request, context) }
        uploads.post(":id/complete") { request, context in try await complete(request, context) }
        uploads.delete(":id") { _, context in try await abort(context) }
    }

    func create(_ request: Request, _ context: VStreamRequestContext) async throws -> EditedResponse<CreatedUpload> {
        let access = state.access.configuration
        if case .deny(let refusal) = AccessRules.mayCreateUpload(context.identity, anonymousUploads: access.anonymousUploads) {
            throw refusal
        }
        let body = try await JSONBody.decode(UploadRequest.self, request, context)
        let plan = try UploadPlan(body, maxBytes: state.configuration.maxUploadBytes)
        let visibility = try body.visibility.map(VideoSettings.visibility) ?? .unlisted
        // Limits count callers without a key: a JWT user by subject, anyone else by address.
        let uploader = context.quotaKey(trustForwardedFor: access.trustForwardedFor,
                                        forwardedFor: HTTPField.Name("X-Forwarded-For").flatMap { request.headers[$0] })
        if let uploader {
            let pending = try await state.store.uploadingBytes(uploader: uploader)
            guard pending + plan.size <= access.uploadQuotaBytes else {
                throw APIError(429, "you have \(pending) bytes of uploads in progress; the limit is \(access.uploadQuotaBytes). "
                                    + "Finish or cancel one first", retryAfter: 60)
            }
            do {
                try await state.access.uploadLimiter.admit(uploader)
            } catch let refusal as APIError {
                throw refusal
            } catch {
                // Redis is down: the limit is not counted for now, and uploads go on.
                context.logger.warning("upload rate limit unavailable", metadata: ["error": "\(error)"])
            }
        }
        // The embedded default keeps parts on its own disk: refuse before it fills.
        if state.backend.keepsUploadsOnLocalDisk, let free = Housekeeping.freeBytes(at: state.configuration.dataDirectory),
           free < Int64(state.configuration.minFreeMiB) << 20 {
            throw APIError(507, "the server is low on disk space; try again later")
        }
        let id = UUID()
        let key = "uploads/\(id.uuidString.lowercased())/source"  // never derived from the filename
        // A key or a JWT user owns what it uploads; anyone else gets a token of its own.
        let owner: VideoOwner, ownerToken: String?
        if let identified = context.identity?.owner {
            (owner, ownerToken) = (identified, nil)
        } else {
            let token = OwnerToken.make()
            (owner, ownerToken) = (.token(sha256: OwnerToken.hash(token)), token)
        }
        let uploadID = try await state.storage.createMultipartUpload(key: key)
        let now = Date()
        try await state.store.insert(VideoRecord(
            id: id, title: plan.title, originalFilename: plan.filename, size: plan.size, contentType: plan.contentType,
            lastModified: plan.lastModified, status: .uploading, uploadID: uploadID, sourceKey: key,
            hlsPrefix: VideoSettings.prefix(for: id, visibility, state: state), partCount: plan.partCount,
            createdAt: now, updatedAt: now, owner: owner, visibility: visibility, uploader: uploader))
        context.logger.notice("state change", metadata: ["video": "\(id.uuidString.lowercased())", "status": "UPLOADING",
                                                         "size": "\(plan.size)", "parts": "\(plan.partCount)"])
        return EditedResponse(status: .created, response: CreatedUpload(
            videoId: id.uuidString.lowercased(), uploadId: uploadID, partSize: plan.partSize, partCount: plan.partCount,
            visibility: visibility.rawValue, ownerToken: ownerToken))
    }

    /// What storage says has landed (never what the browser remembers).
    func parts(_ context: VStreamRequestContext) async throws -> PartList {
        let video = try await uploadingVideo(context)
        return PartList(parts: try await state.storage.listParts(key: video.sourceKey, uploadID: video.uploadID ?? ""))
    }

    func sign(_ request: Request, _ context: VStreamRequestContext) async throws -> SignedURLs {
        let video = try await uploadingVideo(context)
        let body = try await JSONBody.decode(SignRequest.self, request, context)
        let plan = PartRange(count: video.partCount)
        let numbers = body.partNumbers ?? []
        try plan.validate(numbers)
        let lifetime = Int(state.configuration.partURLLifetime)
        let expires = Int(Date().timeIntervalSince1970) + lifetime
        var urls: [String: String] = [:]
        for number in numbers {
            urls[String(number)] = state.backend.partURL(video: video, partNumber: number, expires: expires,
                                                         lifetime: lifetime, signer: state.partSigner)
        }
        return SignedURLs(urls: urls, expiresAt: ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(expires))))
    }

    /// The embedded default's stand-in for S3's presigned part PUT. Like S3's, its URL is
    /// the credential: only the owner could have had it signed.
    func putPart(_ request: Request, _ context: VStreamRequestContext) async throws -> Response {
        guard let storage = state.backend.partStore else { throw APIError.notFound("parts go to S3 in this mode") }
        // The signature is checked before anything about the video is told: an unsigned
        // or forged URL gets the same 403 whether the id is unknown, private, READY or
        // of another size (issue 20: the answers were an existence oracle).
        let query = request.uri.queryParameters
        guard let expires = query.get("expires", as: Int.self), let signature = query.get("signature") else {
            throw APIError.forbidden("missing signature")
        }
        let invalid = APIError.forbidden("invalid signature")
        guard let id = context.parameters.get("id").flatMap(UUID.init(uuidString:)),
              let number = context.parameters.get("part", as: Int.self),
              let video = try await state.store.video(id) else { throw invalid }
        do {
            try state.partSigner.verify(method: "PUT", key: video.sourceKey, uploadID: video.uploadID ?? "", partNumber: number,
                                        expires: expires, signature: signature, now: Date())
        } catch .expired {
            throw APIError.forbidden("the signed URL has expired")
        } catch {
            throw invalid
        }
        guard video.status == .uploading else { throw APIError.conflict("the upload is already \(video.status.rawValue)") }
        guard (1...max(1, video.partCount)).contains(number) else {
            throw APIError.badRequest("part number out of range 1...\(video.partCount)")
        }
        let partSize = UploadPlan.partSize
        let expected = number < video.partCount ? partSize : video.size - partSize * Int64(video.partCount - 1)
        let chunks = request.body.map { Array($0.readableBytesView) }
        let stored: UploadedPart
        do {
            stored = try await storage.writePart(uploadID: video.uploadID ?? "", partNumber: number,
                                                 expectedBytes: expected, chunks: chunks)
        } catch StorageError.invalidPart(let reason) {
            throw reason.contains("larger") ? APIError.tooLarge(reason) : APIError.badRequest(reason)
        }
        return Response(status: .ok, headers: [.eTag: "\"\(stored.etag)\"", .accessControlExposeHeaders: "ETag"])
    }

    /// Completes the upload, sets PROCESSING and queues the transcode. Idempotent.
    func complete(_ request: Request, _ context: VStreamRequestContext) async throws -> EditedResponse<Accepted> {
        var video = try await existingVideo(context)
        let body = try await JSONBody.decode(CompleteRequest.self, request, context)
        var lifecycle = VideoLifecycle(status: video.status)
        let actions: [VideoLifecycle.Action]
        do {
            actions = try lifecycle.uploadCompleted()
        } catch {
            throw APIError.conflict("the video is \(video.status.rawValue)")
        }
        for action in actions {
            switch action {
            case .completeMultipartUpload:
                let parts = try (body.parts ?? []).map { part -> (partNumber: Int, etag: String) in
                    guard let number = part.partNumber, let etag = part.etag else { throw APIError.badRequest("each part needs partNumber and etag") }
                    return (number, etag)
                }
                guard parts.count == video.partCount else {
                    throw APIError.badRequest("expected \(video.partCount) parts, got \(parts.count)")
                }
                do {
                    // The sizes storage holds, not what the client says: anything else is 400.
                    let stored = try await state.storage.listParts(key: video.sourceKey, uploadID: video.uploadID ?? "")
                    try PartSizeCheck.verify(stored, declaredSize: video.size, partCount: video.partCount)
                    try await state.storage.completeMultipartUpload(key: video.sourceKey, uploadID: video.uploadID ?? "", parts: parts)
                } catch StorageError.invalidPart(let reason) {
                    throw APIError.badRequest(reason)
                } catch let error where Self.isNoSuchUpload(error) {
                    // A retried complete whose first try already assembled the object (the
                    // answer was lost): the object is there, at the declared size.
                    guard try await state.storage.size(key: video.sourceKey) == video.size else {
                        throw APIError.badRequest("the upload no longer exists in storage")
                    }
                } catch let failure as S3Storage.Failure where failure.status == 400 {
                    throw APIError.badRequest("storage refused the parts: \(failure.code)")
                }
            case .persist(let status, _):
                video.status = status
                guard try await state.store.update(video, expected: .uploading) else {
                    throw APIError.conflict("the upload changed while completing")
                }
                context.logger.notice("state change", metadata: ["video": "\(video.id.uuidString.lowercased())", "status": "\(status.rawValue)"])
            case .enqueueTranscode:
                try await state.enqueueTranscode(video.id)
            case .deleteOriginal, .abortUpload, .removeRow, .resetAttempts, .publishFinal:
                continue  // not actions of a completion
            }
        }
        return EditedResponse(status: .accepted, response: Accepted(videoId: video.id.uuidString.lowercased(), status: video.status.rawValue))
    }

    /// The storage no longer knows the multipart upload (completed, aborted or expired).
    static func isNoSuchUpload(_ error: any Error) -> Bool {
        if let error = error as? StorageError { return error == .noSuchUpload }
        if let failure = error as? S3Storage.Failure { return failure.code == "NoSuchUpload" || failure.status == 404 }
        return false
    }

    func abort(_ context: VStreamRequestContext) async throws -> Response {
        let video = try await existingVideo(context)
        var lifecycle = VideoLifecycle(status: video.status)
        guard let actions = try? lifecycle.uploadAborted() else { throw APIError.conflict("the video is \(video.status.rawValue)") }
        for action in actions {
            switch action {
            case .abortUpload:
                try await state.storage.abortMultipartUpload(key: video.sourceKey, uploadID: video.uploadID ?? "")
            case .removeRow:
                try await state.store.delete(video.id)
            case .persist, .completeMultipartUpload, .enqueueTranscode, .deleteOriginal, .resetAttempts, .publishFinal:
                continue  // not actions of an abort
            }
        }
        context.logger.notice("state change", metadata: ["video": "\(video.id.uuidString.lowercased())", "status": "aborted"])
        return Response(status: .noContent)
    }

    /// The upload in the path, if the caller owns it (or holds a key).
    private func existingVideo(_ context: VStreamRequestContext) async throws -> VideoRecord {
        try await state.authorize(.change, context.parameters.get("id"), context, missing: "no such upload").0
    }

    private func uploadingVideo(_ context: VStreamRequestContext) async throws -> VideoRecord {
        let video = try await existingVideo(context)
        guard video.status == .uploading else { throw APIError.conflict("the upload is already \(video.status.rawValue)") }
        return video
    }
}

/// Part numbers a sign request may ask for.
struct PartRange {
    var count: Int
    func validate(_ numbers: [Int]) throws(APIError) {
        guard !numbers.isEmpty else { throw .badRequest("partNumbers is empty") }
        guard numbers.count <= 100 else { throw .badRequest("at most 100 parts per call") }
        if let bad = numbers.first(where: { $0 < 1 || $0 > count }) { throw .badRequest("part \(bad) is out of range 1...\(count)") }
    }
}

/// JSON bodies with our error format: malformed JSON is a 400 `{"error": ...}`.
enum JSONBody {
    static func decode<T: Decodable>(_ type: T.Type, _ request: Request, _ context: VStreamRequestContext) async throws -> T {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: 1 << 20)
        } catch {
            throw APIError.tooLarge("the request body is over 1 MiB")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch {
            throw APIError.badRequest("malformed JSON body")
        }
    }
}
