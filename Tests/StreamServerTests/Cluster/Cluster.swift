import ChildProcess
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import StreamServer

/// A whole production topology on 127.0.0.1, from real parts: Redis (AOF on),
/// PostgreSQL 15, SeaweedFS for S3, and `vstream worker` / `vstream serve` processes
/// built from this package. Tests break parts of it and check that no video is lost.
final class Cluster: @unchecked Sendable {
    static let binary = ServeProcess.binary

    let redis: RedisServer
    let postgres: PostgreSQL
    let seaweed: SeaweedFS
    let storage: S3Storage
    let store: PostgresStore
    let queue: RedisJobQueue
    let root: URL
    private var processes: [Node] = []

    /// A `vstream` process of the cluster, its stderr in `log`.
    final class Node: @unchecked Sendable {
        let name: String
        let child: ChildProcess
        let log: URL
        let port: Int?

        init(name: String, child: ChildProcess, log: URL, port: Int?) {
            self.name = name
            self.child = child
            self.log = log
            self.port = port
        }

        var pid: pid_t { child.pid }
        var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
        func url(_ path: String) -> String { "http://127.0.0.1:\(port ?? 0)\(path)" }
    }

    init() async throws {
        root = URL(fileURLWithPath: "/tmp/vstream-cluster-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        // Whatever started is stopped again if a later part fails to start.
        redis = try RedisServer(persistent: true)
        do {
            postgres = try PostgreSQL()
        } catch {
            redis.stop()
            throw error
        }
        do {
            seaweed = try SeaweedFS()
        } catch {
            postgres.stop()
            redis.stop()
            throw error
        }
        queue = RedisJobQueue(url: redis.url)
        do {
            storage = try await seaweed.ready()
            store = try PostgresStore(url: postgres.url)
            try await queue.prepare()
        } catch {
            seaweed.stop()
            postgres.stop()
            redis.stop()
            throw error
        }
    }

    /// What every node gets: the same environment as production, pointing here.
    /// The operators' API key every node of the cluster knows.
    static let operatorKey = "cluster-operator-key-0123456789"

    func environment(_ extra: [String: String] = [:], dataDirectory: String) -> [String: String] {
        var environment = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
            "REDIS_URL": redis.url, "DATABASE_URL": postgres.url,
            "R2_S3_API": seaweed.endpoint.absoluteString, "R2_BUCKET_NAME": "vstream", "S3_REGION": "us-east-1",
            "R2_ACCESS_KEY_ID": SeaweedFS.accessKey, "R2_SECRET_ACCESS_KEY": SeaweedFS.secretKey,
            "PUBLIC_BASE_URL": "\(seaweed.endpoint.absoluteString)/vstream",
            "VSTREAM_DATA_DIR": dataDirectory, "VSTREAM_RETRY_BASE_SECONDS": "0.2", "VSTREAM_LOG_LEVEL": "info",
            "VSTREAM_API_KEYS": "ops:\(Self.operatorKey)",
        ]
        environment.merge(extra) { $1 }
        return environment
    }

    /// Starts `vstream worker` (arguments such as `--visibility-timeout 5`).
    @discardableResult
    func startWorker(_ name: String, _ arguments: [String] = [], environment extra: [String: String] = [:]) throws -> Node {
        let directory = root.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let log = root.appendingPathComponent("\(name).log")
        let child = try ChildProcess.spawn([Self.binary, "worker"] + arguments,
                                           environment: environment(extra, dataDirectory: directory.path),
                                           stdout: log.path, stderr: log.path, appending: true)
        let node = Node(name: name, child: child, log: log, port: nil)
        processes.append(node)
        return node
    }

    /// Starts an API node (`vstream serve --no-worker`, or with `worker` a `serve` that
    /// also takes jobs) and waits for /healthz.
    func startAPI(_ name: String = "api", worker: Bool = false, environment extra: [String: String] = [:]) async throws -> Node {
        let serve = try await ServeProcess(worker ? [] : ["--no-worker"],
                                           environment: environment(extra, dataDirectory: root.appendingPathComponent(name).path),
                                           log: root.appendingPathComponent("\(name).log"))
        let node = Node(name: name, child: serve.child, log: serve.log, port: serve.port)
        processes.append(node)
        return node
    }

    /// What an upload's completion does: the source in the bucket, the row PROCESSING,
    /// a job on the stream (unless `enqueue` is false: an API node that died before XADD).
    func submit(_ fixtureName: String, enqueue: Bool = true) async throws -> UUID {
        try await submit(file: fixture(fixtureName), enqueue: enqueue)
    }

    func submit(file: URL, enqueue: Bool = true) async throws -> UUID {
        let id = UUID()
        let fixtureName = file.lastPathComponent
        let size = (try FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int64) ?? 0
        let now = Date()
        let record = VideoRecord(id: id, title: fixtureName, originalFilename: fixtureName, size: size, contentType: "video/mp4",
                                 lastModified: 1, status: .processing, uploadID: nil, sourceKey: Self.sourceKey(id),
                                 hlsPrefix: Self.prefix(id), partCount: 1, createdAt: now, updatedAt: now)
        try await storage.put(file: file, key: record.sourceKey, contentType: "video/mp4", cacheControl: "no-cache")
        try await store.insert(record)
        if enqueue { try await queue.enqueue(id) }
        return id
    }

    static func sourceKey(_ id: UUID) -> String { "uploads/\(id.uuidString.lowercased())/source" }
    static func prefix(_ id: UUID) -> String { "hls/\(id.uuidString.lowercased())" }

    /// Runs a `vstream` command (such as `jobs`) against the cluster; returns its output.
    func vstream(_ arguments: [String]) throws -> String {
        let output = root.appendingPathComponent("command-\(UUID().uuidString.prefix(6)).out")
        let status = try ChildProcess.run([Self.binary] + arguments,
                                          environment: environment(dataDirectory: root.appendingPathComponent("cli").path),
                                          stdout: output.path, stderr: output.path, timeout: 60)
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        guard status == 0 else { throw ClusterFailure(message: "vstream \(arguments.joined(separator: " ")) exited \(status): \(text)") }
        return text
    }

    /// Polls the row until READY or FAILED.
    func waitForFinal(_ id: UUID, timeout: Duration = .seconds(120)) async throws -> VideoRecord {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let video = try? await store.video(id), video.status == .ready || video.status == .failed { return video }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ClusterFailure(message: "video \(id) did not finish in \(timeout); logs:\n\(logs.suffix(3000))")
    }

    /// READY comes first, then the original's deletion and its log line: waits for both
    /// (a test that reads the log at READY races the worker that is deleting).
    func waitForOriginalDeleted(_ id: UUID, timeout: Duration = .seconds(15)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if await !sourceExists(id), !logLines(id, "original deleted").isEmpty { return }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// FAILED is persisted first, then the job goes to the dead-letter stream: waits for the
    /// stream's entries once one names `id` (a test that reads it at FAILED races the worker).
    func waitForDeadJobs(naming id: UUID, timeout: Duration = .seconds(15)) async throws -> [RedisJobQueue.DeadJob] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let dead = try await queue.deadJobs()
            if dead.contains(where: { $0.video == id }) { return dead }
            try await Task.sleep(for: .milliseconds(100))
        }
        return try await queue.deadJobs()
    }

    /// Polls the progress hash until `condition` holds for it.
    func waitForProgress(_ id: UUID, timeout: Duration = .seconds(60), _ condition: ([String: String]) -> Bool) async throws {
        let connection = try RedisConnection(url: redis.url)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let reply = (try? connection.command("HGETALL", RedisProgressPublisher.hashKey(id)))?.array.compactMap(\.string) ?? []
            var fields: [String: String] = [:]
            for index in stride(from: 0, to: reply.count - 1, by: 2) { fields[reply[index]] = reply[index + 1] }
            if condition(fields) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw ClusterFailure(message: "progress of \(id) never matched; logs:\n\(logs.suffix(3000))")
    }

    /// The consumer holding the video's job, from the group's pending list.
    func holder(of id: UUID) async throws -> String? {
        let connection = try RedisConnection(url: redis.url)
        for entry in try connection.command("XPENDING", RedisJobQueue.stream, RedisJobQueue.group, "-", "+", "100").array {
            guard let entryID = entry.array.first?.string, let consumer = entry.array.dropFirst().first?.string else { continue }
            let fields = RedisJobQueue.fields(try connection.command("XRANGE", RedisJobQueue.stream, entryID, entryID).array.first ?? .null)
            if fields["video"] == id.uuidString.lowercased() { return consumer }
        }
        return nil
    }

    /// Entries delivered and not acknowledged.
    func pendingCount() throws -> Int {
        let connection = try RedisConnection(url: redis.url)
        return try connection.command("XPENDING", RedisJobQueue.stream, RedisJobQueue.group).array.first?.count ?? 0
    }

    /// Waits (up to 10 s) for the pending list to empty: a worker acknowledges an entry
    /// just after it commits the video's final state. Returns what is still pending.
    func settledPendingCount() async throws -> Int {
        var count = try pendingCount()
        for _ in 0..<100 where count != 0 {
            try await Task.sleep(for: .milliseconds(100))
            count = try pendingCount()
        }
        return count
    }

    /// Every node's log, for assertions on state changes and for failure messages.
    var logs: String { processes.map { "== \($0.name)\n\($0.output)" }.joined(separator: "\n") }

    /// Log lines of `video` that contain every one of `words`, across all nodes.
    func logLines(_ id: UUID, _ words: String...) -> [String] {
        processes.flatMap { $0.output.split(separator: "\n") }.map(String.init)
            .filter { $0.contains("video=\(id.uuidString.lowercased())") && words.allSatisfy($0.contains) }
    }

    /// The object keys under a video's HLS prefix.
    func objects(under prefix: String) async throws -> [String] {
        let response = try await storage.request("GET", path: "/vstream", query: ["list-type": "2", "prefix": prefix + "/"])
        return S3XML.parse(response.body)?.all("Contents").compactMap { $0.value("Key") } ?? []
    }

    /// The attempts counted in the video's row.
    func attempts(_ id: UUID) throws -> Int? {
        try PGConnection(url: postgres.url).query("SELECT attempts FROM videos WHERE id = $1", [id.uuidString])
            .first?.first.flatMap { $0 }.flatMap(Int.init)
    }

    func sourceExists(_ id: UUID) async -> Bool {
        (try? await storage.data(key: Self.sourceKey(id))) != nil
    }

    /// A real player (the ffmpeg CLI) decodes the whole ladder from the bucket.
    func playsCleanly(_ id: UUID) throws -> (Bool, String) {
        let master = "\(seaweed.endpoint.absoluteString)/vstream/\(Self.prefix(id))/master.m3u8"
        let result = try runFFmpeg(["-nostdin", "-v", "error", "-i", master, "-map", "0", "-f", "null", "-"])
        return (result.status == 0 && result.stderr.isEmpty, result.stderr)
    }

    func stop() {
        for node in processes { node.child.stop(grace: 5) }
        seaweed.stop()
        postgres.stop()
        redis.stop()
        try? FileManager.default.removeItem(at: root)
    }
}

struct ClusterFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
