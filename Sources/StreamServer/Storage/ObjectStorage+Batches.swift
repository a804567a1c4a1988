import Foundation

/// Many objects at once. A ladder is thousands of small objects (a 2-hour film has 3,600
/// segments a rung), and each request to a remote bucket costs a round trip, so a stitch
/// that reads back a rung moves them `transfersAtOnce` at a time, not one after another.
extension ObjectStorage {
    static var transfersAtOnce: Int { 8 }

    /// Downloads each key to its file (its folder made).
    func fetch(_ files: [(key: String, file: URL)]) async throws {
        try await forEach(files, atOnce: Self.transfersAtOnce) { key, file in
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try await self.fetch(key: key, to: file)
        }
    }

    /// Uploads each file to its key, typed by its name.
    func put(_ files: [(file: URL, key: String)]) async throws {
        try await forEach(files, atOnce: Self.transfersAtOnce) { file, key in
            try await self.put(file: file, key: key, type: HLSContentType.forPath((key as NSString).lastPathComponent))
        }
    }

    /// Deletes each key, several at once (S3Storage sends DeleteObjects instead).
    public func delete(keys: [String]) async throws {
        try await forEach(keys, atOnce: Self.transfersAtOnce) { try await self.delete(key: $0) }
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
