import Foundation
import HLSEngine
import Logging
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
}
