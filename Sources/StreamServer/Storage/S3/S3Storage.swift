import Crypto
import Foundation

/// S3-compatible object storage (Cloudflare R2 in production, SeaweedFS in tests)
/// through libcurl, with SigV4 header authentication and path-style addressing
/// (`endpoint/bucket/key`).
public struct S3Storage: ObjectStorage {
    public struct Configuration: Sendable {
        /// `R2_S3_API`, e.g. https://ACCOUNT.r2.cloudflarestorage.com
        public var endpoint: URL
        /// `R2_BUCKET_NAME`
        public var bucket: String
        public var accessKeyID: String
        public var secretAccessKey: String
        /// `S3_REGION`, "auto" for R2.
        public var region = "auto"

        public init(endpoint: URL, bucket: String, accessKeyID: String, secretAccessKey: String, region: String = "auto") {
            self.endpoint = endpoint
            self.bucket = bucket
            self.accessKeyID = accessKeyID
            self.secretAccessKey = secretAccessKey
            self.region = region
        }
    }

    public struct Failure: Error, CustomStringConvertible, Equatable {
        public var status: Int
        public var code: String
        public var message: String
        public var description: String { "S3 \(status) \(code): \(message)" }
    }

    /// How storage calls ride out an outage: attempts, and the backoff between them.
    public struct TransientRetry: Sendable {
        public var attempts: Int
        public var backoff: Backoff

        /// About 25 to 50 s of retrying in all.
        public static let standard = TransientRetry(attempts: 10, backoff: Backoff(base: .milliseconds(500), cap: .seconds(8)))
    }

    public let configuration: Configuration
    private let signer: SigV4
    let retryPolicy: TransientRetry

    public init(_ configuration: Configuration, retry: TransientRetry = .standard) {
        self.configuration = configuration
        retryPolicy = retry
        signer = SigV4(accessKeyID: configuration.accessKeyID, secretAccessKey: configuration.secretAccessKey,
                       region: configuration.region)
    }

    var host: String {
        let url = configuration.endpoint
        return (url.host ?? "") + (url.port.map { ":\($0)" } ?? "")
    }

    var scheme: String { configuration.endpoint.scheme ?? "https" }

    func path(_ key: String) -> String { "/\(configuration.bucket)/\(key)" }

    // MARK: Requests

    /// Sends a signed request, retrying transient faults (connection errors and
    /// timeouts, 5xx, 429) with backoff and jitter; the last failure is thrown.
    /// Throws `Failure` for a non-2xx answer.
    @discardableResult
    func request(_ method: String, path: String, query: [String: String] = [:], headers extra: [String: String] = [:],
                 body: HTTPTransfer.Body = .none, downloadTo: URL? = nil) async throws -> HTTPTransfer.Response {
        var retry = 0
        while true {
            do {
                let response = try await send(method, path: path, query: query, headers: extra, body: body, downloadTo: downloadTo)
                StorageMetrics.transferred(body: body, response: response, downloadTo: downloadTo)
                return response
            } catch {
                StorageMetrics.failed(method: method, error: error)
                guard Self.isTransient(error), retry + 1 < retryPolicy.attempts else { throw error }
                try await Task.sleep(for: retryPolicy.backoff.outageDelay(retry: retry))
                retry += 1
            }
        }
    }

    static func isTransient(_ error: any Error) -> Bool {
        if let failure = error as? Failure { return failure.status >= 500 || failure.status == 429 }
        return error is HTTPTransfer.Failure  // no answer at all: refused, reset, timed out
    }

    /// Sends one signed request.
    private func send(_ method: String, path: String, query: [String: String], headers extra: [String: String],
                      body: HTTPTransfer.Body, downloadTo: URL?) async throws -> HTTPTransfer.Response {
        let payloadHash: String = switch body {
        case .data(let data): SigV4.hex(SHA256.hash(data: data))
        case .none: SigV4.emptyPayloadHash
        case .file: SigV4.unsignedPayload
        }
        let date = Date()
        var headers = ["host": host, "x-amz-date": SigV4.timestamp(date), "x-amz-content-sha256": payloadHash]
        // S3 requires every x-amz-* header to be signed (x-amz-copy-source among them).
        for (name, value) in extra where name.lowercased().hasPrefix("x-amz-") { headers[name.lowercased()] = value }
        headers["authorization"] = signer.authorization(method: method, path: path, query: query, headers: headers,
                                                         payloadHash: payloadHash, date: date)
        headers.removeValue(forKey: "host")  // libcurl sends it
        for (name, value) in extra { headers[name] = value }
        let queryString = SigV4.canonicalQuery(query)
        let url = "\(scheme)://\(host)\(SigV4.encodePath(path))" + (queryString.isEmpty ? "" : "?\(queryString)")
        let signedHeaders = headers
        let response = try await OwnThread.run {
            try HTTPTransfer.perform(method: method, url: url, headers: signedHeaders, body: body, downloadTo: downloadTo)
        }
        guard (200..<300).contains(response.status) else {
            let xml = S3XML.parse(response.body)
            throw Failure(status: response.status, code: xml?.value("Code") ?? "HTTP\(response.status)",
                          message: xml?.value("Message") ?? String(decoding: response.body.prefix(300), as: UTF8.self))
        }
        return response
    }

    // MARK: ObjectStorage

    public func createBucketIfNeeded() async throws {
        do {
            try await request("PUT", path: "/\(configuration.bucket)")
        } catch let failure as Failure where failure.code == "BucketAlreadyOwnedByYou" || failure.code == "BucketAlreadyExists" {
        }
    }

    /// Lets the page's origins PUT parts and read the ETag (PutBucketCors). R2 and S3
    /// need this for browser uploads; `S3_CORS_ORIGINS` names the origins.
    public func allowBrowserUploads(from origins: [String]) async throws {
        let allowed = origins.map { "<AllowedOrigin>\(S3XML.escape($0))</AllowedOrigin>" }.joined()
        let rules = "<CORSConfiguration><CORSRule>\(allowed)<AllowedMethod>PUT</AllowedMethod><AllowedMethod>GET</AllowedMethod>"
            + "<AllowedMethod>HEAD</AllowedMethod><AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader>"
            + "<MaxAgeSeconds>3600</MaxAgeSeconds></CORSRule></CORSConfiguration>"
        let body = Data(rules.utf8)
        try await request("PUT", path: "/\(configuration.bucket)", query: ["cors": ""],
                          headers: ["content-type": "application/xml",
                                    "content-md5": Data(Insecure.MD5.hash(data: body)).base64EncodedString()],
                          body: .data(body))
    }

    public func createMultipartUpload(key: String) async throws -> String {
        let response = try await request("POST", path: path(try validatedKey(key)), query: ["uploads": ""])
        guard let uploadID = S3XML.parse(response.body)?.value("UploadId") else {
            throw Failure(status: response.status, code: "NoUploadId", message: "InitiateMultipartUpload answered without an UploadId")
        }
        return uploadID
    }

    /// Every part, following S3's paging (1000 parts a page).
    public func listParts(key: String, uploadID: String) async throws -> [UploadedPart] {
        try await listParts(key: key, uploadID: uploadID, pageSize: nil)
    }

    /// `pageSize` (S3's max-parts) lets a test see the paging with a few parts.
    func listParts(key: String, uploadID: String, pageSize: Int?) async throws -> [UploadedPart] {
        var parts: [UploadedPart] = []
        var marker: String?
        repeat {
            var query = ["uploadId": uploadID]
            if let pageSize { query["max-parts"] = String(pageSize) }
            if let marker { query["part-number-marker"] = marker }
            let response = try await request("GET", path: path(try validatedKey(key)), query: query)
            guard let xml = S3XML.parse(response.body) else { break }
            for part in xml.all("Part") {
                guard let number = part.value("PartNumber").flatMap(Int.init) else { continue }
                parts.append(UploadedPart(partNumber: number,
                                          etag: (part.value("ETag") ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "\"")),
                                          size: part.value("Size").flatMap(Int64.init) ?? 0))
            }
            marker = xml.value("IsTruncated") == "true" ? xml.value("NextPartNumberMarker") : nil
        } while marker != nil
        return parts
    }

    public func completeMultipartUpload(key: String, uploadID: String, parts: [(partNumber: Int, etag: String)]) async throws {
        let items = parts.map { part in
            let etag = part.etag.hasPrefix("\"") ? part.etag : "\"\(part.etag)\""
            return "<Part><PartNumber>\(part.partNumber)</PartNumber><ETag>\(S3XML.escape(etag))</ETag></Part>"
        }
        let body = "<CompleteMultipartUpload>\(items.joined())</CompleteMultipartUpload>"
        let response = try await request("POST", path: path(try validatedKey(key)), query: ["uploadId": uploadID],
                                         headers: ["content-type": "application/xml"], body: .data(Data(body.utf8)))
        // S3 may answer 200 with an error document.
        if let xml = S3XML.parse(response.body), xml.name == "Error" {
            throw Failure(status: response.status, code: xml.value("Code") ?? "Error", message: xml.value("Message") ?? "")
        }
    }

    /// Aborting an upload the storage has already dropped (completed, expired, aborted
    /// by an earlier try) is done, not an error.
    public func abortMultipartUpload(key: String, uploadID: String) async throws {
        do {
            try await request("DELETE", path: path(try validatedKey(key)), query: ["uploadId": uploadID])
        } catch let failure as Failure where failure.status == 404 || failure.code == "NoSuchUpload" {
            return
        }
    }

    public func size(key: String) async throws -> Int64? {
        do {
            let response = try await request("HEAD", path: path(try validatedKey(key)))
            return response.headers["content-length"].flatMap(Int64.init)
        } catch let failure as Failure where failure.status == 404 {
            return nil
        }
    }

    public func put(file: URL, key: String, contentType: String, cacheControl: String, contentDisposition: String?) async throws {
        var headers = ["content-type": contentType, "cache-control": cacheControl]
        if let contentDisposition { headers["content-disposition"] = contentDisposition }
        try await request("PUT", path: path(try validatedKey(key)), headers: headers, body: .file(file))
    }

    public func fetch(key: String, to file: URL) async throws {
        try await request("GET", path: path(try validatedKey(key)), downloadTo: file)
    }

    public func data(key: String) async throws -> Data? {
        do {
            return try await request("GET", path: path(try validatedKey(key))).body
        } catch let failure as Failure where failure.status == 404 {
            return nil
        }
    }

    public func read(key: String, range: Range<Int64>) async throws -> Data? {
        guard range.lowerBound >= 0, !range.isEmpty else { return Data() }
        do {
            let response = try await request("GET", path: path(try validatedKey(key)),
                                             headers: ["range": "bytes=\(range.lowerBound)-\(range.upperBound - 1)"])
            // A server that ignores Range answers 200 with everything: keep what was asked.
            if response.status == 200 {
                let start = Int(clamping: range.lowerBound)
                guard start < response.body.count else { return Data() }
                return response.body.subdata(in: start..<min(response.body.count, Int(clamping: range.upperBound)))
            }
            return response.body
        } catch let failure as Failure where failure.status == 404 {
            return nil
        } catch let failure as Failure where failure.status == 416 {
            throw StorageError.invalidRange(key)
        }
    }

    public func localPath(key: String) throws -> String? { nil }

    public func delete(key: String) async throws {
        try await request("DELETE", path: path(try validatedKey(key)))
    }

    /// A presigned URL the browser PUTs one part to.
    public func partUploadURL(key: String, uploadID: String, partNumber: Int, expires: Int, now: Date = Date()) -> String {
        signer.presignedURL(method: "PUT", scheme: scheme, host: host, path: path(key),
                            query: ["partNumber": String(partNumber), "uploadId": uploadID], date: now, expires: expires)
    }
}
