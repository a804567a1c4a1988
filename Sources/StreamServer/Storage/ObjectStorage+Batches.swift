import Foundation

/// How many requests a batch keeps in flight. A ladder is thousands of objects (a 2-hour
/// film has 3,600 segments a rung), and each request to a remote bucket costs a round trip,
/// so a stitch that reads back a rung moves them several at a time, not one after another.
enum BatchWidth {
    /// Segments of up to megabytes: each transfer keeps a good share of the link.
    static let transfers = 8
    /// Objects of a few hundred bytes (a caption track's segments), or none through this host
    /// (a copy inside the bucket): a round trip each, as many as the connections
    /// `CurlHandles` keeps.
    static let roundTrips = 16
}

extension ObjectStorage {
    /// Downloads each key to its file (its folder made).
    func fetch(_ files: [(key: String, file: URL)]) async throws {
        try await forEach(files, atOnce: BatchWidth.transfers) { key, file in
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try await self.fetch(key: key, to: file)
        }
    }

    /// Uploads each file to its key, typed by its name, `atOnce` at a time.
    func put(_ files: [(file: URL, key: String)], atOnce width: Int = BatchWidth.transfers) async throws {
        try await forEach(files, atOnce: width) { file, key in
            try await self.put(file: file, key: key, type: HLSContentType.forPath((key as NSString).lastPathComponent))
        }
    }

    /// Deletes each key, several at once (S3Storage sends DeleteObjects instead).
    public func delete(keys: [String]) async throws {
        try await forEach(keys, atOnce: BatchWidth.roundTrips) { try await self.delete(key: $0) }
    }
}

/// Runs `work` on every item, at most `width` at once; the first failure stops the rest
/// and is thrown.
func forEach<Item: Sendable>(_ items: [Item], atOnce width: Int,
                             _ work: @escaping @Sendable (Item) async throws -> Void) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        var running = 0
        for item in items {
            if running >= max(1, width) {
                try await group.next()
                running -= 1
            }
            group.addTask { try await work(item) }
            running += 1
        }
        try await group.waitForAll()
    }
}
