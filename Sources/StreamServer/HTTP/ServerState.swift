import Foundation

/// Everything the routes share: storage, metadata, progress, the worker, the signer.
public struct ServerState: Sendable {
    public let configuration: ServerConfiguration
    public let storage: LocalStorage
    public let store: SQLiteStore
    public let hub: ProgressHub
    public let worker: TranscodeWorker
    public let partSigner: LocalPartSigner

    public init(configuration: ServerConfiguration) async throws {
        self.configuration = configuration
        let root = URL(fileURLWithPath: configuration.dataDirectory).standardizedFileURL
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        storage = try LocalStorage(root: root)
        store = try SQLiteStore(path: root.appendingPathComponent("vstream.sqlite").path)
        hub = ProgressHub()
        worker = TranscodeWorker(storage: storage, store: store, hub: hub,
                                 scratch: root.appendingPathComponent("scratch"), publicHLSBase: "/hls")
        partSigner = LocalPartSigner(secret: try Self.loadSecret(root.appendingPathComponent("signing.key")))
        // Jobs interrupted by a restart are picked up again.
        if configuration.embeddedWorker {
            for video in try await store.videos(in: .processing) { await worker.enqueue(video.id) }
        }
    }

    /// The HMAC secret for part URLs: made once per data directory, kept private to it.
    static func loadSecret(_ file: URL) throws -> Data {
        if let existing = try? Data(contentsOf: file), existing.count >= 32 { return existing }
        var bytes = [UInt8](repeating: 0, count: 32)
        for index in bytes.indices { bytes[index] = UInt8.random(in: 0...255) }
        try Data(bytes).write(to: file, options: .atomic)
        chmod(file.path, 0o600)
        return Data(bytes)
    }
}
