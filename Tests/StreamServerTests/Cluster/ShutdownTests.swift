import ChildProcess
import Foundation
import Testing
@testable import StreamServer

/// `serve` under SIGTERM, as a deploy or an autoscaler sends it, with Redis, PostgreSQL
/// and SeaweedFS and a second worker running.
@Suite("Graceful shutdown", .serialized)
struct ShutdownTests {
    /// SIGTERM mid-transcode: `serve` stops taking work, kills its transcoder child and
    /// hands the job back at once, then exits 0 within its grace. Before, its worker was
    /// a loose task nobody told: the job waited out the visibility timeout, and the
    /// SIGTERM used up one of the video's attempts.
    @Test func sigtermToServeMidTranscodeHandsTheJobToTheOtherWorkerWithinSeconds() async throws {
        let cluster = try await Cluster()
        defer { cluster.stop() }
        // A visibility timeout far longer than the test: only a hand-back can move the job.
        let serve = try await cluster.startAPI("serve", worker: true, environment: ["VSTREAM_SHUTDOWN_GRACE_SECONDS": "10"])
        let id = try await cluster.submit("h264_1080p30_stereo.mp4")
        try await cluster.waitForProgress(id) { $0["stage"] == "transcoding" && (Double($0["percent"] ?? "") ?? 0) > 2 }
        #expect(try await cluster.holder(of: id)?.contains("-\(serve.pid)-") == true, "serve's own worker took the job")
        let attemptsBefore = try #require(try cluster.attempts(id))
        #expect(attemptsBefore == 1)
        let other = try cluster.startWorker("other", ["--visibility-timeout", "600"])
        try await Self.waitFor("the other worker to start", timeout: .seconds(30)) { other.output.contains("worker started") }
        let transcoders = ProcessTable.children(of: serve.pid).filter { ProcessTable.commandLine($0).contains("--supervised") }
        #expect(transcoders.count == 1, "one supervised transcoder runs under serve")

        let signalled = ContinuousClock.now
        serve.child.signal(SIGTERM)
        let status = serve.child.wait(timeout: 15)
        let exited = ContinuousClock.now - signalled
        #expect(status == 0, "a clean exit: \(serve.output.suffix(1500))")
        #expect(exited < .seconds(10), "within VSTREAM_SHUTDOWN_GRACE_SECONDS: took \(exited)")
        for pid in transcoders { #expect(!ProcessTable.isRunning(pid), "the transcoder child \(pid) outlived serve") }
        #expect(serve.output.contains("job handed back"))

        try await Self.waitFor("the other worker to claim the job", timeout: .seconds(5), after: signalled) {
            (try? await cluster.holder(of: id))?.contains("-\(other.pid)-") == true
        }
        let video = try await cluster.waitForFinal(id)
        #expect(video.status == .ready, "\(cluster.logs.suffix(2000))")
        #expect(try cluster.attempts(id) == attemptsBefore, "a hand-back at shutdown is not an attempt")
        #expect(cluster.logLines(id, "state change", "status=READY").count == 1)
        let (plays, errors) = try cluster.playsCleanly(id)
        #expect(plays, "\(errors)")
    }

    /// Polls `condition` every 50 ms until `timeout` after `start`; fails the test if it
    /// never holds.
    static func waitFor(_ what: String, timeout: Duration, after start: ContinuousClock.Instant = .now,
                        _ condition: () async throws -> Bool) async throws {
        while ContinuousClock.now - start < timeout {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ClusterFailure(message: "timed out after \(timeout) waiting for \(what)")
    }
}
