import HLSEngine
import Foundation

/// How `vstream serve` runs. Every field has an environment variable and a flag.
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// `VSTREAM_DATA_DIR`: objects, SQLite database and scratch space of the embedded default.
    public var dataDirectory = "./data"
    /// The browser page's folder (`VSTREAM_WEB_DIR`); nil serves no page (the API alone).
    public var webDirectory: String?
    /// `VSTREAM_MAX_UPLOAD_BYTES`: 5 GiB by default.
    public var maxUploadBytes: Int64 = 5 << 30
    /// How long a signed part URL stays valid.
    public var partURLLifetime: TimeInterval = 3600
    /// Run the transcode worker in this process (`--no-worker` turns it off).
    public var embeddedWorker = true
    /// S3-compatible storage (R2); nil keeps the embedded local directory.
    public var s3: S3Storage.Configuration?
    /// `PUBLIC_BASE_URL`: where players fetch HLS objects in S3 mode (e.g. an R2 public bucket URL).
    public var publicBaseURL: String?
    /// `VSTREAM_CORS_ORIGINS` (and its older name `S3_CORS_ORIGINS`): origins whose pages
    /// may upload to the bucket; set on the bucket at start-up. Empty leaves the bucket's
    /// CORS as it is.
    public var corsOrigins: [String] = []
    /// `DATABASE_URL`: PostgreSQL for the metadata; nil keeps SQLite in the data directory.
    public var databaseURL: String?
    /// `REDIS_URL`: progress and jobs on Redis; nil keeps them in-process.
    public var redisURL: String?

    /// The job worker's settings (`vstream worker` flags, and `VSTREAM_MAX_ATTEMPTS`).
    public var worker = RedisWorker.Settings()

    /// The vstream executable that runs each transcode as a supervised child process.
    /// `serve` and `worker` set it to themselves; nil runs the engine in this process
    /// (an app or a test that embeds the service).
    public var transcoderExecutable: String?
    /// `VSTREAM_TRANSCODE_MEMORY_MIB`: the child's address-space limit (setrlimit).
    public var transcodeMemoryMiB = 3072
    /// `VSTREAM_JOB_TIMEOUT_SECONDS`: the child's wall-clock limit; nil derives it from
    /// the source's duration (120 s + 4 × the duration).
    public var jobTimeoutSeconds: Double?
    /// `VSTREAM_MAX_DURATION_SECONDS`: longer sources are refused (4 h).
    public var maxDurationSeconds: Double = 14_400

    /// Where each job's engine runs.
    /// "720p" → 720, "none" → nil; nil for anything else.
    static func rung(_ text: String) -> Int?? {
        let lowered = text.trimmingCharacters(in: .whitespaces).lowercased()
        if lowered == "none" { return .some(nil) }
        guard let value = Int(lowered.hasSuffix("p") ? String(lowered.dropLast()) : lowered), (1...8192).contains(value) else { return nil }
        return .some(value)
    }

    public var engineHost: TranscodeJob.EngineHost {
        guard let transcoderExecutable else { return .inProcess(maxDurationSeconds: maxDurationSeconds) }
        var limits = SupervisedTranscoder.Limits(executable: transcoderExecutable)
        limits.memoryMiB = transcodeMemoryMiB
        limits.timeoutSeconds = jobTimeoutSeconds
        limits.maxDurationSeconds = maxDurationSeconds
        return .childProcess(SupervisedTranscoder(limits: limits))
    }

    /// `VSTREAM_ALLOWED_HOSTS` (comma-separated): host names the server answers besides
    /// the defaults (see `HostAllowlist`).
    public var allowedHosts: [String] = []
    /// `VSTREAM_MAX_EVENT_STREAMS`: concurrent SSE streams per server (503 past it).
    public var maxEventStreams = 10_000
    /// `VSTREAM_IDLE_TIMEOUT_SECONDS`: a connection that sends nothing for this long
    /// while its request is read is closed (slow-loris); a streamed response (SSE) is not.
    public var idleTimeoutSeconds: Int64 = 30
    /// `VSTREAM_UPLOAD_TTL_HOURS`: an upload still UPLOADING this long after it began is
    /// aborted and its row removed.
    public var uploadTTLHours: Double = 24
    /// `VSTREAM_MIN_FREE_MIB`: in the embedded default, new uploads get 507 while the
    /// data directory has less free space than this.
    public var minFreeMiB = 1024
    /// `VSTREAM_PROGRESSIVE` (on): videos play from `live.m3u8` while they transcode.
    public var progressive = true
    /// `VSTREAM_DASH` (on): a CMAF ladder with its audio as a rendition of its own, and
    /// `manifest.mpd` beside `master.m3u8` for DASH players.
    public var dash = true
    /// `VSTREAM_MP4_RENDITION` (`720p`, `1080p`, … or `none`): the rung of `download.mp4`.
    public var downloadRung: Int? = 720
    /// Identities, rules and limits of the API (the `VSTREAM_API_KEYS`… variables).
    public var access = AccessConfiguration()

    public init() {}

    /// `VSTREAM_SHUTDOWN_GRACE_SECONDS` (10): after SIGTERM or SIGINT, how long requests in
    /// flight get before the process exits; a running transcode is handed back at once.
    public var shutdownGraceSeconds: Double = 10
    /// `VSTREAM_DEPENDENCY_TIMEOUT_SECONDS` (5): how long a call to PostgreSQL, Redis or
    /// S3 may take before the request gets 503 with Retry-After instead of waiting.
    public var dependencyTimeoutSeconds: Double = 5

    /// Every variable of the README's configuration table. A malformed value throws a
    /// `ConfigurationError` naming the variable; an unset or empty one keeps the default.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ServerConfiguration {
        let env = EnvironmentReader(environment)
        var configuration = ServerConfiguration()
        configuration.access = try AccessConfiguration.fromEnvironment(environment)
        if let host = env.string("HOST") { configuration.host = host }
        if let port = try env.integer("PORT", in: 0...65535) { configuration.port = port }
        if let directory = env.string("VSTREAM_DATA_DIR") { configuration.dataDirectory = directory }
        configuration.webDirectory = env.string("VSTREAM_WEB_DIR")
        if let limit = try env.integer("VSTREAM_MAX_UPLOAD_BYTES", in: Int64(1)...(Int64(5) << 40)) { configuration.maxUploadBytes = limit }
        let s3Names = ["R2_S3_API", "R2_BUCKET_NAME", "R2_ACCESS_KEY_ID", "R2_SECRET_ACCESS_KEY"]
        let s3Set = s3Names.filter { env.string($0) != nil }
        if !s3Set.isEmpty {
            guard s3Set.count == s3Names.count else {
                let missing = s3Names.filter { env.string($0) == nil }
                throw ConfigurationError("\(missing.joined(separator: ", ")) must be set too: S3 storage needs all of \(s3Names.joined(separator: ", "))")
            }
            configuration.s3 = .init(endpoint: try env.url("R2_S3_API", schemes: ["http", "https"]) ?? URL(fileURLWithPath: "/"),
                                     bucket: env.string("R2_BUCKET_NAME") ?? "", accessKeyID: env.string("R2_ACCESS_KEY_ID") ?? "",
                                     secretAccessKey: env.string("R2_SECRET_ACCESS_KEY") ?? "", region: env.string("S3_REGION") ?? "auto")
        }
        configuration.publicBaseURL = try env.url("PUBLIC_BASE_URL", schemes: ["http", "https"])?.absoluteString
        // One list of origins: the pages that may call the API also upload parts to the
        // bucket. S3_CORS_ORIGINS is the older name of the bucket's half, still read.
        configuration.corsOrigins = Array(Set(env.list("VSTREAM_CORS_ORIGINS") + env.list("S3_CORS_ORIGINS"))).sorted()
        if let database = try env.url("DATABASE_URL", schemes: ["postgres", "postgresql"]) { configuration.databaseURL = database.absoluteString }
        if let redis = try env.url("REDIS_URL", schemes: ["redis"]) { configuration.redisURL = redis.absoluteString }
        if let attempts = try env.integer("VSTREAM_MAX_ATTEMPTS", in: 1...100) { configuration.worker.policy.maxAttempts = attempts }
        if let seconds = try env.integer("VSTREAM_RECONCILE_SECONDS", in: 1...86_400) {
            configuration.worker.reconcileInterval = .seconds(seconds)
        }
        configuration.worker.chunkSeconds = ChunkedTranscode.automatic()?.seconds ?? 0
        if let seconds = try env.number("VSTREAM_CHUNK_SECONDS", in: 0...3600) {
            guard seconds == 0 || seconds >= 2 else {
                throw ConfigurationError("VSTREAM_CHUNK_SECONDS must be 0 (each video whole) or from 2 to 3600 seconds, not \(EnvironmentReader.quoted(env.string("VSTREAM_CHUNK_SECONDS") ?? ""))")
            }
            configuration.worker.chunkSeconds = seconds
        }
        if let mebibytes = try env.integer("VSTREAM_TRANSCODE_MEMORY_MIB", in: 256...1_048_576) {
            configuration.transcodeMemoryMiB = mebibytes
        }
        configuration.jobTimeoutSeconds = try env.number("VSTREAM_JOB_TIMEOUT_SECONDS", in: 1...604_800)
        if let seconds = try env.number("VSTREAM_MAX_DURATION_SECONDS", in: 1...86_400) { configuration.maxDurationSeconds = seconds }
        configuration.allowedHosts = env.list("VSTREAM_ALLOWED_HOSTS")
        if let seconds = try env.integer("VSTREAM_IDLE_TIMEOUT_SECONDS", in: Int64(1)...86_400) { configuration.idleTimeoutSeconds = seconds }
        if let hours = try env.number("VSTREAM_UPLOAD_TTL_HOURS", in: 0.01...8_760) { configuration.uploadTTLHours = hours }
        if let mebibytes = try env.integer("VSTREAM_MIN_FREE_MIB", in: 0...1_048_576) { configuration.minFreeMiB = mebibytes }
        if let dash = try env.bool("VSTREAM_DASH") { configuration.dash = dash }
        if let progressive = try env.bool("VSTREAM_PROGRESSIVE") { configuration.progressive = progressive }
        if let rendition = env.string("VSTREAM_MP4_RENDITION") {
            guard let rung = Self.rung(rendition) else {
                throw ConfigurationError("VSTREAM_MP4_RENDITION must be a rung such as 720p or 1080p, or none, not \(EnvironmentReader.quoted(rendition))")
            }
            configuration.downloadRung = rung
        }
        if let streams = try env.integer("VSTREAM_MAX_EVENT_STREAMS", in: 1...1_000_000) { configuration.maxEventStreams = streams }
        if let seconds = try env.number("VSTREAM_RETRY_BASE_SECONDS", in: 0...3_600) {
            configuration.worker.policy.backoff.base = .milliseconds(Int64(seconds * 1000))
        }
        if let seconds = try env.number("VSTREAM_SHUTDOWN_GRACE_SECONDS", in: 0...3_600) { configuration.shutdownGraceSeconds = seconds }
        if let seconds = try env.number("VSTREAM_DEPENDENCY_TIMEOUT_SECONDS", in: 0.1...600) { configuration.dependencyTimeoutSeconds = seconds }
        return configuration
    }

    /// What a mode cannot run without, checked before anything starts.
    /// - Throws: `ConfigurationError` naming what is missing.
    public func validate() throws(ConfigurationError) {
        if !embeddedWorker && redisURL == nil {
            throw ConfigurationError("serve --no-worker needs REDIS_URL: without a shared queue no worker would ever see its uploads")
        }
    }

    /// The page's folder: `VSTREAM_WEB_DIR`, else a `web/` with an index.html beside the
    /// executable or in a folder above it (the repository's, for `.build/debug/vstream`),
    /// else `share/vstream/web` of an installed prefix. Never the working directory.
    public static func pageDirectory(executable: String?) -> String? {
        guard let executable else { return nil }
        let resolved = URL(fileURLWithPath: executable).resolvingSymlinksInPath()
        var folder = resolved.deletingLastPathComponent()
        var candidates = [folder.deletingLastPathComponent().appendingPathComponent("share/vstream/web")]
        for _ in 0..<5 {
            candidates.insert(folder.appendingPathComponent("web"), at: candidates.count - 1)
            folder = folder.deletingLastPathComponent()
        }
        return candidates.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("index.html").path) }?.path
    }
}
