import Foundation
import HLSEngine

/// The embedded worker: takes videos off an in-process queue, one at a time, and runs
/// each job: fetch the source, run the engine, store every output object (the master
/// last), set READY, delete the original, publish the final event.
public actor TranscodeWorker {
    private let storage: any ObjectStorage
    private let store: any MetadataStore
    private let hub: any ProgressPublisher
    private let scratch: URL
    private let playbackBase: String
    private var queue: [UUID] = []
    private var running = false

    public init(storage: any ObjectStorage, store: any MetadataStore, hub: any ProgressPublisher, scratch: URL, playbackBase: String) {
        self.storage = storage
        self.store = store
        self.hub = hub
        self.scratch = scratch
        self.playbackBase = playbackBase
    }

    public func enqueue(_ video: UUID) {
        queue.append(video)
        guard !running else { return }
        running = true
        Task { await drain() }
    }

    private func drain() async {
        while !queue.isEmpty {
            let video = queue.removeFirst()
            await process(video)
        }
        running = false
    }


    /// Runs one job to its end (READY or FAILED). A video that is not PROCESSING (done
    /// already, or deleted) is skipped, so a redelivered job is harmless.
    public func process(_ id: UUID) async {
        guard var record = try? await store.video(id), record.status == .processing else { return }
        let work = scratch.appendingPathComponent(id.uuidString)
        defer { try? FileManager.default.removeItem(at: work) }
        var lifecycle = VideoLifecycle(status: record.status)
        do {
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
            await publishProgress(id, stage: "downloading", percent: 0)
            let source = work.appendingPathComponent("source")
            try await storage.fetch(key: record.sourceKey, to: source)

            let output = work.appendingPathComponent("hls")
            let transcoder = Transcoder(input: source.path, output: output.path)
            let follower = Task { [hub] in
                for await event in transcoder.events where event.stage == .transcoding {
                    await hub.publish(id) { sequence in
                        VideoEvent(id: sequence, kind: .progress, status: .processing, stage: "transcoding",
                                   percent: event.percent, framesDone: event.framesDone, framesTotal: event.framesTotal,
                                   fps: event.fps, renditions: Dictionary(uniqueKeysWithValues: event.renditions.map { ($0.name, $0.framesEncoded) }))
                    }
                }
            }
            let result: TranscodeResult
            do {
                result = try await transcoder.run()
                await follower.value
            } catch {
                follower.cancel()
                throw error
            }

            await publishProgress(id, stage: "uploading", percent: 99.9)
            try await storeOutputs(from: output, prefix: record.hlsPrefix)

            for action in try lifecycle.transcodeSucceeded() {
                switch action {
                case .persist:
                    record.status = .ready
                    record.durationSeconds = result.durationSeconds
                    let top = result.renditions.last?.rendition
                    record.width = top?.width
                    record.height = top?.height
                    record.renditions = Self.renditionsJSON(result)
                    guard try await store.update(record, expected: .processing) else { return }  // cancelled or done elsewhere
                case .deleteOriginal:
                    try? await storage.delete(key: record.sourceKey)
                case .publishFinal:
                    let url = "\(playbackBase)/\(record.hlsPrefix)/master.m3u8"
                    await hub.publish(id) { VideoEvent(id: $0, kind: .ready, status: .ready, percent: 100, playbackUrl: url) }
                default:
                    break
                }
            }
        } catch {
            let reason = (error as? TranscodeError).map { "\($0.reason)" } ?? "\(error)"
            // The embedded worker does not retry: every failure is final (retries come with the queue).
            guard let actions = try? lifecycle.transcodeFailed(reason, final: true) else { return }
            for action in actions {
                switch action {
                case .persist:
                    record.status = .failed
                    record.error = reason
                    _ = try? await store.update(record, expected: .processing)
                case .publishFinal:
                    await hub.publish(id) { VideoEvent(id: $0, kind: .failed, status: .failed, percent: 0, error: reason) }
                default:
                    break
                }
            }
            try? await storage.deletePrefix(record.hlsPrefix)
        }
    }

    private func publishProgress(_ id: UUID, stage: String, percent: Double) async {
        await hub.publish(id) { VideoEvent(id: $0, kind: .progress, status: .processing, stage: stage, percent: percent) }
    }

    /// Every file under `directory`, with its Content-Type; the master playlist last, so
    /// its presence in storage means a complete ladder there too.
    private func storeOutputs(from directory: URL, prefix: String) async throws {
        guard let enumerator = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: [.isRegularFileKey]) else { return }
        var files: [String] = []
        for case let url as URL in enumerator where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
            files.append(String(url.path.dropFirst(directory.path.count + 1)))
        }
        for relative in files.sorted(by: { ($0 == "master.m3u8" ? 1 : 0, $0) < ($1 == "master.m3u8" ? 1 : 0, $1) }) {
            let type = HLSContentType.forPath(relative)
            try await storage.put(file: directory.appendingPathComponent(relative), key: "\(prefix)/\(relative)",
                                  contentType: type.contentType, cacheControl: type.cacheControl)
        }
    }

    static func renditionsJSON(_ result: TranscodeResult) -> String {
        let items = result.renditions.map { rendition in
            ["name": rendition.rendition.name, "width": rendition.rendition.width, "height": rendition.rendition.height,
             "averageBandwidth": rendition.averageBandwidth, "peakBandwidth": rendition.peakBandwidth] as [String: any Sendable]
        }
        let data = (try? JSONSerialization.data(withJSONObject: items, options: [.sortedKeys])) ?? Data("[]".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

/// Content-Type and Cache-Control of HLS objects.
public struct HLSContentType: Sendable, Equatable {
    public var contentType: String
    public var cacheControl: String

    public static func forPath(_ path: String) -> HLSContentType {
        switch (path as NSString).pathExtension.lowercased() {
        case "m3u8": HLSContentType(contentType: "application/vnd.apple.mpegurl", cacheControl: "public, max-age=60")
        case "m4s": HLSContentType(contentType: "video/iso.segment", cacheControl: "public, max-age=31536000, immutable")
        case "mp4": HLSContentType(contentType: "video/mp4", cacheControl: "public, max-age=31536000, immutable")
        case "ts": HLSContentType(contentType: "video/mp2t", cacheControl: "public, max-age=31536000, immutable")
        case "jpg", "jpeg": HLSContentType(contentType: "image/jpeg", cacheControl: "public, max-age=3600")
        default: HLSContentType(contentType: "application/octet-stream", cacheControl: "no-cache")
        }
    }
}
