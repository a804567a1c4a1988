import Crypto
import Foundation

/// The embedded default's object storage: a directory. Multipart uploads keep each
/// part as a file (ETag = its MD5, as S3 reports for unencrypted parts) until they are
/// completed into one object.
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
        try FileManager.default.createDirectory(at: try uploadDirectory(uploadID), withIntermediateDirectories: true)
        return uploadID
    }

    /// Stores one part from a stream of chunks. It must be exactly `expectedBytes`: a body
    /// that is longer, shorter or cut off leaves nothing listed, so a resumed upload
    /// sends that part again.
    public func writePart(uploadID: String, partNumber: Int, expectedBytes: Int64,
                          chunks: some AsyncSequence<[UInt8], any Error>) async throws -> UploadedPart {
        let maxBytes = expectedBytes
        let directory = try uploadDirectory(uploadID)
        guard FileManager.default.fileExists(atPath: directory.path) else { throw StorageError.noSuchUpload }
        let temporary = directory.appendingPathComponent("\(partNumber).incoming-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: temporary.path, contents: nil)
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
        let numbers = parts.map(\.partNumber)
        guard !parts.isEmpty, numbers == numbers.sorted(), Set(numbers).count == numbers.count else {
            throw StorageError.invalidPart("parts must be listed once each, in ascending order")
        }
        for part in parts {
            let clean = part.etag.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            guard stored[part.partNumber]?.etag == clean else { throw StorageError.invalidPart("part \(part.partNumber): no such part or wrong ETag") }
        }
        let target = try objectURL(key)
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        let temporary = target.appendingPathExtension("assembling")
        FileManager.default.createFile(atPath: temporary.path, contents: nil)
        let output = try FileHandle(forWritingTo: temporary)
        defer { try? output.close() }
        for part in parts {
            let input = try FileHandle(forReadingFrom: directory.appendingPathComponent(String(part.partNumber)))
            defer { try? input.close() }
            while let chunk = try input.read(upToCount: 1 << 20), !chunk.isEmpty { try output.write(contentsOf: chunk) }
        }
        try output.close()
        _ = try? FileManager.default.removeItem(at: target)
        try FileManager.default.moveItem(at: temporary, to: target)
        try FileManager.default.removeItem(at: directory)
    }

    public func size(key: String) async throws -> Int64? {
        let attributes = try? FileManager.default.attributesOfItem(atPath: try objectURL(key).path)
        return (attributes?[.size] as? NSNumber)?.int64Value
    }

    public func abortMultipartUpload(key: String, uploadID: String) async throws {
        try? FileManager.default.removeItem(at: try uploadDirectory(uploadID))
    }

    public func put(file: URL, key: String, contentType: String, cacheControl: String, contentDisposition: String?) async throws {
        let target = try objectURL(key)
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
        guard FileManager.default.fileExists(atPath: source.path) else { throw StorageError.noSuchKey(key) }
        _ = try? FileManager.default.removeItem(at: file)
        try FileManager.default.copyItem(at: source, to: file)
    }

    public func data(key: String) async throws -> Data? {
        try? Data(contentsOf: try objectURL(key))
    }

    public func read(key: String, range: Range<Int64>) async throws -> Data? {
        guard let handle = try? FileHandle(forReadingFrom: try objectURL(key)) else { return nil }
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
        try? FileManager.default.removeItem(at: file)
        // Drop folders the deletion left empty, up to the objects root.
        var folder = file.deletingLastPathComponent()
        let objects = root.appendingPathComponent("objects").standardizedFileURL.path
        while folder.standardizedFileURL.path.count > objects.count,
              (try? FileManager.default.contentsOfDirectory(atPath: folder.path))?.isEmpty == true {
            try? FileManager.default.removeItem(at: folder)
            folder = folder.deletingLastPathComponent()
        }
    }

    public func keys(under prefix: String) async throws -> [String] {
        let folder = try objectURL(prefix).standardizedFileURL
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
        try? FileManager.default.removeItem(at: try objectURL(prefix))
    }
}
