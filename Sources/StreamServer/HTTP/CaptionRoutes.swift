import Foundation
import HLSEngine
import Hummingbird

/// `POST /api/videos/{id}/captions` and `DELETE /api/videos/{id}/captions/{language}`: the
/// owner (or a key) adds a caption track to a READY video, or takes one away. The engine's
/// `LadderCaptions` rewrites the ladder's text files; they are stored with the master last,
/// so a player that opens the master finds every file it names.
struct CaptionRoutes {
    let state: ServerState

    func add(to router: Router<VStreamRequestContext>) {
        let videos = router.group("api/videos")
        videos.post(":id/captions") { request, context in try await addCaptions(request, context) }
        videos.delete(":id/captions/:language") { _, context in try await removeCaptions(context) }
    }

    /// The request: `?language=&name=&format=srt|vtt&kind=` with the file as the body, or a
    /// JSON body `{language, name?, format, kind?, content}`. `kind` is HTML's: "captions" are
    /// for the deaf and hard of hearing (they describe sounds too: SDH), "subtitles" (the
    /// default) are not.
    struct AddRequest: Decodable {
        var language: String
        var name: String?
        var format: String?
        var kind: String?
        var content: String?
    }

    func addCaptions(_ request: Request, _ context: VStreamRequestContext) async throws -> EditedResponse<VideoRoutes.VideoResponse> {
        let (video, view) = try await state.authorize(.change, context.parameters.get("id"), context)
        guard video.status == .ready else {
            throw APIError.conflict("captions are added to a READY video; this one is \(video.status.rawValue)")
        }
        let (fields, data) = try await Self.parse(request, context)
        let track: SidecarCaptions
        do {
            let file = try CaptionFile(data: data)
            if let format = fields.format {
                let isWebVTT = Self.looksLikeWebVTT(data)
                guard format == (isWebVTT ? "vtt" : "srt") else {
                    throw CaptionFile.Refusal(line: 1, reason: "the file is \(isWebVTT ? "WebVTT" : "not WebVTT"), not \(format)")
                }
            }
            track = try SidecarCaptions(language: fields.language, name: fields.name, file: file,
                                        isHearingImpaired: fields.kind == "captions")
        } catch let refusal as CaptionFile.Refusal {
            throw APIError.badRequest("the captions were refused: \(refusal.description)")
        }
        let updated = try await state.edits.run(video.id) {
            try await edit(video.id, context: context) { ladder, existing in try ladder.add(track, to: existing) }
        }
        context.logger.notice("captions added", metadata: ["video": "\(video.id.uuidString.lowercased())",
                                                           "language": "\(track.language)", "cues": "\(track.file.cues.count)"])
        return EditedResponse(status: .created, response: await VideoRoutes(state: state).response(updated, view: view))
    }

    func removeCaptions(_ context: VStreamRequestContext) async throws -> Response {
        let (video, _) = try await state.authorize(.change, context.parameters.get("id"), context)
        let language = try context.parameters.require("language")
        guard video.status == .ready else {
            throw APIError.conflict("captions are removed from a READY video; this one is \(video.status.rawValue)")
        }
        guard (video.outputs?.captions ?? []).contains(where: { $0.language == language }) else {
            throw APIError.notFound("the video has no captions in \(language.prefix(16))")
        }
        _ = try await state.edits.run(video.id) {
            try await edit(video.id, context: context) { ladder, existing in
                guard let change = try ladder.remove(language: language, from: existing) else {
                    throw APIError.notFound("the video has no captions in \(language.prefix(16))")
                }
                return change
            }
        }
        context.logger.notice("captions removed", metadata: ["video": "\(video.id.uuidString.lowercased())", "language": "\(language)"])
        return Response(status: .noContent)
    }

    // MARK: Steps

    /// Fetches the ladder's text files into scratch space, applies `change`, stores what it
    /// wrote (the master last), deletes what it no longer names, and records the tracks.
    private func edit(_ id: UUID, context: VStreamRequestContext,
                      _ change: (LadderCaptions, [TranscodeResult.Caption]) throws -> LadderCaptions.Change) async throws -> VideoRecord {
        // Read again under the lock: a change just before this one is in it.
        guard var video = try await state.store.video(id), video.status == .ready else {
            throw APIError.conflict("the video changed meanwhile; try again")
        }
        guard let shift = video.outputs?.timelineShift, let rung = video.renditions?.first?.name else {
            throw APIError.conflict("this video was transcoded before captions could be added to it")
        }
        let existing = video.outputs?.captions ?? []
        let work = state.job.scratch.appendingPathComponent("captions-\(UUID().uuidString)")
        defer { Housekeeping.removeScratch(work) }
        let prefix = video.hlsPrefix
        var needed = ["master.m3u8", "\(rung)/index.m3u8"] + existing.map(\.playlist)
        if video.outputs?.dash != nil { needed.append(DASHManifest.fileName) }
        for file in needed {
            let target = work.appendingPathComponent(file)
            try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            try await state.storage.fetch(key: "\(prefix)/\(file)", to: target)
        }
        let ladder = LadderCaptions(folder: work.path, segmentsPlaylist: "\(rung)/index.m3u8", timelineShift: shift)
        let result: LadderCaptions.Change
        do {
            result = try change(ladder, existing)
        } catch let reason as TranscodeError.Reason {
            context.logger.error("captions could not be written", metadata: ["video": "\(id)", "error": "\(reason)"])
            throw APIError(500, "the captions could not be written")
        }
        // A film's track is thousands of small segment files, a round trip each to a distant
        // bucket: stored 16 at once, then the manifests in order, the master last.
        try await state.storage.put(result.trackFiles.map { (file: work.appendingPathComponent($0), key: "\(prefix)/\($0)") },
                                    atOnce: BatchWidth.roundTrips)
        for file in result.manifests {
            try await state.storage.put(file: work.appendingPathComponent(file), key: "\(prefix)/\(file)", type: .forPath(file))
        }
        try? await state.storage.delete(keys: result.removed.map { "\(prefix)/\($0)" })
        var outputs = video.outputs ?? VideoOutputs()
        outputs.captions = result.captions.isEmpty ? nil : result.captions
        video.outputs = outputs
        guard try await state.store.update(video, expected: .ready) else {
            throw APIError.conflict("the video changed meanwhile; try again")
        }
        return video
    }

    /// The request's fields and the caption file's bytes.
    static func parse(_ request: Request, _ context: VStreamRequestContext) async throws -> (AddRequest, Data) {
        // Twice the file's limit: a file over it is refused with its size, in words (400),
        // and JSON may escape a 1 MiB file into more than 1 MiB.
        let limit = 2 * CaptionFile.maxBytes + 64 * 1024
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch {
            throw APIError.badRequest("the captions were refused: the file is larger than \(CaptionFile.maxBytes >> 20) MiB")
        }
        let body = Data(buffer.readableBytesView)
        let type = request.headers[.contentType]?.lowercased() ?? ""
        let fields: AddRequest
        let data: Data
        if type.hasPrefix("application/json") {
            guard let decoded = try? JSONDecoder().decode(AddRequest.self, from: body), let content = decoded.content else {
                throw APIError.badRequest("a JSON body is {language, name?, format, kind?, content}")
            }
            fields = decoded
            data = Data(content.utf8)
        } else {
            let query = request.uri.queryParameters
            guard let language = query.get("language") else {
                throw APIError.badRequest("?language= is required (a tag such as eng, fr or pt-BR)")
            }
            fields = AddRequest(language: language, name: query.get("name"), format: query.get("format"), kind: query.get("kind"))
            data = body
        }
        if let format = fields.format, !["srt", "vtt"].contains(format) {
            throw APIError.badRequest("format must be srt or vtt")
        }
        if let kind = fields.kind, !["captions", "subtitles"].contains(kind) {
            throw APIError.badRequest("kind must be captions (for the deaf and hard of hearing) or subtitles")
        }
        guard data.count <= CaptionFile.maxBytes else {
            let size = String(format: "%.1f", Double(data.count) / Double(1 << 20))
            throw APIError.badRequest("the captions were refused: the file is \(size) MiB; at most \(CaptionFile.maxBytes >> 20) MiB")
        }
        return (fields, data)
    }

    /// "WEBVTT" first, after the byte order mark if any (as `CaptionFile` tells them apart).
    static func looksLikeWebVTT(_ data: Data) -> Bool {
        if data.starts(with: [0xFF, 0xFE]) || data.starts(with: [0xFE, 0xFF]) {
            return String(data: data, encoding: .utf16)?.hasPrefix("WEBVTT") ?? false
        }
        let bytes = data.starts(with: [0xEF, 0xBB, 0xBF]) ? data.dropFirst(3) : data[...]
        return bytes.starts(with: Array("WEBVTT".utf8))
    }
}
