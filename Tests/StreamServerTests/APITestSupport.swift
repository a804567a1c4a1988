import Foundation
import Hummingbird
import Synchronization
import HummingbirdTesting
@testable import StreamServer

let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func fixture(_ name: String) -> URL { repositoryRoot.appendingPathComponent("fixtures/media/\(name)") }

/// A server on the embedded default with a fresh data directory.
func makeState(configure: (inout ServerConfiguration) throws -> Void = { _ in }) async throws -> ServerState {
    var configuration = ServerConfiguration()
    configuration.host = "127.0.0.1"
    configuration.port = 0
    configuration.dataDirectory = FileManager.default.temporaryDirectory
        .appendingPathComponent("vstream-server-\(UUID().uuidString.prefix(8))").path
    configuration.webDirectory = repositoryRoot.appendingPathComponent("web").path
    try configure(&configuration)
    return try await ServerState(configuration: configuration)
}

extension TestClientProtocol {
    /// Sends JSON and decodes the JSON answer (or nothing).
    /// `token` goes in `Authorization: Bearer`: an owner token, an API key or a JWT.
    func json(_ method: HTTPRequest.Method, _ uri: String, _ body: String? = nil,
              token: String? = nil) async throws -> (status: Int, object: [String: Any]) {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await execute(uri: uri, method: method, headers: headers,
                                 body: body.map { ByteBuffer(string: $0) }) { response in
            let data = Data(response.body.readableBytesView)
            let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
            return (response.status.code, object)
        }
    }
}

/// The owner tokens of the uploads a driver created, by video id.
final class OwnerTokens: Sendable {
    private let tokens = Mutex<[String: String]>([:])
    subscript(id: String) -> String? {
        get { tokens.withLock { $0[id] } }
        set { tokens.withLock { $0[id] = newValue } }
    }
}

/// The client side of an upload, as the page does it: create, sign, PUT parts, complete.
/// `credential` (a key or a JWT) is sent when set; otherwise each upload's owner token.
struct UploadDriver {
    let client: any TestClientProtocol
    let file: URL
    var credential: String? = nil
    let owners = OwnerTokens()

    /// What the owner of `id` sends.
    func token(_ id: String) -> String? { credential ?? owners[id] }

    var data: Data { (try? Data(contentsOf: file)) ?? Data() }

    func create(size: Int? = nil, contentType: String = "video/mp4",
                visibility: String? = nil) async throws -> (videoID: String, partCount: Int) {
        let size = size ?? data.count
        let visible = visibility.map { #","visibility":"\#($0)""# } ?? ""
        let created = try await client.json(.post, "/api/uploads",
            #"{"filename":"\#(file.lastPathComponent)","size":\#(size),"contentType":"\#(contentType)","lastModified":1700000000000\#(visible)}"#,
            token: credential)
        guard created.status == 201, let id = created.object["videoId"] as? String, let count = created.object["partCount"] as? Int else {
            throw UploadFailure(message: "create answered \(created.status) \(created.object)")
        }
        owners[id] = created.object["ownerToken"] as? String
        return (id, count)
    }

    func sign(_ id: String, _ parts: [Int]) async throws -> [Int: String] {
        let signed = try await client.json(.post, "/api/uploads/\(id)/sign", #"{"partNumbers":\#(parts)}"#, token: token(id))
        let urls = signed.object["urls"] as? [String: String] ?? [:]
        return Dictionary(uniqueKeysWithValues: urls.compactMap { key, value in Int(key).map { ($0, value) } })
    }

    /// PUTs one part to its signed URL; returns the status and the ETag.
    func put(_ part: Int, url: String) async throws -> (status: Int, etag: String?) {
        let partSize = 10 * 1024 * 1024
        let bytes = data
        let slice = bytes[(part - 1) * partSize..<min(part * partSize, bytes.count)]
        // A presigned S3 URL goes to the bucket itself.
        if url.hasPrefix("http") {
            let response = try HTTPTransfer.perform(method: "PUT", url: url, headers: [:], body: .data(Data(slice)))
            return (response.status, response.headers["etag"])
        }
        return try await client.execute(uri: url, method: .put, body: ByteBuffer(bytes: slice)) { response in
            (response.status.code, response.headers[.eTag])
        }
    }

    func complete(_ id: String) async throws -> Int {
        let listed = try await client.json(.get, "/api/uploads/\(id)/parts", token: token(id))
        let parts = (listed.object["parts"] as? [[String: Any]] ?? []).map { #"{"partNumber":\#($0["partNumber"] ?? 0),"etag":"\#($0["etag"] ?? "")"}"# }
        return try await client.json(.post, "/api/uploads/\(id)/complete", #"{"parts":[\#(parts.joined(separator: ","))]}"#,
                                     token: token(id)).status
    }

    /// Reads the SSE stream to its end (ready or failed) and returns the events.
    func events(_ id: String) async throws -> [(event: String, data: [String: Any])] {
        let headers: HTTPFields = token(id).map { [.authorization: "Bearer \($0)"] } ?? [:]
        return try await client.execute(uri: "/api/videos/\(id)/events", method: .get, headers: headers) { response in
            let text = String(buffer: response.body)
            return text.components(separatedBy: "\n\n").compactMap { block in
                let lines = block.split(separator: "\n")
                guard let event = lines.first(where: { $0.hasPrefix("event: ") })?.dropFirst(7),
                      let data = lines.first(where: { $0.hasPrefix("data: ") })?.dropFirst(6),
                      let object = try? JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any] else { return nil }
                return (String(event), object)
            }
        }
    }

    struct UploadFailure: Error { var message: String }
}

extension ServerState {
    /// The embedded default's storage, for looking at its files.
    var local: LocalStorage? {
        if case .local(let storage) = backend { return storage }
        return nil
    }
}
