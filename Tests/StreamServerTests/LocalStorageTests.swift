import Foundation
import Synchronization
import Testing
@testable import StreamServer

/// The embedded default's storage (a directory) leaves Swift's cooperative pool to the
/// requests: its copies run on threads of their own. Before, completing an upload copied
/// the parts into one object on a pool thread, and a 2-core host has two of them.
@Suite("Local storage")
struct LocalStorageTests {
    static let partBytes = 64 << 20

    /// One upload more than the pool has threads, all completed at once, and beside them
    /// a task that only records that it ran: it runs before any copy is done. Blocked by
    /// the copies, it ran after the first of them.
    @Test func completingUploadsLeavesTheCooperativePoolFree() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("local-storage-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let storage = try LocalStorage(root: root)
        var uploads: [(key: String, id: String, etag: String)] = []
        for index in 0...ProcessInfo.processInfo.activeProcessorCount {
            let key = "uploads/\(index)"
            let id = try await storage.createMultipartUpload(key: key)
            let megabyte = [UInt8](repeating: UInt8(index), count: 1 << 20)
            let chunks = AsyncThrowingStream<[UInt8], any Error> { stream in
                for _ in 0..<(Self.partBytes >> 20) { stream.yield(megabyte) }
                stream.finish()
            }
            let part = try await storage.writePart(uploadID: id, partNumber: 1, expectedBytes: Int64(Self.partBytes), chunks: chunks)
            uploads.append((key, id, part.etag))
        }
        let order = FinishOrder()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for upload in uploads {
                group.addTask {
                    try await storage.completeMultipartUpload(key: upload.key, uploadID: upload.id, parts: [(1, upload.etag)])
                    order.record(upload.key)
                }
            }
            group.addTask { order.record("the other task") }
            try await group.waitForAll()
        }
        let finished = order.names
        #expect(finished.first == "the other task", "in the order they finished: \(finished)")
        for upload in uploads {
            #expect(try await storage.size(key: upload.key) == Int64(Self.partBytes), "\(upload.key)")
        }
    }
}

/// The names of tasks, in the order they finished.
private final class FinishOrder: Sendable {
    private let finished = Mutex<[String]>([])
    func record(_ name: String) { finished.withLock { $0.append(name) } }
    var names: [String] { finished.withLock { $0 } }
}
