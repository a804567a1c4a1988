import Foundation

/// The output folder of one transcode: `master.m3u8` plus one folder per rendition (and
/// `storyboard/`, which is created and cleaned like one).
/// Remembers what it created so a failed run leaves nothing behind.
final class OutputDirectory {
    let path: String
    private let createdRoot: Bool
    private let renditionNames: [String]

    init(path: String, renditions: [String]) throws(TranscodeError.Reason) {
        let manager = FileManager.default
        self.path = URL(fileURLWithPath: path).standardizedFileURL.path
        self.renditionNames = renditions
        var isDirectory: ObjCBool = false
        let exists = manager.fileExists(atPath: self.path, isDirectory: &isDirectory)
        if exists && !isDirectory.boolValue { throw .io("output \(self.path) exists and is not a directory") }
        createdRoot = !exists
        do {
            try manager.createDirectory(atPath: self.path, withIntermediateDirectories: true)
            // A stale master would claim a complete ladder while we replace it.
            if manager.fileExists(atPath: masterPath) { try manager.removeItem(atPath: masterPath) }
            if manager.fileExists(atPath: posterPath) { try manager.removeItem(atPath: posterPath) }
            if manager.fileExists(atPath: progressiveMasterPath) { try manager.removeItem(atPath: progressiveMasterPath) }
            if manager.fileExists(atPath: storyboardPath) { try manager.removeItem(atPath: storyboardPath) }
            if manager.fileExists(atPath: downloadPath) { try manager.removeItem(atPath: downloadPath) }
            if manager.fileExists(atPath: dashManifestPath) { try manager.removeItem(atPath: dashManifestPath) }
            for name in renditions {
                let folder = directory(for: name)
                if manager.fileExists(atPath: folder) { try manager.removeItem(atPath: folder) }
                try manager.createDirectory(atPath: folder, withIntermediateDirectories: true)
            }
        } catch {
            removeEverythingWritten()
            throw .io("cannot prepare output \(self.path): \(error.localizedDescription)")
        }
    }

    var masterPath: String { path + "/master.m3u8" }
    var posterPath: String { path + "/poster.jpg" }
    var progressiveMasterPath: String { path + "/" + ProgressiveLadder.masterName }
    var storyboardPath: String { path + "/" + Storyboard.indexName }
    var downloadPath: String { path + "/" + TranscodeResult.Download.fileName }
    var dashManifestPath: String { path + "/" + DASHManifest.fileName }
    func directory(for rendition: String) -> String { path + "/" + rendition }

    /// Writes `text` to `relativePath` through a temporary file and a rename.
    func writeAtomically(_ text: String, to relativePath: String) throws(TranscodeError.Reason) {
        try Self.writeAtomically(text, to: path + "/" + relativePath)
    }

    /// Writes `text` to the file `target` through a temporary file and a rename, so a
    /// reader sees the old file or the new one, never half of one.
    static func writeAtomically(_ text: String, to target: String) throws(TranscodeError.Reason) {
        let temporary = target + ".tmp"
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
            if rename(temporary, target) != 0 { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw .io("cannot write \(target): \(error.localizedDescription)")
        }
    }

    func removeEverythingWritten() {
        let manager = FileManager.default
        try? manager.removeItem(atPath: masterPath)
        try? manager.removeItem(atPath: masterPath + ".tmp")
        try? manager.removeItem(atPath: posterPath)
        try? manager.removeItem(atPath: posterPath + ".part")
        try? manager.removeItem(atPath: progressiveMasterPath)
        try? manager.removeItem(atPath: progressiveMasterPath + ".tmp")
        try? manager.removeItem(atPath: storyboardPath)
        try? manager.removeItem(atPath: storyboardPath + ".tmp")
        try? manager.removeItem(atPath: downloadPath)
        try? manager.removeItem(atPath: downloadPath + ".part")
        try? manager.removeItem(atPath: dashManifestPath)
        try? manager.removeItem(atPath: dashManifestPath + ".tmp")
        for name in renditionNames { try? manager.removeItem(atPath: directory(for: name)) }
        if createdRoot, (try? manager.contentsOfDirectory(atPath: path))?.isEmpty == true {
            try? manager.removeItem(atPath: path)
        }
    }
}
