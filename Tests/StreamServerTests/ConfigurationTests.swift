import ChildProcess
import Foundation
import HLSEngine
import Testing
@testable import StreamServer

/// The configuration is read once and validated: a malformed value stops `serve` at
/// start with one line naming the variable, where it used to be ignored.
@Suite("Configuration", .serialized)
struct ConfigurationTests {
    /// `vstream serve` with `environment`: its exit status and what it printed.
    static func serve(_ arguments: [String] = [], environment extra: [String: String]) throws -> (status: Int32, output: String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vstream-config-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = directory.appendingPathComponent("serve.log").path
        var environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
                           "VSTREAM_DATA_DIR": directory.appendingPathComponent("data").path, "PORT": "0"]
        environment.merge(extra) { $1 }
        // A serve that wrongly starts is stopped by the timeout (137), which fails the test.
        let status = try ChildProcess.run([ServeProcess.binary, "serve"] + arguments, environment: environment,
                                          stdout: log, stderr: log, timeout: 20)
        return (status, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
    }

    @Test(arguments: [("PORT", "abc"), ("VSTREAM_MAX_UPLOAD_BYTES", "-1"), ("PORT", "70000"),
                      ("VSTREAM_DEPENDENCY_TIMEOUT_SECONDS", "soon"), ("VSTREAM_SHUTDOWN_GRACE_SECONDS", "-5"),
                      ("VSTREAM_DASH", "maybe"), ("REDIS_URL", "localhost:6379"), ("VSTREAM_UPLOADS_PER_HOUR", "1e3"),
                      ("VSTREAM_CHUNK_SECONDS", "1"), ("VSTREAM_CHUNK_SECONDS", "7200")])
    func aMalformedValueStopsServeWithOneLineNamingTheVariable(_ name: String, _ value: String) throws {
        let (status, output) = try Self.serve(environment: [name: value])
        #expect(status != 0 && status < 128, "exited on its own, non-zero")
        let lines = output.split(separator: "\n")
        #expect(lines.count == 1, "one line: \(output)")
        #expect(lines.first?.contains(name) == true)
        #expect(lines.first?.contains(value) == true, "it says what it was given")
    }

    @Test func serveNoWorkerWithoutRedisRefusesToStart() throws {
        let (status, output) = try Self.serve(["--no-worker"], environment: [:])
        #expect(status != 0 && status < 128)
        #expect(output.split(separator: "\n").count == 1)
        #expect(output.contains("--no-worker") && output.contains("REDIS_URL"))
    }

    @Test func everyVariableIsReadAndAnUnsetOneKeepsItsDefault() throws {
        let defaults = try ServerConfiguration.fromEnvironment([:])
        #expect(defaults.port == 8080 && defaults.shutdownGraceSeconds == 10 && defaults.dependencyTimeoutSeconds == 5)
        #expect(defaults.webDirectory == nil, "the page is found beside the executable, never in the working directory")
        let set = try ServerConfiguration.fromEnvironment([
            "PORT": "9000", "VSTREAM_MAX_UPLOAD_BYTES": "1048576", "VSTREAM_SHUTDOWN_GRACE_SECONDS": "3",
            "VSTREAM_DEPENDENCY_TIMEOUT_SECONDS": "0.5", "VSTREAM_CORS_ORIGINS": "https://a.example, https://b.example",
            "S3_CORS_ORIGINS": "https://b.example", "REDIS_URL": "redis://127.0.0.1:6400", "VSTREAM_DASH": "off", "HOST": "",
        ])
        #expect(set.port == 9000 && set.maxUploadBytes == 1 << 20 && set.shutdownGraceSeconds == 3)
        #expect(set.dependencyTimeoutSeconds == 0.5 && set.redisURL == "redis://127.0.0.1:6400" && !set.dash)
        #expect(set.host == "127.0.0.1", "an empty value keeps the default")
        #expect(set.corsOrigins == ["https://a.example", "https://b.example"], "one list of origins, the older name merged in")
        #expect(set.access.corsOrigins == ["https://a.example", "https://b.example"])
        #expect(throws: ConfigurationError.self) { try ServerConfiguration.fromEnvironment(["R2_S3_API": "http://127.0.0.1:1"]) }
    }

    /// `VSTREAM_CHUNK_SECONDS`: 0 keeps every video whole; otherwise chunks of 2 s to an hour.
    @Test func chunkSecondsIsZeroOrABoundedLength() throws {
        #expect(try ServerConfiguration.fromEnvironment(["VSTREAM_CHUNK_SECONDS": "0"]).worker.chunkSeconds == 0)
        #expect(try ServerConfiguration.fromEnvironment(["VSTREAM_CHUNK_SECONDS": "6"]).worker.chunkSeconds == 6)
        #expect(try ServerConfiguration.fromEnvironment(["VSTREAM_CHUNK_SECONDS": "12.5"]).worker.chunkSeconds == 12.5)
        for bad in ["0.5", "-6", "3601", "six", "nan"] {
            #expect(throws: ConfigurationError.self, "\(bad)") { try ServerConfiguration.fromEnvironment(["VSTREAM_CHUNK_SECONDS": bad]) }
        }
        // Unset: whole on a host whose one run keeps its cores busy, chunked above that.
        let automatic = try ServerConfiguration.fromEnvironment([:]).worker.chunkSeconds
        #expect(automatic == (ChunkedTranscode.automatic()?.seconds ?? 0))
    }

    /// Started from another folder, `serve` still finds its page: beside the executable
    /// (here, the repository's `web/` above `.build/debug`), not in the working directory.
    @Test func thePageIsFoundBesideTheExecutableWhereverServeStarts() throws {
        let page = try #require(ServerConfiguration.pageDirectory(executable: ServeProcess.binary))
        #expect(FileManager.default.fileExists(atPath: page + "/index.html"))
        #expect(URL(fileURLWithPath: page).standardizedFileURL == repositoryRoot.appendingPathComponent("web").standardizedFileURL)
        #expect(ServerConfiguration.pageDirectory(executable: "/nonexistent/bin/vstream") == nil)
    }
}
