import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// What nobody else cleans up: uploads abandoned half-way, scratch folders of killed
/// attempts, and a disk too full to take another upload.
enum Housekeeping {
    /// Aborts the multipart upload and removes the row of every video still UPLOADING
    /// `ttl` after it was created (`VSTREAM_UPLOAD_TTL_HOURS`). Idempotent, so several
    /// API nodes may run it at once: aborting a dropped upload is done, not an error.
    static func sweepAbandonedUploads(_ state: ServerState, ttl: TimeInterval, now: Date = Date(),
                                      logger: Logger) async -> Int {
        guard let uploading = try? await state.store.videos(in: .uploading) else { return 0 }
        var removed = 0
        for video in uploading where now.timeIntervalSince(video.createdAt) > ttl {
            do {
                try await state.storage.abortMultipartUpload(key: video.sourceKey, uploadID: video.uploadID ?? "")
                try await state.store.delete(video.id)
                removed += 1
                logger.notice("state change", metadata: ["video": "\(video.id.uuidString.lowercased())",
                                                         "status": "abandoned upload removed"])
            } catch {
                logger.warning("abandoned upload not removed", metadata: ["video": "\(video.id)", "error": "\(error)"])
            }
        }
        return removed
    }

    /// A job's scratch folder is named `<video>-p<pid>-<random>`: this removes those whose
    /// process is gone (a killed attempt), and never a running job's, even when several
    /// processes share the data directory.
    static func sweepScratch(_ scratch: URL) -> Int {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: scratch.path) else { return 0 }
        var removed = 0
        for name in names {
            let owner = name.split(separator: "-").first { $0.hasPrefix("p") }.flatMap { Int32($0.dropFirst()) }
            if let owner, owner == getpid() || kill(owner, 0) == 0 || errno == EPERM { continue }
            if (try? FileManager.default.removeItem(at: scratch.appendingPathComponent(name))) != nil { removed += 1 }
        }
        return removed
    }

    /// Removes a task's scratch folder on a thread of its own, without waiting: a ladder is
    /// thousands of files, no work for a thread of the cooperative pool. Its name is that
    /// attempt's alone (`scratchName`), so nothing new is written where it is being removed,
    /// and if the process dies first, `sweepScratch` removes it.
    static func removeScratch(_ folder: URL) {
        OwnThread.start { try? FileManager.default.removeItem(at: folder) }
    }

    static func scratchName(for video: UUID) -> String {
        "\(video.uuidString)-p\(getpid())-\(UUID().uuidString.prefix(8))"
    }

    /// Free bytes on the file system that holds `path`, nil when unknown.
    static func freeBytes(at path: String) -> Int64? {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return nil }
        return Int64(clamping: UInt64(info.f_bavail).multipliedReportingOverflow(by: UInt64(info.f_frsize)).partialValue)
    }
}
