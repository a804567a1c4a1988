import ChildProcess
import Foundation
import Testing
@testable import StreamServer

/// A dependency that hangs instead of failing: PostgreSQL, then Redis, stopped with
/// SIGSTOP (connections stay open, nothing answers). Before, libpq ran on Swift's
/// cooperative pool (two threads on a 2-core host): a few stuck requests froze every
/// route, `/healthz` included. Now each blocking client has a thread of its own and a
/// deadline: the API answers 503 with Retry-After, `/healthz` keeps answering, and
/// everything works again after SIGCONT without a restart.
@Suite("Stalled dependencies", .serialized)
struct DependencyStallTests {
    static let timeout = 2.0

    @Test func aStalledPostgresOrRedisGives503AndNeverFreezesHealthz() async throws {
        let cluster = try await Cluster()
        defer { cluster.stop() }
        let api = try await cluster.startAPI("api", environment: ["VSTREAM_DEPENDENCY_TIMEOUT_SECONDS": String(Self.timeout)])
        // A PROCESSING video no worker takes (there is none): its row is read by GET and
        // its deletion must reach Redis (the job's cancel flag).
        let id = try await cluster.submit("tiny_256x144.mp4")
        let video = api.url("/api/videos/\(id.uuidString.lowercased())")
        let operatorKey = ["authorization": "Bearer \(Cluster.operatorKey)"]
        #expect(try Self.get(video).status == 200)
        #expect(try Self.get(api.url("/readyz")).status == 200)

        // PostgreSQL hangs.
        let postgres = cluster.postgres.processes
        #expect(postgres.count > 1, "the postmaster and its backends")
        for pid in postgres { kill(pid, SIGSTOP) }
        let stuck = (0..<4).map { _ in Task.detached { try? Self.get(video) } }  // requests already waiting on it
        try Self.healthzAnswersQuickly(api)
        let (answer, took) = try Self.timed { try Self.get(video) }
        #expect(answer.status == 503, "\(String(decoding: answer.body, as: UTF8.self))")
        #expect(answer.headers["retry-after"] != nil)
        #expect(took < Self.timeout + 1.5, "503 within the dependency timeout: took \(took) s")
        let ready = try Self.get(api.url("/readyz"))
        #expect(ready.status == 503 && String(decoding: ready.body, as: UTF8.self).contains("metadata"))
        for pid in postgres { kill(pid, SIGCONT) }
        for request in stuck { _ = await request.value }
        try await Self.eventually("GET works again after SIGCONT") { try Self.get(video).status == 200 }

        // Redis hangs: the deletion of a PROCESSING video must reach it.
        kill(cluster.redis.pid, SIGSTOP)
        try Self.healthzAnswersQuickly(api)
        let (refused, waited) = try Self.timed { try HTTPTransfer.perform(method: "DELETE", url: video, headers: operatorKey, timeout: 30) }
        #expect(refused.status == 503, "\(String(decoding: refused.body, as: UTF8.self))")
        #expect(waited < Self.timeout + 1.5, "503 within the dependency timeout: took \(waited) s")
        let redisReady = try Self.get(api.url("/readyz"))
        #expect(redisReady.status == 503 && String(decoding: redisReady.body, as: UTF8.self).contains("redis"))
        kill(cluster.redis.pid, SIGCONT)
        #expect(try await cluster.store.video(id) != nil, "a refused DELETE changed nothing: it can be retried")
        try await Self.eventually("DELETE works again after SIGCONT") {
            try HTTPTransfer.perform(method: "DELETE", url: video, headers: operatorKey, timeout: 30).status == 204
        }
        #expect(try await cluster.store.video(id) == nil)
        #expect(await !cluster.sourceExists(id), "nothing left behind")
        #expect(try Self.get(api.url("/readyz")).status == 200)
    }

    static func get(_ url: String) throws -> HTTPTransfer.Response {
        try HTTPTransfer.perform(method: "GET", url: url, headers: [:], timeout: 30)
    }

    /// 50 `/healthz` in a row, each answered within 100 ms.
    static func healthzAnswersQuickly(_ api: Cluster.Node) throws {
        for round in 0..<50 {
            let (answer, took) = try timed { try get(api.url("/healthz")) }
            #expect(answer.status == 200)
            #expect(took < 0.1, "healthz \(round) took \(took) s")
        }
    }

    static func timed<T>(_ work: () throws -> T) rethrows -> (T, Double) {
        let start = ContinuousClock.now
        let value = try work()
        return (value, (ContinuousClock.now - start) / .seconds(1))
    }

    static func eventually(_ what: String, _ condition: () throws -> Bool) async throws {
        for _ in 0..<100 {
            if (try? condition()) == true { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ClusterFailure(message: "\(what): not within 10 s")
    }
}
