import ChildProcess
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import StreamServer

/// Redis, S3 and PostgreSQL go away mid-flight and come back; deletions and SIGTERM
/// stop jobs on purpose. Real processes throughout.
extension SeaweedFSTests {
@Suite("Outages, cancellation and shutdown", .serialized, .timeLimit(.minutes(4)))
struct OutageTests {
    /// Redis is restarted (same AOF) in the middle of a job: the job completes, and a
    /// client following the video's events on an API node sees the end.
    @Test func aRedisRestartMidJobLosesNothing() async throws {
        let cluster = try await Cluster()
        defer { cluster.stop() }
        let api = try await cluster.startAPI()
        try cluster.startWorker("w1")
        let id = try await cluster.submit("h264_1080p30_stereo.mp4")
        let events = Task.detached {
            try HTTPTransfer.perform(method: "GET", url: api.url("/api/videos/\(id.uuidString.lowercased())/events"),
                                     headers: [:], timeout: 120)
        }
        try await cluster.waitForProgress(id) { $0["stage"] == "transcoding" }
        try await cluster.redis.restart(downtime: .seconds(2))

        let video = try await cluster.waitForFinal(id)
        #expect(video.status == .ready, "\(cluster.logs.suffix(2000))")
        let stream = String(decoding: try await events.value.body, as: UTF8.self)
        let kinds = stream.split(separator: "\n").filter { $0.hasPrefix("event: ") }.map { String($0.dropFirst(7)) }
        #expect(kinds.first == "state" && kinds.last == "ready", "\(kinds)")
        #expect(try await cluster.settledPendingCount() == 0, "the job's entry survived the restart and was acknowledged")
        #expect(await !cluster.sourceExists(id))
    }

    /// S3 is down for 10 s while the outputs are being stored: the storage calls retry
    /// with backoff and the job completes.
    @Test func aStorageOutageDuringTheUploadOfOutputsIsRiddenOut() async throws {
        let cluster = try await Cluster()
        defer { cluster.stop() }
        try cluster.startWorker("w1")
        let id = try await cluster.submit("h264_1080p30_stereo.mp4")
        // Halt S3 while the engine still runs, so the outage covers the start of the upload.
        try await cluster.waitForProgress(id) { $0["stage"] == "transcoding" && (Double($0["percent"] ?? "") ?? 0) > 30 }
        cluster.seaweed.halt()
        try await cluster.waitForProgress(id) { $0["stage"] == "uploading" }
        try await Task.sleep(for: .seconds(10))
        #expect(try await cluster.store.video(id)?.status == .processing)
        try await cluster.seaweed.restart()

        let video = try await cluster.waitForFinal(id)
        #expect(video.status == .ready, "\(cluster.logs.suffix(2000))")
        let (plays, errors) = try cluster.playsCleanly(id)
        #expect(plays, "\(errors)")
        #expect(await !cluster.sourceExists(id))
    }

    /// PostgreSQL restarts between two jobs: both end READY; nothing is lost.
    @Test func aPostgresRestartBetweenJobsLosesNothing() async throws {
        let cluster = try await Cluster()
        defer { cluster.stop() }
        try cluster.startWorker("w1")
        let first = try await cluster.submit("tiny_256x144.mp4")
        #expect(try await cluster.waitForFinal(first).status == .ready)
        try cluster.postgres.restart()
        let second = try await cluster.submit("tiny_256x144.mp4")
        #expect(try await cluster.waitForFinal(second).status == .ready, "\(cluster.logs.suffix(2000))")
        #expect(try await cluster.store.video(first)?.status == .ready)
        #expect(try await cluster.settledPendingCount() == 0)
    }

    /// The API node died between writing the row (PROCESSING) and queueing the job: a
    /// worker's reconciliation finds the row without a job and queues it once.
    @Test func aProcessingVideoWhoseJobWasNeverQueuedIsQueuedAgain() async throws {
        let cluster = try await Cluster()
        defer { cluster.stop() }
        let id = try await cluster.submit("tiny_256x144.mp4", enqueue: false)
        let reconcile = ["VSTREAM_RECONCILE_SECONDS": "2"]
        for name in ["w1", "w2"] { try cluster.startWorker(name, environment: reconcile) }
        #expect(try await cluster.waitForFinal(id, timeout: .seconds(60)).status == .ready, "\(cluster.logs.suffix(2000))")
        #expect(cluster.logLines(id, "had no job; queued again").count == 1, "two workers reconciling queue it once")
        #expect(cluster.logLines(id, "job started").count == 1)
        #expect(try await cluster.settledPendingCount() == 0)
        let connection = try RedisConnection(url: cluster.redis.url)
        #expect(try connection.command("SCARD", RedisJobQueue.tracked) == .integer(0), "a finished job is no longer tracked")
    }

    /// DELETE during processing: the worker's engine stops within a second, nothing is
    /// left under the video's prefix, and the job's entry is ended.
    @Test func deletingAVideoMidTranscodeStopsItsJob() async throws {
        let cluster = try await Cluster()
        defer { cluster.stop() }
        let api = try await cluster.startAPI()
        try cluster.startWorker("w1")
        let id = try await cluster.submit("h264_1080p30_stereo.mp4")
        try await cluster.waitForProgress(id) { $0["stage"] == "transcoding" && (Double($0["percent"] ?? "") ?? 0) > 5 }

        let sent = ContinuousClock.now
        let response = try HTTPTransfer.perform(method: "DELETE", url: api.url("/api/videos/\(id.uuidString.lowercased())"),
                                                headers: ["authorization": "Bearer \(Cluster.operatorKey)"])
        #expect(response.status == 204)
        // The job ends when its entry is acknowledged, after the engine stopped and the
        // attempt removed what it stored.
        #expect(try await cluster.settledPendingCount() == 0)
        let stopped = ContinuousClock.now - sent
        #expect(stopped < .seconds(1), "the job stopped \(stopped) after DELETE")
        #expect(cluster.logLines(id, "attempt stopped").count == 1)
        #expect(cluster.logLines(id, "status=READY").isEmpty)
        #expect(try await cluster.objects(under: Cluster.prefix(id)).isEmpty)
        #expect(await !cluster.sourceExists(id))
        #expect(try await cluster.store.video(id) == nil)
        #expect(cluster.logLines(id, "state change", "status=deleted", "was=PROCESSING").count == 1, "the API node logged it")
    }

    /// SIGTERM with a short grace period: the worker hands its job back and exits, and
    /// another worker finishes it. Its /metrics counted what happened.
    @Test func sigtermHandsTheRunningJobToAnotherWorker() async throws {
        let cluster = try await Cluster()
        defer { cluster.stop() }
        let metricsPort = Int.random(in: 20_000...25_999)
        let leaving = try cluster.startWorker("leaving", ["--grace-period", "0", "--metrics-port", String(metricsPort)])
        let id = try await cluster.submit("h264_1080p30_stereo.mp4")
        try await cluster.waitForProgress(id) { $0["stage"] == "transcoding" }
        let metrics = try HTTPTransfer.perform(method: "GET", url: "http://127.0.0.1:\(metricsPort)/metrics", headers: [:])
        #expect(String(decoding: metrics.body, as: UTF8.self).contains("vstream_jobs_started_total 1"))

        leaving.child.signal(SIGTERM)
        #expect(leaving.child.wait(timeout: 10) == 0, "a clean exit: \(leaving.output.suffix(1000))")
        #expect(leaving.output.contains("job handed back"))
        try cluster.startWorker("staying")
        let video = try await cluster.waitForFinal(id)
        #expect(video.status == .ready, "\(cluster.logs.suffix(2000))")
        #expect(cluster.logLines(id, "state change", "status=READY").count == 1)
        #expect(try await cluster.settledPendingCount() == 0)
    }
}
}
