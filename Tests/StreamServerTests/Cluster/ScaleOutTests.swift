import ChildProcess
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import StreamServer

/// Scale-out and fault tolerance, on real processes: workers are killed, Redis,
/// PostgreSQL and S3 go away and come back, and every video still ends where it should,
/// once.
extension SeaweedFSTests {
@Suite("Scale-out and faults", .serialized, .timeLimit(.minutes(4)))
struct ScaleOutTests {
    /// Two workers; the one transcoding is killed with SIGKILL. The other takes the job
    /// over after the visibility timeout and finishes it.
    @Test func aWorkerKilledMidTranscodeIsTakenOverByAnother() async throws {
        let cluster = try await Cluster()
        defer { cluster.stop() }
        let workers = try ["w1", "w2"].map { try cluster.startWorker($0, ["--visibility-timeout", "4"]) }
        let id = try await cluster.submit("h264_1080p30_stereo.mp4")

        try await cluster.waitForProgress(id) { $0["stage"] == "transcoding" && (Double($0["percent"] ?? "") ?? 0) > 5 }
        _ = try await Self.killTheHolderAndAwaitTheHeir(of: id, among: workers, in: cluster)
        #expect(cluster.logLines(id, "state change", "status=READY").count == 1, "READY exactly once")
        try await cluster.waitForOriginalDeleted(id)
        let deletions = cluster.logLines(id, "original deleted")
        #expect(deletions.count == 1, "the original deleted exactly once")
        #expect(await !cluster.sourceExists(id))
        let (plays, errors) = try cluster.playsCleanly(id)
        #expect(plays, "\(errors)")
        #expect(try await cluster.settledPendingCount() == 0)
    }

    /// `kill -9` of the worker holding the job; the other takes it over and ends it READY.
    static func killTheHolderAndAwaitTheHeir(of id: UUID, among workers: [Cluster.Node], in cluster: Cluster) async throws -> VideoRecord {
        let holder = try #require(try await cluster.holder(of: id))
        let victim = try #require(workers.first { holder.contains("-\($0.pid)-") })
        kill(victim.pid, SIGKILL)
        #expect(victim.child.wait(timeout: 5) == 137)
        let video = try await cluster.waitForFinal(id)
        #expect(video.status == .ready, "\(cluster.logs.suffix(2000))")
        let survivor = try #require(workers.first { $0.pid != victim.pid })
        #expect(survivor.output.contains("takenOver=true"), "the survivor took the abandoned job over")
        return video
    }

    /// A worker is killed while it publishes a progressive ladder. The heir continues the
    /// same EVENT playlists (same settings, same cut points, so the same timing): what a
    /// viewer already had stays a prefix of what follows, and a viewer on `live.m3u8`
    /// decodes every frame.
    @Test func aWorkerKilledMidPublicationLeavesTheViewersPlaylistConsistent() async throws {
        let cluster = try await Cluster()
        defer { cluster.stop() }
        let workers = try ["w1", "w2"].map { try cluster.startWorker($0, ["--visibility-timeout", "4"]) }
        let id = try await cluster.submit("upload_30mb.mp4")
        let playlistKey = "\(Cluster.prefix(id))/720p/live.m3u8"
        var seen = ""
        let deadline = ContinuousClock.now + .seconds(90)
        while ContinuousClock.now < deadline {
            let text = String(decoding: (try? await cluster.storage.data(key: playlistKey)) ?? Data(), as: UTF8.self)
            if text.components(separatedBy: ".m4s").count - 1 >= 2 { seen = text; break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(!seen.isEmpty && !seen.contains("#EXT-X-ENDLIST"), "caught mid-publication: \(seen)")
        _ = try await Self.killTheHolderAndAwaitTheHeir(of: id, among: workers, in: cluster)
        let final = String(decoding: try await cluster.storage.data(key: playlistKey) ?? Data(), as: UTF8.self)
        #expect(final.hasSuffix("#EXT-X-ENDLIST\n"))
        // The EVENT playlist only grew: everything the viewer had is still there, unchanged.
        let before = seen.split(separator: "\n").filter { $0.hasPrefix("#EXTINF") || $0.hasSuffix(".m4s") }
        let after = final.split(separator: "\n").filter { $0.hasPrefix("#EXTINF") || $0.hasSuffix(".m4s") }
        #expect(Array(after.prefix(before.count)) == before, "\(seen)\n---\n\(final)")
        #expect(after.count > before.count)
        // A viewer on the progressive master decodes every frame, then the VOD ladder plays.
        let live = "\(cluster.seaweed.endpoint.absoluteString)/vstream/\(Cluster.prefix(id))/live.m3u8"
        let frames = FileManager.default.temporaryDirectory.appendingPathComponent("live-\(UUID().uuidString).md5")
        defer { try? FileManager.default.removeItem(at: frames) }
        let decoded = try runFFmpeg(["-nostdin", "-v", "error", "-live_start_index", "0", "-i", live,
                                     "-map", "0:v:0", "-f", "framemd5", frames.path])
        #expect(decoded.status == 0 && decoded.stderr.isEmpty, "\(decoded.stderr)")
        let lines = (try? String(contentsOf: frames, encoding: .utf8)) ?? ""
        #expect(lines.split(separator: "\n").filter { !$0.hasPrefix("#") }.count == 300, "every frame of the source")
        let (plays, errors) = try cluster.playsCleanly(id)
        #expect(plays, "\(errors)")
    }

    /// The worker dies after storing every output but before READY. The redelivery
    /// commits READY from what is stored: no second transcode, the same objects.
    @Test func aWorkerKilledBeforeReadyIsCompletedWithoutTranscodingAgain() async throws {
        let cluster = try await Cluster()
        defer { cluster.stop() }
        let doomed = try cluster.startWorker("doomed", ["--visibility-timeout", "3"],
                                             environment: ["VSTREAM_FAILPOINT": "after-outputs-stored"])
        let id = try await cluster.submit("h264_1080p30_stereo.mp4")
        #expect(doomed.child.wait(timeout: 120) == 137, "the failpoint killed it")
        #expect(try await cluster.store.video(id)?.status == .processing)
        let masterBefore = try await cluster.storage.request("HEAD", path: "/vstream/\(Cluster.prefix(id))/master.m3u8")

        try cluster.startWorker("heir", ["--visibility-timeout", "3"])
        let video = try await cluster.waitForFinal(id)
        #expect(video.status == .ready)
        #expect(video.width == 1920 && video.height == 1080 && (video.durationSeconds ?? 0) > 4.9)
        #expect(cluster.logLines(id, "transcoded").count == 1, "transcoded once, by the worker that died")
        #expect(cluster.logLines(id, "outputs already stored").count == 1)
        let masterAfter = try await cluster.storage.request("HEAD", path: "/vstream/\(Cluster.prefix(id))/master.m3u8")
        #expect(masterAfter.headers["etag"] == masterBefore.headers["etag"], "the outputs users see were not rewritten")
        try await cluster.waitForOriginalDeleted(id)
        #expect(cluster.logLines(id, "original deleted").count == 1)
        #expect(await !cluster.sourceExists(id))
        let (plays, errors) = try cluster.playsCleanly(id)
        #expect(plays, "\(errors)")
    }

    /// A file that is not media fails once, with no retry, goes to the dead-letter
    /// stream with its reason, and the worker carries on with the next job.
    @Test func badMediaFailsAtOnceAndTheWorkerCarriesOn() async throws {
        let cluster = try await Cluster()
        defer { cluster.stop() }
        try cluster.startWorker("w1")
        let bad = try await cluster.submit("random.bin")
        let good = try await cluster.submit("tiny_256x144.mp4")

        let failed = try await cluster.waitForFinal(bad)
        #expect(failed.status == .failed)
        #expect(failed.error?.contains("not a media file") == true, "\(failed.error ?? "")")
        #expect(cluster.logLines(bad, "job started").count == 1, "one attempt only")
        #expect(await cluster.sourceExists(bad), "the original is kept for inspection")
        let dead = try await cluster.waitForDeadJobs(naming: bad)
        #expect(dead.map(\.video) == [bad])
        #expect(dead.first?.attempts == 1)

        #expect(try await cluster.waitForFinal(good).status == .ready)
        #expect(try await cluster.settledPendingCount() == 0)
    }

    /// 20 short jobs across 2 workers: all READY, none twice, none lost, nothing pending.
    @Test func twentyJobsAcrossTwoWorkersAllFinishOnce() async throws {
        let cluster = try await Cluster()
        defer { cluster.stop() }
        let workers = try ["w1", "w2"].map { try cluster.startWorker($0) }
        var ids: [UUID] = []
        for _ in 0..<20 { ids.append(try await cluster.submit("tiny_256x144.mp4")) }
        for id in ids {
            #expect(try await cluster.waitForFinal(id, timeout: .seconds(180)).status == .ready)
        }
        for id in ids {
            #expect(cluster.logLines(id, "job started").count == 1, "\(id) started once")
            #expect(cluster.logLines(id, "state change", "status=READY").count == 1)
        }
        let shares = workers.map { worker in ids.filter { id in worker.output.contains("video=\(id.uuidString.lowercased())") }.count }
        #expect(shares.allSatisfy { $0 > 0 }, "both workers took jobs: \(shares)")
        #expect(try await cluster.settledPendingCount() == 0)
        let stats = try await cluster.queue.stats()
        #expect(stats.waiting == 0 && stats.delayed == 0 && stats.dead == 0)
    }
}
}

extension SeaweedFSTests.ScaleOutTests {
    /// A job that runs several times longer than the visibility timeout, with an idle
    /// second worker waiting: the heartbeats keep the claim, so it is never taken twice.
    @Test func aLongJobThatIsAliveIsNeverTakenTwice() async throws {
        let cluster = try await Cluster()
        defer { cluster.stop() }
        for name in ["w1", "w2"] { try cluster.startWorker(name, ["--visibility-timeout", "1"]) }
        let id = try await cluster.submit("h264_1080p30_stereo.mp4")
        let video = try await cluster.waitForFinal(id)
        #expect(video.status == .ready)
        #expect(cluster.logLines(id, "job started").count == 1, "\(cluster.logLines(id, "job started"))")
        #expect(cluster.logLines(id, "claim lost").isEmpty)
        #expect(try await cluster.settledPendingCount() == 0)
    }

    /// A fault that outlasts every retry: attempts with backoff, then FAILED with the last
    /// error and a dead-letter entry. Once the cause is fixed, `vstream jobs requeue`
    /// puts it back and it ends READY.
    @Test func retriesEndInTheDeadLetterStreamAndRequeueRecovers() async throws {
        let cluster = try await Cluster()
        defer { cluster.stop() }
        let id = try await cluster.submit("tiny_256x144.mp4")
        // Hide the source before a worker starts: every attempt fails the same way.
        let source = cluster.root.appendingPathComponent("source.mp4")
        try await cluster.storage.fetch(key: Cluster.sourceKey(id), to: source)
        try await cluster.storage.delete(key: Cluster.sourceKey(id))
        try cluster.startWorker("w1")

        let failed = try await cluster.waitForFinal(id)
        #expect(failed.status == .failed)
        #expect(failed.error?.contains("after 3 attempts") == true, "\(failed.error ?? "")")
        #expect(cluster.logLines(id, "job started").count == 3)
        #expect(cluster.logLines(id, "job will be retried").count == 2)

        let list = try cluster.vstream(["jobs"])
        #expect(list.contains("dead 1") && list.contains(id.uuidString.lowercased()), "\(list)")
        try await cluster.storage.put(file: source, key: Cluster.sourceKey(id), contentType: "video/mp4", cacheControl: "no-cache")
        let requeued = try cluster.vstream(["jobs", "requeue", id.uuidString.lowercased()])
        #expect(requeued.contains("1 job(s) requeued"), "\(requeued)")
        #expect(try await cluster.waitForFinal(id).status == .ready)
        #expect(try await cluster.queue.stats().dead == 0)
    }
}
