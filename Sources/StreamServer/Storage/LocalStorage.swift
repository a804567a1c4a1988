import Crypto
import Foundation

/// The embedded default's object storage: a directory. Multipart uploads keep each
/// part as a file (ETag = its MD5, as S3 reports for unencrypted parts) until they are
/// completed into one object.
///
/// Every call that copies, reads or walks files runs on a thread of its own (`OwnThread`),
/// as S3's transfers do: completing a 2 GB upload copies 2 GB, and on the cooperative pool
/// that would hold one of a 2-core host's two threads for seconds.
public struct LocalStorage: ObjectStorage {
    public let root: URL

    public init(root: URL) throws {
        self.root = root
        try FileManager.default.createDirectory(at: root.appendingPathComponent("objects"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("multipart"), withIntermediateDirectories: true)
    }

    public func objectURL(_ key: String) throws -> URL {
        root.appendingPathComponent("objects").appendingPathComponent(try validatedKey(key))
    }

    private func uploadDirectory(_ uploadID: String) throws -> URL {
        guard UUID(uuidString: uploadID) != nil else { throw StorageError.noSuchUpload }
        return root.appendingPathComponent("multipart").appendingPathComponent(uploadID)
    }

    public func createMultipartUpload(key: String) async throws -> String {
        _ = try validatedKey(key)
        let uploadID = UUID().uuidString
        let directory = try uploadDirectory(uploadID)
        try await OwnThread.run { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) }
        return uploadID
    }

    /// Stores one part from a stream of chunks. It must be exactly `expectedBytes`: a body
    /// that is longer, shorter or cut off leaves nothing listed, so a resumed upload
    /// sends that part again. Each chunk is written as it arrives, like a socket's read: a
    /// write of one chunk to the page cache does not wait on the disk.
    public func writePart(uploadID: String, partNumber: Int, expectedBytes: Int64,
                          chunks: some AsyncSequence<[UInt8], any Error>) async throws -> UploadedPart {
        let maxBytes = expectedBytes
        let directory = try uploadDirectory(uploadID)
        guard FileManager.default.fileExists(atPath: directory.path) else { throw StorageError.noSuchUpload }
        let temporary = directory.appendingPathComponent("\(partNumber).incoming-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: temporary.path, contents: nil)  // FileHandle below says why if not
        let handle = try FileHandle(forWritingTo: temporary)
        var md5 = Insecure.MD5()
        var size: Int64 = 0
        do {
            for try await chunk in chunks {
                size += Int64(chunk.count)
                guard size <= maxBytes else { throw StorageError.invalidPart("part \(partNumber) is larger than \(maxBytes) bytes") }
                md5.update(data: chunk)
                try handle.write(contentsOf: chunk)
            }
            try handle.close()
            guard size == expectedBytes else {
                throw StorageError.invalidPart("part \(partNumber) has \(size) bytes; expected \(expectedBytes)")
            }
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
        let etag = md5.finalize().map { String(format: "%02x", $0) }.joined()
        let final = directory.appendingPathComponent(String(partNumber))
        // The ETag first, then the rename: a part is listed only once it is whole.
        try Data(etag.utf8).write(to: directory.appendingPathComponent("\(partNumber).etag"), options: .atomic)
        _ = try? FileManager.default.removeItem(at: final)
        try FileManager.default.moveItem(at: temporary, to: final)
        return UploadedPart(partNumber: partNumber, etag: etag, size: size)
    }

    public func listParts(key: String, uploadID: String) async throws -> [UploadedPart] {
        let directory = try uploadDirectory(uploadID)
        return try await OwnThread.run { try Self.parts(in: directory) }
    }

    private static func parts(in directory: URL) throws -> [UploadedPart] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { throw StorageError.noSuchUpload }
        return try names.compactMap(Int.init).sorted().map { number in
            let file = directory.appendingPathComponent(String(number))
            let size = (try FileManager.default.attributesOfItem(atPath: file.path)[.size] as? NSNumber)?.int64Value ?? 0
            let etag = (try? String(contentsOf: directory.appendingPathComponent("\(number).etag"), encoding: .utf8)) ?? ""
            return UploadedPart(partNumber: number, etag: etag, size: size)
        }
    }

    public func completeMultipartUpload(key: String, uploadID: String, parts: [(partNumber: Int, etag: String)]) async throws {
        let directory = try uploadDirectory(uploadID)
        let stored = Dictionary(uniqueKeysWithValues: try await listParts(key: key, uploadID: uploadID).map { ($0.partNumber, $0) })
        let target = try objectURL(key)
        let numbers = parts.map(\.partNumber)
        guard !parts.isEmpty, numbers == numbers.sorted(), Set(numbers).count == numbers.count else {
            throw StorageError.invalidPart("parts must be listed once each, in ascending order")
        }
        for part in parts {
            let clean = part.etag.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            guard stored[part.partNumber]?.etag == clean else { throw StorageError.invalidPart("part \(part.partNumber): no such part or wrong ETag") }
        }
        try await OwnThread.run { try Self.assemble(numbers, from: directory, into: target) }
    }

    /// The parts, in order, copied into one object that appears whole (a rename).
    private static func assemble(_ numbers: [Int], from directory: URL, into target: URL) throws {
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        let temporary = target.appendingPathExtension("assembling")
        _ = FileManager.default.createFile(atPath: temporary.path, contents: nil)  // FileHandle below says why if not
        let output = try FileHandle(forWritingTo: temporary)
        defer { try? output.close() }
        for number in numbers {
            let input = try FileHandle(forReadingFrom: directory.appendingPathComponent(String(number)))
            defer { try? input.close() }
            while let chunk = try input.read(upToCount: 1 << 20), !chunk.isEmpty { try output.write(contentsOf: chunk) }
        }
        try output.close()
        _ = try? FileManager.default.removeItem(at: target)
        try FileManager.default.moveItem(at: temporary, to: target)
        try FileManager.default.removeItem(at: directory)
    }

    public func size(key: String) async throws -> Int64? {
        let path = try objectURL(key).path
        return try await OwnThread.run {
            ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value
        }
    }

    public func abortMultipartUpload(key: String, uploadID: String) async throws {
        let directory = try uploadDirectory(uploadID)
        try await OwnThread.run { try? FileManager.default.removeItem(at: directory) }
    }

    public func put(file: URL, key: String, contentType: String, cacheControl: String, contentDisposition: String?) async throws {
        let target = try objectURL(key)
        try await OwnThread.run { try Self.copy(file, into: target) }
    }

    private static func copy(_ file: URL, into target: URL) throws {
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        let temporary = target.appendingPathExtension("incoming")
        _ = try? FileManager.default.removeItem(at: temporary)
        try FileManager.default.copyItem(at: file, to: temporary)
        // rename(2) replaces the object atomically: a reader (a player reloading a growing
        // playlist) sees the old file or the new one, never none.
        guard rename(temporary.path, target.path) == 0 else {
            let error = POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
    }

    public func fetch(key: String, to file: URL) async throws {
        let source = try objectURL(key)
        try await OwnThread.run {
            guard FileManager.default.fileExists(atPath: source.path) else { throw StorageError.noSuchKey(key) }
            _ = try? FileManager.default.removeItem(at: file)
            try FileManager.default.copyItem(at: source, to: file)
        }
    }

    public func data(key: String) async throws -> Data? {
        let file = try objectURL(key)
        return try await OwnThread.run { try? Data(contentsOf: file) }
    }

    public func read(key: String, range: Range<Int64>) async throws -> Data? {
        let file = try objectURL(key)
        return try await OwnThread.run { try Self.read(file, key: key, range: range) }
    }

    private static func read(_ file: URL, key: String, range: Range<Int64>) throws -> Data? {
        guard let handle = try? FileHandle(forReadingFrom: file) else { return nil }
        defer { try? handle.close() }
        let size = try handle.seekToEnd()
        guard range.lowerBound >= 0, UInt64(range.lowerBound) < size || range.isEmpty else {
            throw StorageError.invalidRange(key)
        }
        try handle.seek(toOffset: UInt64(range.lowerBound))
        return try handle.read(upToCount: Int(min(Int64(size) - range.lowerBound, Int64(range.count)))) ?? Data()
    }

    public func localPath(key: String) throws -> String? {
        let path = try objectURL(key).path
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    public func delete(key: String) async throws {
        let file = try objectURL(key)
        let objects = root.appendingPathComponent("objects").standardizedFileURL.path
        try await OwnThread.run { Self.delete(file, within: objects) }
    }

    private static func delete(_ file: URL, within objects: String) {
        try? FileManager.default.removeItem(at: file)
        // Drop folders the deletion left empty, up to the objects root.
        var folder = file.deletingLastPathComponent()
        while folder.standardizedFileURL.path.count > objects.count,
              (try? FileManager.default.contentsOfDirectory(atPath: folder.path))?.isEmpty == true {
            try? FileManager.default.removeItem(at: folder)
            folder = folder.deletingLastPathComponent()
        }
    }

    public func keys(under prefix: String) async throws -> [String] {
        let folder = try objectURL(prefix).standardizedFileURL
        return try await OwnThread.run { Self.keys(in: folder, prefix: prefix) }
    }

    private static func keys(in folder: URL, prefix: String) -> [String] {
        guard let walk = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey]) else { return [] }
        var keys: [String] = []
        for case let file as URL in walk where (try? file.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
            // Files being written (".incoming") are not objects yet.
            guard file.pathExtension != "incoming" else { continue }
            keys.append(prefix + "/" + file.standardizedFileURL.path.dropFirst(folder.path.count + 1))
        }
        return keys.sorted()
    }

    public func deletePrefix(_ prefix: String) async throws {
        let folder = try objectURL(prefix)
        try await OwnThread.run { try? FileManager.default.removeItem(at: folder) }
    }
}
