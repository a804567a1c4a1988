import Foundation

/// How `vstream serve` runs. Every field has an environment variable and a flag.
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// `VSTREAM_DATA_DIR`: objects, SQLite database and scratch space of the embedded default.
    public var dataDirectory = "./data"
    /// The browser page's folder (`web/`).
    public var webDirectory = "web"
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
    /// `S3_CORS_ORIGINS` (comma-separated): origins whose pages may upload to the bucket;
    /// set on the bucket at start-up. Empty leaves the bucket's CORS as it is.
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

    /// Reads `HOST`, `PORT`, `VSTREAM_DATA_DIR`, `VSTREAM_MAX_UPLOAD_BYTES`, `VSTREAM_WEB_DIR`.
    /// - Throws: `ConfigurationError` for access settings that cannot be used.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ServerConfiguration {
        var configuration = ServerConfiguration()
        configuration.access = try AccessConfiguration.fromEnvironment(environment)
        if let host = environment["HOST"], !host.isEmpty { configuration.host = host }
        if let port = environment["PORT"].flatMap(Int.init) { configuration.port = port }
        if let directory = environment["VSTREAM_DATA_DIR"], !directory.isEmpty { configuration.dataDirectory = directory }
        if let web = environment["VSTREAM_WEB_DIR"], !web.isEmpty { configuration.webDirectory = web }
        if let limit = environment["VSTREAM_MAX_UPLOAD_BYTES"].flatMap(Int64.init) { configuration.maxUploadBytes = limit }
        if let endpoint = environment["R2_S3_API"].flatMap(URL.init(string:)), let bucket = environment["R2_BUCKET_NAME"],
           let key = environment["R2_ACCESS_KEY_ID"], let secret = environment["R2_SECRET_ACCESS_KEY"] {
            configuration.s3 = .init(endpoint: endpoint, bucket: bucket, accessKeyID: key, secretAccessKey: secret,
                                     region: environment["S3_REGION"] ?? "auto")
        }
        configuration.publicBaseURL = environment["PUBLIC_BASE_URL"]
        configuration.corsOrigins = (environment["S3_CORS_ORIGINS"] ?? "").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if let database = environment["DATABASE_URL"], !database.isEmpty { configuration.databaseURL = database }
        if let redis = environment["REDIS_URL"], !redis.isEmpty { configuration.redisURL = redis }
        if let attempts = environment["VSTREAM_MAX_ATTEMPTS"].flatMap(Int.init) { configuration.worker.policy.maxAttempts = max(1, attempts) }
        if let seconds = environment["VSTREAM_RECONCILE_SECONDS"].flatMap(Int.init), seconds > 0 {
            configuration.worker.reconcileInterval = .seconds(seconds)
        }
        if let mebibytes = environment["VSTREAM_TRANSCODE_MEMORY_MIB"].flatMap(Int.init), mebibytes > 0 {
            configuration.transcodeMemoryMiB = mebibytes
        }
        if let seconds = environment["VSTREAM_JOB_TIMEOUT_SECONDS"].flatMap(Double.init), seconds > 0, seconds.isFinite {
            configuration.jobTimeoutSeconds = seconds
        }
        if let seconds = environment["VSTREAM_MAX_DURATION_SECONDS"].flatMap(Double.init), seconds > 0, seconds.isFinite {
            configuration.maxDurationSeconds = seconds
        }
        configuration.allowedHosts = (environment["VSTREAM_ALLOWED_HOSTS"] ?? "").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if let seconds = environment["VSTREAM_IDLE_TIMEOUT_SECONDS"].flatMap(Int64.init), seconds > 0 {
            configuration.idleTimeoutSeconds = seconds
        }
        if let hours = environment["VSTREAM_UPLOAD_TTL_HOURS"].flatMap(Double.init), hours > 0, hours.isFinite {
            configuration.uploadTTLHours = hours
        }
        if let mebibytes = environment["VSTREAM_MIN_FREE_MIB"].flatMap(Int.init), mebibytes >= 0 {
            configuration.minFreeMiB = mebibytes
        }
        if let dash = environment["VSTREAM_DASH"].flatMap(AccessConfiguration.bool) {
            configuration.dash = dash
        }
        if let progressive = environment["VSTREAM_PROGRESSIVE"].flatMap(AccessConfiguration.bool) {
            configuration.progressive = progressive
        }
        if let rendition = environment["VSTREAM_MP4_RENDITION"], !rendition.isEmpty {
            guard let rung = Self.rung(rendition) else {
                throw ConfigurationError("VSTREAM_MP4_RENDITION must be a rung such as 720p or 1080p, or none")
            }
            configuration.downloadRung = rung
        }
        if let streams = environment["VSTREAM_MAX_EVENT_STREAMS"].flatMap(Int.init), streams > 0 {
            configuration.maxEventStreams = streams
        }
        if let seconds = environment["VSTREAM_RETRY_BASE_SECONDS"].flatMap(Double.init) {
            configuration.worker.policy.backoff.base = .milliseconds(Int64(seconds * 1000))
        }
        return configuration
    }
}
