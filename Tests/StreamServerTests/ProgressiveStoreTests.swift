import Foundation
import HLSEngine
import Logging
import Synchronization
import Testing
@testable import StreamServer

/// The service's progressive store, on local storage.
@Suite("Progressive store")
struct ProgressiveStoreTests {
    /// An heir takes over a still picture whose rung had ended early (its EVENT playlist ends
    /// with the picture's one segment) while the sound's had grown on: it must go on from
    /// there. Before, it read the ended playlist as one still growing, so the sound's EVENT
    /// playlist, rewritten on the heir's first `playable`, shrank to the picture's one segment.
    @Test func anHeirKeepsAStillPicturesEndedRung() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("progressive-store-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let storage = try LocalStorage(root: root.appendingPathComponent("objects"))
        let work = root.appendingPathComponent("work")
        let prefix = "hls/still"
        func playlist(_ count: Int, duration: Double, ended: Bool) -> String {
            (["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-TARGETDURATION:3", "#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-PLAYLIST-TYPE:EVENT",
              "#EXT-X-MAP:URI=\"init.mp4\""]
                + (0..<count).flatMap { ["#EXTINF:\(String(format: "%.6f", duration)),", "segment_\(String(format: "%05d", $0)).m4s"] }
                + (ended ? ["#EXT-X-ENDLIST"] : [])).joined(separator: "\n") + "\n"
        }
        // What the earlier attempt stored.
        let earlier = ["180p/live.m3u8": playlist(1, duration: 0.04, ended: true), "audio/live.m3u8": playlist(5, duration: 2, ended: false),
                       "live.m3u8": "#EXTM3U\n"]
        for (name, text) in earlier {
            let file = root.appendingPathComponent(name.replacingOccurrences(of: "/", with: "-"))
            try Data(text.utf8).write(to: file)
            try await storage.put(file: file, key: "\(prefix)/\(name)", contentType: "application/vnd.apple.mpegurl", cacheControl: "no-cache")
        }
        for folder in ["180p", "audio"] { try FileManager.default.createDirectory(at: work.appendingPathComponent(folder), withIntermediateDirectories: true) }

        let store = await ProgressiveStore(storage: storage, prefix: prefix, work: work, segmentDuration: 2,
                                           existing: Set(earlier.keys.map { "\(prefix)/\($0)" }), logger: Logger(label: "test"),
                                           onPlayable: {})
        #expect(await store.wasPlayable)
        // The heir's engine says the ladder is playable again, then that the rung has ended.
        let variants = [ProgressiveLadder.Variant(name: "180p", width: 320, height: 180, bandwidth: 1, averageBandwidth: 1,
                                                  codecs: "avc1.64000d", frameRate: 25),
                        ProgressiveLadder.Variant(name: "audio", width: 0, height: 0, bandwidth: 1, averageBandwidth: 1,
                                                  codecs: "mp4a.40.2", frameRate: 0, channels: 2)]
        await store.publish(.playable(variants))
        let sound = String(decoding: try await storage.data(key: "\(prefix)/audio/live.m3u8") ?? Data(), as: UTF8.self)
        #expect(sound.components(separatedBy: ".m4s").count - 1 == 5, "the sound's EVENT playlist shrank:\n\(sound)")
        let picture = String(decoding: try await storage.data(key: "\(prefix)/180p/live.m3u8") ?? Data(), as: UTF8.self)
        #expect(picture.hasSuffix("#EXT-X-ENDLIST\n") && picture.components(separatedBy: ".m4s").count - 1 == 1, "\(picture)")
    }

    /// Segments are stored several at once, each put taking its own time, as to a remote
    /// bucket. Whenever a playlist lands, every segment it names is already stored and it
    /// names no fewer than its last copy; the master lands once every playlist it names has
    /// a segment; and at the end each playlist names every segment.
    @Test func segmentsStoredAtOnceAreNamedOnlyOnceStoredAndPlaylistsNeverShrink() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("progressive-store-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let local = try LocalStorage(root: root.appendingPathComponent("objects"))
        let storage = DistantStorage(local)
        let work = root.appendingPathComponent("work")
        let prefix = "hls/far", renditions = ["360p", "720p", "audio"], count = 12
        for rendition in renditions {
            try FileManager.default.createDirectory(at: work.appendingPathComponent(rendition), withIntermediateDirectories: true)
            try Data("init \(rendition)".utf8).write(to: work.appendingPathComponent("\(rendition)/init.mp4"))
            for index in 0..<count {
                try Data("\(rendition) \(index)".utf8).write(to: work.appendingPathComponent("\(rendition)/\(Self.segmentName(index))"))
            }
        }
        let store = await ProgressiveStore(storage: storage, prefix: prefix, work: work, segmentDuration: 2, existing: [],
                                           logger: Logger(label: "test"), onPlayable: {})
        let variants = renditions.map { name in
            ProgressiveLadder.Variant(name: name, width: name == "audio" ? 0 : 640, height: name == "audio" ? 0 : 360, bandwidth: 1,
                                      averageBandwidth: 1, codecs: name == "audio" ? "mp4a.40.2" : "avc1.64001f",
                                      frameRate: name == "audio" ? 0 : 30, channels: name == "audio" ? 2 : nil)
        }
        // The engine's order: segment i of every rendition, `.playable` once each has one.
        let (publications, sink) = AsyncStream.makeStream(of: Publication.self)
        for index in 0..<count {
            for rendition in renditions {
                sink.yield(.segment(PublishedSegment(rendition: rendition, index: index, uri: Self.segmentName(index), duration: 2, bytes: 8)))
            }
            if index == 0 { sink.yield(.playable(variants)) }
        }
        sink.finish()
        await store.publishAll(publications, alsoTo: nil)

        #expect(storage.violations.isEmpty, "\(storage.violations)")
        #expect(storage.mostAtOnce > 1 && storage.mostAtOnce <= ProgressiveStore.storesAtOnce + renditions.count,
                "puts at once: \(storage.mostAtOnce)")
        for rendition in renditions {
            let text = String(decoding: try await local.data(key: "\(prefix)/\(rendition)/live.m3u8") ?? Data(), as: UTF8.self)
            #expect(DistantStorage.segments(in: text).count == count, "\(rendition):\n\(text)")
        }
        #expect(try await local.data(key: "\(prefix)/live.m3u8") != nil)
    }

    static func segmentName(_ index: Int) -> String { String(format: "segment_%05d.m4s", index) }
}

/// Local storage whose puts each take 0 to 20 ms (as to a remote bucket, in any order),
/// checking as each playlist lands what a viewer fetching it then would find.
final class DistantStorage: ObjectStorage, @unchecked Sendable {
    // @unchecked: the mutable state is in `state`, behind its Mutex.
    private let local: LocalStorage
    private struct State {
        var named: [String: Int] = [:]
        var violations: [String] = []
        var inFlight = 0
        var mostAtOnce = 0
        var random = SystemRandomNumberGenerator()
    }
    private let state = Mutex(State())

    init(_ local: LocalStorage) { self.local = local }

    var violations: [String] { state.withLock { $0.violations } }
    var mostAtOnce: Int { state.withLock { $0.mostAtOnce } }

    static func segments(in playlist: String) -> [String] {
        playlist.split(separator: "\n").filter { !$0.hasPrefix("#") }.map(String.init)
    }

    func put(file: URL, key: String, contentType: String, cacheControl: String, contentDisposition: String?) async throws {
        let delay = state.withLock { state in
            state.inFlight += 1
            state.mostAtOnce = max(state.mostAtOnce, state.inFlight)
            return Int.random(in: 0...20, using: &state.random)
        }
        try await Task.sleep(for: .milliseconds(delay))
        // What a viewer would find if it fetched this playlist the moment it lands.
        if key.hasSuffix("/live.m3u8") { try await check(playlist: file, key: key) }
        try await local.put(file: file, key: key, contentType: contentType, cacheControl: cacheControl, contentDisposition: contentDisposition)
        state.withLock { $0.inFlight -= 1 }
    }

    private func check(playlist file: URL, key: String) async throws {
        let folder = String(key.dropLast("live.m3u8".count))
        let names = Self.segments(in: String(decoding: try Data(contentsOf: file), as: UTF8.self))
        var problems: [String] = []
        if key.hasSuffix("/far/live.m3u8") {
            // The master: every playlist it names is stored with a segment.
            for playlist in names {
                let named = Self.segments(in: String(decoding: try await local.data(key: folder + playlist) ?? Data(), as: UTF8.self))
                if named.isEmpty { problems.append("the master names \(playlist) before it has a segment") }
            }
        } else {
            for name in names + ["init.mp4"] where try await local.data(key: folder + name) == nil {
                problems.append("\(key) names \(name) before it is stored")
            }
        }
        state.withLock { state in
            if let before = state.named[key], names.count < before { problems.append("\(key) shrank from \(before) to \(names.count)") }
            state.named[key] = max(state.named[key] ?? 0, names.count)
            state.violations += problems
        }
    }

    func createMultipartUpload(key: String) async throws -> String { try await local.createMultipartUpload(key: key) }
    func listParts(key: String, uploadID: String) async throws -> [UploadedPart] { try await local.listParts(key: key, uploadID: uploadID) }
    func completeMultipartUpload(key: String, uploadID: String, parts: [(partNumber: Int, etag: String)]) async throws {
        try await local.completeMultipartUpload(key: key, uploadID: uploadID, parts: parts)
    }
    func abortMultipartUpload(key: String, uploadID: String) async throws { try await local.abortMultipartUpload(key: key, uploadID: uploadID) }
    func fetch(key: String, to file: URL) async throws { try await local.fetch(key: key, to: file) }
    func data(key: String) async throws -> Data? { try await local.data(key: key) }
    func read(key: String, range: Range<Int64>) async throws -> Data? { try await local.read(key: key, range: range) }
    func localPath(key: String) throws -> String? { nil }
    func delete(key: String) async throws { try await local.delete(key: key) }
    func size(key: String) async throws -> Int64? { try await local.size(key: key) }
    func deletePrefix(_ prefix: String) async throws { try await local.deletePrefix(prefix) }
    func keys(under prefix: String) async throws -> [String] { try await local.keys(under: prefix) }
}
