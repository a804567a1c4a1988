import ChildProcess
import Foundation
import HLSEngine
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import StreamServer

/// Split and stitch across workers (`VSTREAM_CHUNK_SECONDS`), on real processes: one
/// 30 s upload becomes a coordinator, chunk tasks and a stitch on the shared stream.
extension SeaweedFSTests {
@Suite("Chunked videos across workers", .serialized, .timeLimit(.minutes(5)))
struct ChunkedClusterTests {
    /// 30 s of 720p at 15 fps with two audio tracks, English at 440 Hz and French at
    /// 880 Hz, and Spanish subtitles: five 6 s chunks, two rungs, and chunk 0 encodes both
    /// tracks and reads the subtitles.
    static let source: URL = {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("vstream-chunked-30s-dubbed-subtitled.mp4")
        if !FileManager.default.fileExists(atPath: file.path) {
            let subtitles = FileManager.default.temporaryDirectory.appendingPathComponent("vstream-chunked-30s.srt")
            try? "1\n00:00:01,000 --> 00:00:02,500\nAl principio\n\n2\n00:00:13,000 --> 00:00:14,500\nEn el medio\n\n3\n00:00:25,000 --> 00:00:26,500\nCasi al final\n"
                .write(to: subtitles, atomically: true, encoding: .utf8)
            let made = try? runFFmpeg(["-nostdin", "-v", "error", "-y",
                                       "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=15:duration=30",
                                       "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=30",
                                       "-f", "lavfi", "-i", "sine=frequency=880:sample_rate=48000:duration=30",
                                       "-i", subtitles.path,
                                       "-map", "0:v", "-map", "1:a", "-map", "2:a", "-map", "3:s",
                                       "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-pix_fmt", "yuv420p",
                                       "-c:a", "aac", "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fra",
                                       "-c:s", "mov_text", "-metadata:s:s:0", "language=spa",
                                       "-t", "30", file.path])
            precondition(made?.status == 0, "ffmpeg could not make the chunked test source: \(made?.stderr ?? "")")
        }
        return file
    }()
    static let sourceFrames = 450
    static let environment = ["VSTREAM_CHUNK_SECONDS": "6"]

    /// Both workers encode chunks; the stitched ladder is READY, complete and plays; the
    /// original, the chunks' files and their Redis state are gone.
    @Test func aThirtySecondUploadIsEncodedByBothWorkersAndStitched() async throws {
        let cluster = try await Cluster()
        defer { cluster.stop() }
        let workers = try ["w1", "w2"].map { try cluster.startWorker($0, environment: Self.environment) }
        let id = try await cluster.submit(file: Self.source)

        // Progress counts frames over every chunk, and says how many chunks are stored.
        try await cluster.waitForProgress(id) { fields in
            guard let json = fields["event"], let event = try? JSONDecoder().decode(VideoEvent.self, from: Data(json.utf8)) else { return false }
            return event.chunks?.total == 5 && event.framesTotal == Self.sourceFrames
        }
        let video = try await cluster.waitForFinal(id, timeout: .seconds(240))
        #expect(video.status == .ready, "\(cluster.logs.suffix(3000))")
        #expect(video.width == 1280 && video.height == 720)
        #expect(abs((video.durationSeconds ?? 0) - 30) < 0.1, "\(video.durationSeconds ?? 0)")

        let encoded = cluster.logLines(id, "chunk encoded")
        let chunks = Set(encoded.compactMap { $0.firstMatch(of: /chunk=(\d+)/).map { Int($0.1) ?? -1 } })
        #expect(chunks == Set(0..<5), "\(encoded)")
        for worker in workers {
            #expect(encoded.contains { line in worker.output.contains(line) }, "\(worker.name) encoded a chunk")
        }
        // The whole file's audio, both tracks, once, as a task of its own beside the chunks.
        let audio = cluster.logLines(id, "audio encoded")
        #expect(audio.count == 1 && audio.first?.contains("segments=30") == true, "\(audio)")
        #expect(cluster.logLines(id, "stitched").count == 1)
        #expect(cluster.logLines(id, "state change", "status=READY").count == 1)

        // The ladder: every rung's VOD playlist names 15 segments in order; the EVENT
        // playlists ended; every frame decodes once from the master.
        let prefix = Cluster.prefix(id)
        for rung in ["360p", "720p", "audio", "audio-2"] {
            let playlist = String(decoding: try await cluster.storage.data(key: "\(prefix)/\(rung)/index.m3u8") ?? Data(), as: UTF8.self)
            let segments = playlist.split(separator: "\n").filter { $0.hasSuffix(".m4s") }.map(String.init)
            #expect(segments.count == 15, "\(rung): \(playlist)")
            #expect(segments == segments.sorted())
            let live = String(decoding: try await cluster.storage.data(key: "\(prefix)/\(rung)/live.m3u8") ?? Data(), as: UTF8.self)
            #expect(live.hasSuffix("#EXT-X-ENDLIST\n"), "\(live)")
            #expect(live.split(separator: "\n").filter { $0.hasSuffix(".m4s") }.count == 15)
        }
        let (plays, errors) = try cluster.playsCleanly(id)
        #expect(plays, "\(errors)")
        let master = "\(cluster.seaweed.endpoint.absoluteString)/vstream/\(prefix)/master.m3u8"
        #expect(try Self.decodedFrames(master) == Self.sourceFrames)
        // Both audio tracks, whole: the French one, stored by chunk 0's worker, sounds French.
        let french = String(decoding: try await cluster.storage.data(key: "\(prefix)/audio-2/index.m3u8") ?? Data(), as: UTF8.self)
        #expect(french.split(separator: "\n").filter { $0.hasSuffix(".m4s") }.count == 15, "\(french)")
        let masterText = String(decoding: try await cluster.storage.data(key: "\(prefix)/master.m3u8") ?? Data(), as: UTF8.self)
        #expect(masterText.contains(#"LANGUAGE="fra",NAME="French",DEFAULT=NO"#), "\(masterText)")
        // The early master offered the dub while it transcoded (its EVENT playlist, ended above).
        let early = String(decoding: try await cluster.storage.data(key: "\(prefix)/live.m3u8") ?? Data(), as: UTF8.self)
        #expect(early.contains(#"LANGUAGE="fra",NAME="French",DEFAULT=NO"#) && early.contains(#"URI="audio-2/live.m3u8""#), "\(early)")
        #expect(try Self.toneHeard(master, language: "fra").map { abs($0 - 880) < 15 } == true)
        // Normalised, though chunk 0 published its first segments at the source's level (about
        // −21 LUFS) before the measurement could end: the stored track, its first segment
        // included, is the second encode.
        let frenchLevel = try Self.loudnessHeard(master, stream: "0:a:m:language:fra")
        #expect(abs(frenchLevel - -16) <= 1, "the stored French track plays at \(frenchLevel) LUFS")
        let firstSegment = FileManager.default.temporaryDirectory.appendingPathComponent("chunked-first-\(UUID().uuidString).mp4")
        defer { try? FileManager.default.removeItem(at: firstSegment) }
        try ((try await cluster.storage.data(key: "\(prefix)/audio-2/init.mp4") ?? Data())
            + (try await cluster.storage.data(key: "\(prefix)/audio-2/segment_00000.m4s") ?? Data())).write(to: firstSegment)
        let firstLevel = try Self.loudnessHeard(firstSegment.path, stream: "0:a:0")
        #expect(abs(firstLevel - -16) <= 1, "the stored first French segment plays at \(firstLevel) LUFS")
        // And the subtitles: chunk 0's engine published its segments' captions, the workers
        // extended them chunk by chunk, and the stitch ended the playlist on the VOD's.
        #expect(early.contains(#"TYPE=SUBTITLES,GROUP-ID="subs",LANGUAGE="spa""#) && early.contains(#"URI="captions/spa/live.m3u8""#), "\(early)")
        let liveCaptions = String(decoding: try await cluster.storage.data(key: "\(prefix)/captions/spa/live.m3u8") ?? Data(), as: UTF8.self)
        let vodCaptions = String(decoding: try await cluster.storage.data(key: "\(prefix)/captions/spa/index.m3u8") ?? Data(), as: UTF8.self)
        let extinf = { (text: String) in text.split(separator: "\n").filter { $0.hasPrefix("#EXTINF") } }
        #expect(liveCaptions.hasSuffix("#EXT-X-ENDLIST\n") && extinf(liveCaptions).count == 15 && extinf(liveCaptions) == extinf(vodCaptions),
                "\(liveCaptions)")
        #expect(!cluster.logs.contains("could not extend the live playlists"), "\(cluster.logs.suffix(3000))")
        for (segment, text) in [(0, "Al principio"), (6, "En el medio"), (12, "Casi al final")] {
            let key = "\(prefix)/captions/spa/segment_\(String(format: "%05d", segment)).vtt"
            let cues = String(decoding: try await cluster.storage.data(key: key) ?? Data(), as: UTF8.self)
            #expect(cues.hasPrefix("WEBVTT\nX-TIMESTAMP-MAP=") && cues.contains(text), "\(key): \(cues)")
        }
        let objects = try await cluster.objects(under: prefix)
        #expect(objects.contains("\(prefix)/download.mp4") && objects.contains("\(prefix)/poster.jpg")
                && objects.contains("\(prefix)/storyboard.vtt") && objects.contains("\(prefix)/manifest.mpd"))
        #expect(!objects.contains { $0.contains("/.chunks/") }, "the chunks' files are removed")

        try await cluster.waitForOriginalDeleted(id)
        #expect(await !cluster.sourceExists(id))
        #expect(try await cluster.settledPendingCount() == 0)
        let redis = try RedisConnection(url: cluster.redis.url)
        #expect(try RedisJobQueue.chunkKeys(id).allSatisfy { try redis.command("EXISTS", $0) == .integer(0) })
        #expect(try redis.command("SISMEMBER", RedisJobQueue.tracked, id.uuidString.lowercased()) == .integer(0))
    }

    /// `kill -9` of the worker holding a chunk: the other takes it over and the video is
    /// READY; the EVENT playlists a viewer follows never lose a segment, the audio's
    /// included (chunk 0 wrote it first, then the workers as the audio task stored more).
    @Test func aWorkerKilledMidChunkLosesOnlyThatChunk() async throws {
        let cluster = try await Cluster()
        defer { cluster.stop() }
        let workers = try ["w1", "w2"].map { try cluster.startWorker($0, ["--visibility-timeout", "4"], environment: Self.environment) }
        let id = try await cluster.submit(file: Self.source)
        let playlistKeys = ["720p", "audio"].map { "\(Cluster.prefix(id))/\($0)/live.m3u8" }
        let watcher = Task { () -> [String: [[String]]] in
            var seen: [String: [[String]]] = [:]
            while !Task.isCancelled {
                for key in playlistKeys {
                    guard let data = try? await cluster.storage.data(key: key) else { continue }
                    let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
                        .filter { $0.hasPrefix("#EXTINF") || $0.hasSuffix(".m4s") }.map(String.init)
                    if lines != seen[key]?.last { seen[key, default: []].append(lines) }
                }
                try? await Task.sleep(for: .milliseconds(50))
            }
            return seen
        }

        // A chunk task (not the coordinator) is running: kill its worker.
        let holder = try await Self.holderOfAChunk(id, in: cluster)
        let victim = try #require(workers.first { holder.contains("-\($0.pid)-") })
        kill(victim.pid, SIGKILL)
        #expect(victim.child.wait(timeout: 5) == 137)
        let video = try await cluster.waitForFinal(id, timeout: .seconds(240))
        watcher.cancel()
        let versions = await watcher.value
        #expect(video.status == .ready, "\(cluster.logs.suffix(3000))")
        let survivor = try #require(workers.first { $0.pid != victim.pid })
        #expect(survivor.output.contains("takenOver=true"), "the survivor took the abandoned chunk over")
        #expect(Set(cluster.logLines(id, "chunk encoded").compactMap { $0.firstMatch(of: /chunk=(\d+)/).map { Int($0.1) ?? -1 } })
                == Set(0..<5))
        // Each version of a playlist a viewer saw is a prefix of the next.
        for key in playlistKeys {
            let seen = versions[key] ?? []
            #expect(seen.last?.count == 30, "\(key) ended naming every segment: \(seen.last ?? [])")
            for (earlier, later) in zip(seen, seen.dropFirst()) {
                #expect(Array(later.prefix(earlier.count)) == earlier, "\(key) shrank:\n\(earlier)\n---\n\(later)")
            }
        }
        let (plays, errors) = try cluster.playsCleanly(id)
        #expect(plays, "\(errors)")
        let master = "\(cluster.seaweed.endpoint.absoluteString)/vstream/\(Cluster.prefix(id))/master.m3u8"
        #expect(try Self.decodedFrames(master) == Self.sourceFrames)
        try await cluster.waitForOriginalDeleted(id)
        #expect(try await cluster.settledPendingCount() == 0)
    }

    /// A worker that dies in the audio task, with some of its segments stored: another takes
    /// the task over and the video is READY, every audio segment the normalised encode's
    /// (none left at chunk 0's preview level), and the audio's EVENT playlist never shrank.
    @Test func aWorkerKilledInTheAudioTaskLosesOnlyThatTask() async throws {
        let cluster = try await Cluster()
        defer { cluster.stop() }
        // Alone, it takes the coordinator, then the audio task, queued before the chunks.
        let doomed = try cluster.startWorker("doomed", ["--visibility-timeout", "3"],
                                             environment: Self.environment.merging(["VSTREAM_FAILPOINT": "after-audio-segment-stored"]) { $1 })
        let id = try await cluster.submit(file: Self.source)
        #expect(doomed.child.wait(timeout: 120) == 137, "the failpoint killed it in the audio task: \(doomed.output.suffix(2000))")
        #expect(doomed.output.contains("task=audio/5/3/6"), "\(doomed.output.suffix(2000))")
        // Nothing runs now. Chunk 0's preview (segments 0 to 2, at the source's level) is
        // stored and will be replaced: no cache may keep it. The task's segment 3 and the
        // video are final.
        let prefix = Cluster.prefix(id)
        for file in ["audio/init.mp4", "audio/segment_00000.m4s", "audio/segment_00002.m4s"] {
            #expect(try await Self.cacheControl(of: "\(prefix)/\(file)", in: cluster) == "no-cache", "\(file) while transcoding")
        }
        for file in ["audio/segment_00003.m4s", "720p/segment_00000.m4s"] {
            #expect(try await Self.cacheControl(of: "\(prefix)/\(file)", in: cluster)?.hasSuffix("immutable") == true, "\(file)")
        }
        let audioKey = "\(prefix)/audio/live.m3u8"
        let watcher = Task { () -> [[String]] in
            var seen: [[String]] = []
            while !Task.isCancelled {
                if let data = try? await cluster.storage.data(key: audioKey) {
                    let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").filter { $0.hasSuffix(".m4s") }.map(String.init)
                    if lines != seen.last { seen.append(lines) }
                }
                try? await Task.sleep(for: .milliseconds(50))
            }
            return seen
        }

        let heir = try cluster.startWorker("heir", ["--visibility-timeout", "3"], environment: Self.environment)
        let video = try await cluster.waitForFinal(id, timeout: .seconds(240))
        watcher.cancel()
        let versions = await watcher.value
        #expect(video.status == .ready, "\(cluster.logs.suffix(3000))")
        #expect(heir.output.contains("takenOver=true"), "the heir took the audio task over")
        #expect(cluster.logLines(id, "audio encoded").count == 1 && heir.output.contains("audio encoded"))
        for (earlier, later) in zip(versions, versions.dropFirst()) {
            #expect(Array(later.prefix(earlier.count)) == earlier, "the audio playlist shrank:\n\(earlier)\n---\n\(later)")
        }
        #expect(versions.last?.count == 15)
        let (plays, errors) = try cluster.playsCleanly(id)
        #expect(plays, "\(errors)")
        // The normalised replacements are final.
        for file in ["audio/init.mp4", "audio/segment_00000.m4s", "audio/segment_00002.m4s"] {
            #expect(try await Self.cacheControl(of: "\(prefix)/\(file)", in: cluster)?.hasSuffix("immutable") == true, "\(file) once READY")
        }
        for segment in [0, 2, 3, 14] {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("audio-task-\(UUID().uuidString).mp4")
            defer { try? FileManager.default.removeItem(at: file) }
            try ((try await cluster.storage.data(key: "\(prefix)/audio/init.mp4") ?? Data())
                + (try await cluster.storage.data(key: "\(prefix)/audio/segment_\(String(format: "%05d", segment)).m4s") ?? Data())).write(to: file)
            let level = try Self.loudnessHeard(file.path, stream: "0:a:0")
            #expect(abs(level - -16) <= 1, "audio segment \(segment) plays at \(level) LUFS")
        }
        try await cluster.waitForOriginalDeleted(id)
        #expect(try await cluster.settledPendingCount() == 0)
    }

    /// Damaged media inside one chunk fails the video at once, with the reason a whole
    /// run gives (not a split problem to retry or to transcode whole); the chunks' state
    /// is cleared and the original kept for inspection, as for any bad media.
    @Test func aChunkOfDamagedMediaFailsTheVideoForItsMedia() async throws {
        let damaged = FileManager.default.temporaryDirectory.appendingPathComponent("vstream-chunked-damaged-\(UUID()).mp4")
        defer { try? FileManager.default.removeItem(at: damaged) }
        var bytes = try Data(contentsOf: Self.source)
        let start = bytes.count / 2 // the frames of chunk 2 (12 to 18 s)
        for offset in start..<min(start + 600_000, bytes.count) { bytes[offset] = UInt8(truncatingIfNeeded: offset &* 7) }
        try bytes.write(to: damaged)

        let cluster = try await Cluster()
        defer { cluster.stop() }
        try ["w1", "w2"].forEach { _ = try cluster.startWorker($0, environment: Self.environment) }
        let id = try await cluster.submit(file: damaged)
        let video = try await cluster.waitForFinal(id, timeout: .seconds(240))
        #expect(video.status == .failed, "\(cluster.logs.suffix(3000))")
        #expect(video.error?.contains("the file is truncated") == true, "\(video.error ?? "")")
        #expect(cluster.logLines(id, "transcoding whole").isEmpty, "a damaged chunk is not a reason to try whole")
        #expect(await cluster.sourceExists(id), "the original is kept for inspection")
        #expect(try await cluster.settledPendingCount() == 0)
    }

    /// An upload long enough for the audio task's spans (60 s each), with one AAC packet
    /// zeroed in its second span: the decoder refuses it, though the sample table promised
    /// it, so only the span that decodes it can know. The task goes back to one encoder and
    /// the video is READY with all its sound. Before, that span stopped the whole task, which
    /// failed as "cancelled", and the video failed after three attempts.
    @Test func aDamagedAudioPacketPastTheFirstSpanStillGivesAReadyVideo() async throws {
        let damaged = FileManager.default.temporaryDirectory.appendingPathComponent("vstream-chunked-aac-damaged-\(UUID()).mp4")
        defer { try? FileManager.default.removeItem(at: damaged) }
        let made = try runFFmpeg(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=15:duration=130",
                                  "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=130",
                                  "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-pix_fmt", "yuv420p", "-c:a", "aac",
                                  "-movflags", "+faststart", damaged.path])
        #expect(made.status == 0, "\(made.stderr)")
        try Self.zeroAudioPacket(after: 90, in: damaged)

        let cluster = try await Cluster()
        defer { cluster.stop() }
        try ["w1", "w2"].forEach { _ = try cluster.startWorker($0, environment: ["VSTREAM_CHUNK_SECONDS": "30"]) }
        let id = try await cluster.submit(file: damaged)
        let video = try await cluster.waitForFinal(id, timeout: .seconds(240))
        #expect(video.status == .ready, "\(video.error ?? "") \(cluster.logs.suffix(3000))")
        #expect(cluster.logLines(id, "audio encoded").count == 1, "one run of the audio task: \(cluster.logs.suffix(3000))")
        let prefix = Cluster.prefix(id)
        let audio = String(decoding: try await cluster.storage.data(key: "\(prefix)/audio/index.m3u8") ?? Data(), as: UTF8.self)
        let seconds = audio.split(separator: "\n").compactMap { $0.firstMatch(of: /#EXTINF:([\d.]+),/).flatMap { Double($0.1) } }.reduce(0, +)
        #expect(abs(seconds - 130) < 2.1, "the sound lasts \(seconds) s: \(audio)")
        let (plays, errors) = try cluster.playsCleanly(id)
        #expect(plays, "\(errors)")
    }

    /// Zeroes the first AAC packet of `file` that starts past `seconds`, in place.
    static func zeroAudioPacket(after seconds: Double, in file: URL) throws {
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/ffprobe")
        probe.arguments = ["-v", "error", "-select_streams", "a", "-show_entries", "packet=pts_time,pos,size", "-of", "compact=p=0", file.path]
        let pipe = Pipe()
        probe.standardOutput = pipe
        try probe.run()
        let listing = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        probe.waitUntilExit()
        // `pts_time=90.005333|size=371|pos=2214861|`, a packet a line.
        func field(_ name: String, of line: Substring) -> Substring? {
            line.split(separator: "|").first { $0.hasPrefix(name + "=") }?.dropFirst(name.count + 1)
        }
        let packet = try #require(listing.split(separator: "\n").first { line in
            field("pts_time", of: line).flatMap { Double($0) }.map { $0 > seconds } ?? false
        })
        let position = try #require(field("pos", of: packet).flatMap { UInt64($0) })
        let size = try #require(field("size", of: packet).flatMap { Int($0) })
        let handle = try FileHandle(forWritingTo: file)
        defer { try? handle.close() }
        try handle.seek(toOffset: position)
        try handle.write(contentsOf: Data(count: size))
    }

    /// The `Cache-Control` the bucket serves `key` with (a CDN in front of it follows it).
    static func cacheControl(of key: String, in cluster: Cluster) async throws -> String? {
        try await cluster.storage.request("HEAD", path: "/vstream/\(key)").headers["cache-control"]
    }

    /// The consumer holding one of the video's chunk entries (`task` chunk/K with K ≥ 1).
    static func holderOfAChunk(_ id: UUID, in cluster: Cluster, timeout: Duration = .seconds(120)) async throws -> String {
        let connection = try RedisConnection(url: cluster.redis.url)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            for entry in try connection.command("XPENDING", RedisJobQueue.stream, RedisJobQueue.group, "-", "+", "100").array {
                guard let entryID = entry.array.first?.string, let consumer = entry.array.dropFirst().first?.string else { continue }
                let fields = RedisJobQueue.fields(try connection.command("XRANGE", RedisJobQueue.stream, entryID, entryID).array.first ?? .null)
                if fields["video"] == id.uuidString.lowercased(), fields["task"]?.hasPrefix("chunk/") == true { return consumer }
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ClusterFailure(message: "no chunk of \(id) was ever taken; logs:\n\(cluster.logs.suffix(3000))")
    }

    /// Video frames the ffmpeg CLI decodes from `url`'s first video stream.
    /// The frequency of the track ffmpeg picks by `language`, from its zero crossings.
    static func toneHeard(_ url: String, language: String) throws -> Double? {
        let pcm = FileManager.default.temporaryDirectory.appendingPathComponent("heard-\(UUID().uuidString).raw").path
        defer { try? FileManager.default.removeItem(atPath: pcm) }
        let run = try runFFmpeg(["-nostdin", "-v", "error", "-y", "-i", url, "-map", "0:a:m:language:\(language)",
                                 "-ac", "1", "-ar", "48000", "-f", "s16le", pcm])
        guard run.status == 0, let data = FileManager.default.contents(atPath: pcm), data.count > 96_000 else { return nil }
        let samples = data.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
        let crossings = zip(samples, samples.dropFirst()).filter { ($0 < 0) != ($1 < 0) }.count
        return Double(crossings) / 2 / (Double(samples.count) / 48_000)
    }

    /// The integrated loudness (LUFS) of the track ffmpeg picks by `stream` (a `-map`
    /// specifier), by its own `ebur128` filter.
    static func loudnessHeard(_ url: String, stream: String) throws -> Double {
        let run = try runFFmpeg(["-nostdin", "-nostats", "-i", url, "-map", stream, "-af", "ebur128", "-f", "null", "-"])
        let summary = run.stderr.components(separatedBy: "Summary:").last ?? ""
        let line = summary.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("I:") }
        return line.flatMap { $0.split(separator: " ").dropFirst().first.flatMap { Double($0) } } ?? .nan
    }

    static func decodedFrames(_ url: String) throws -> Int {
        let frames = FileManager.default.temporaryDirectory.appendingPathComponent("chunked-\(UUID().uuidString).md5")
        defer { try? FileManager.default.removeItem(at: frames) }
        let decoded = try runFFmpeg(["-nostdin", "-v", "error", "-i", url, "-map", "0:v:0", "-f", "framemd5", frames.path])
        guard decoded.status == 0 else { throw ClusterFailure(message: decoded.stderr) }
        return ((try? String(contentsOf: frames, encoding: .utf8)) ?? "").split(separator: "\n").filter { !$0.hasPrefix("#") }.count
    }
}
}
