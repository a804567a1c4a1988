import Foundation
import Testing
@testable import StreamServer

/// Two real `vstream serve` processes on one Redis: node A runs the worker, node B only
/// the API (`--no-worker`). An upload to A is transcoded by A, and a client following
/// the video's events on B sees every step: progress travels through Redis pub/sub.
@Suite("Redis progress and jobs", .serialized, .timeLimit(.minutes(2)))
struct RedisTests {
    /// A `vstream serve` node on the shared Redis, with or without its worker.
    struct Node {
        let serve: ServeProcess

        init(redis: String, data: String, worker: Bool) async throws {
            serve = try await ServeProcess(["--data-dir", data] + (worker ? [] : ["--no-worker"]),
                                           environment: ["REDIS_URL": redis, "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin"],
                                           log: URL(fileURLWithPath: data + "-\(worker ? "a" : "b").log"))
        }

        func url(_ path: String) -> String { serve.url(path) }

        func json(_ method: String, _ path: String, _ body: String? = nil, token: String? = nil) throws -> [String: Any] {
            var headers = ["content-type": "application/json"]
            if let token { headers["authorization"] = "Bearer \(token)" }
            let response = try HTTPTransfer.perform(method: method, url: url(path), headers: headers,
                                                    body: body.map { .data(Data($0.utf8)) } ?? .none)
            return (try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any] ?? [:]
        }

        func stop() { serve.child.stop() }
    }

    @Test func anyNodeServesAnyVideosProgressAndEveryJobIsAcknowledged() async throws {
        let redis = try RedisServer()
        defer { redis.stop() }
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("vstream-redis-\(UUID().uuidString.prefix(8))").path
        let nodeA = try await Node(redis: redis.url, data: data, worker: true)
        defer { nodeA.stop() }
        let nodeB = try await Node(redis: redis.url, data: data, worker: false)
        defer { nodeB.stop() }

        let file = try Data(contentsOf: fixture("h264_1080p30_stereo.mp4"))
        let created = try nodeA.json("POST", "/api/uploads",
                                     #"{"filename":"a.mp4","size":\#(file.count),"contentType":"video/mp4","lastModified":1}"#)
        let id = try #require(created["videoId"] as? String)
        let owner = try #require(created["ownerToken"] as? String)
        let signed = try nodeA.json("POST", "/api/uploads/\(id)/sign", #"{"partNumbers":[1]}"#, token: owner)
        let partURL = try #require((signed["urls"] as? [String: String])?["1"])
        let put = try HTTPTransfer.perform(method: "PUT", url: nodeA.url(partURL), headers: [:], body: .data(file))
        let etag = try #require(put.headers["etag"])
        _ = try nodeA.json("POST", "/api/uploads/\(id)/complete", #"{"parts":[{"partNumber":1,"etag":\#(etag)}]}"#, token: owner)

        // Node B has no worker: whatever it streams came from node A through Redis.
        let stream = try HTTPTransfer.perform(method: "GET", url: nodeB.url("/api/videos/\(id)/events"), headers: [:], timeout: 90)
        let kinds = String(decoding: stream.body, as: UTF8.self).split(separator: "\n")
            .filter { $0.hasPrefix("event: ") }.map { String($0.dropFirst(7)) }
        #expect(kinds.filter { $0 == "progress" }.count >= 2, "\(kinds)")
        #expect(kinds.last == "ready")
        #expect(try nodeB.json("GET", "/api/videos/\(id)")["status"] as? String == "READY")

        let connection = try RedisConnection(url: redis.url)
        let videoID = try #require(UUID(uuidString: id))
        #expect(try connection.command("HGET", RedisProgressPublisher.hashKey(videoID), "percent").string == "100.0")
        #expect(try connection.command("XLEN", RedisJobQueue.stream) == .integer(1))
        // The READY event goes out before the worker acknowledges the entry: wait for it.
        var pending = RedisReply.null
        for _ in 0..<100 {
            pending = try connection.command("XPENDING", RedisJobQueue.stream, RedisJobQueue.group).array.first ?? .null
            if pending == .integer(0) { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(pending == .integer(0), "every job was acknowledged")
    }
}
