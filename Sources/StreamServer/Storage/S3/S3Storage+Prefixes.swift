import Crypto
import Foundation

/// Whole folders of a bucket: a video's ladder is thousands of objects (a 2-hour film's,
/// three rungs and its audio, some 15,000), and one request per object, one after another,
/// costs as many round trips to a distant bucket: minutes, while an owner's DELETE or a move
/// to private waits.
extension S3Storage {
    /// DeleteObjects' limit of keys per request.
    static let keysPerDeletion = 1000

    /// Deletes every object under `prefix/`, a thousand per request (DeleteObjects).
    public func deletePrefix(_ prefix: String) async throws {
        try await delete(keys: try await keys(under: prefix))
    }

    /// Deletes each key, a thousand per request (DeleteObjects).
    public func delete(keys: [String]) async throws {
        for key in keys { _ = try validatedKey(key) }
        for start in stride(from: 0, to: keys.count, by: Self.keysPerDeletion) {
            try await deleteObjects(keys[start..<min(start + Self.keysPerDeletion, keys.count)])
        }
    }

    /// One DeleteObjects request. Its answer is 200 even where some keys were not deleted:
    /// it names those, and the first one's reason is thrown.
    func deleteObjects(_ keys: ArraySlice<String>) async throws {
        let objects = keys.map { "<Object><Key>\(S3XML.escape($0))</Key></Object>" }.joined()
        let body = Data("<Delete><Quiet>true</Quiet>\(objects)</Delete>".utf8)
        let response = try await request("POST", path: "/\(configuration.bucket)", query: ["delete": ""],
                                         headers: ["content-type": "application/xml",
                                                   "content-md5": Data(Insecure.MD5.hash(data: body)).base64EncodedString()],
                                         body: .data(body))
        let refused = S3XML.parse(response.body)?.all("Error") ?? []
        if let first = refused.first {
            throw Failure(status: response.status, code: first.value("Code") ?? "DeleteFailed",
                          message: "\(refused.count) of \(keys.count) objects were not deleted: \(first.value("Message") ?? "")")
        }
    }

    /// Copies every object under `from/` to the same name under `to/`, inside the bucket
    /// (CopyObject keeps each object's content type and cache headers), 16 at once.
    public func copyPrefix(from: String, to: String) async throws {
        let source = try validatedKey(from), target = try validatedKey(to)
        try await forEach(try await keys(under: source), atOnce: BatchWidth.roundTrips) { key in
            let destination = target + key.dropFirst(source.count)
            try await self.request("PUT", path: self.path(try validatedKey(destination)),
                                   headers: ["x-amz-copy-source": S3Storage.copySource(self.path(key))])
        }
    }

    /// `x-amz-copy-source`: the source's path, percent-encoded as a URI path.
    static func copySource(_ path: String) -> String {
        path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? path
    }

    /// The keys of every object under `prefix/`, with ListObjectsV2.
    public func keys(under prefix: String) async throws -> [String] {
        let clean = try validatedKey(prefix)
        var keys: [String] = []
        var token: String?
        repeat {
            var query = ["list-type": "2", "prefix": clean + "/"]
            if let token { query["continuation-token"] = token }
            let response = try await request("GET", path: "/\(configuration.bucket)", query: query)
            guard let xml = S3XML.parse(response.body) else { break }
            keys += xml.all("Contents").compactMap { $0.value("Key") }
            token = xml.value("IsTruncated") == "true" ? xml.value("NextContinuationToken") : nil
        } while token != nil
        return keys
    }
}
