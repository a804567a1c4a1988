import Foundation

/// Transcode jobs on a Redis Stream (`vstream:jobs`) read by the consumer group
/// `vstream-workers`: each job goes to one worker, and is acknowledged when done.
/// (Claims of dead workers, retries and the dead-letter stream come with scale-out.)
public actor RedisJobQueue {
    public static let stream = "vstream:jobs"
    public static let group = "vstream-workers"
    private let connection: RedisConnection

    public init(url: String) throws {
        connection = try RedisConnection(url: url)
        do {
            try connection.command("XGROUP", "CREATE", Self.stream, Self.group, "0", "MKSTREAM")
        } catch let error as RedisError where error.message.hasPrefix("BUSYGROUP") {
            // The group exists: another node made it.
        }
    }

    public func enqueue(_ video: UUID) async throws {
        let connection = self.connection
        try await connection.perform { try $0.command("XADD", Self.stream, "*", "video", video.uuidString.lowercased()) }
    }
}

/// A worker's consumer loop: read one job, process it, acknowledge it.
final class RedisJobConsumer: @unchecked Sendable {
    private let url: String
    private let consumer: String
    private let worker: TranscodeWorker

    init(url: String, worker: TranscodeWorker) {
        self.url = url
        self.worker = worker
        consumer = "\(ProcessInfo.processInfo.hostName)-\(getpid())-\(UUID().uuidString.prefix(6))"
    }

    func start() {
        Task.detached { [self] in await run() }
    }

    private func run() async {
        var backoff = 0.1
        while !Task.isCancelled {
            do {
                let connection = try RedisConnection(url: url)
                backoff = 0.1
                while !Task.isCancelled {
                    let consumer = self.consumer
                    let reply = try await connection.perform { connection in
                        try connection.command("XREADGROUP", "GROUP", RedisJobQueue.group, consumer, "COUNT", "1",
                                               "BLOCK", "2000", "STREAMS", RedisJobQueue.stream, ">")
                    }
                    for stream in reply.array {
                        for entry in stream.array.dropFirst().first?.array ?? [] {
                            let fields = entry.array
                            guard let entryID = fields.first?.string else { continue }
                            let values = fields.dropFirst().first?.array.compactMap(\.string) ?? []
                            if let index = values.firstIndex(of: "video"), index + 1 < values.count,
                               let video = UUID(uuidString: values[index + 1]) {
                                await worker.process(video)
                            }
                            _ = try await connection.perform { try $0.command("XACK", RedisJobQueue.stream, RedisJobQueue.group, entryID) }
                        }
                    }
                }
            } catch {
                try? await Task.sleep(for: .seconds(backoff))
                backoff = min(backoff * 2, 5)
            }
        }
    }
}
