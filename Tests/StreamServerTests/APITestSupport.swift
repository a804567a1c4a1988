import Foundation
import Hummingbird
import HummingbirdTesting
@testable import StreamServer

let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func fixture(_ name: String) -> URL { repositoryRoot.appendingPathComponent("fixtures/media/\(name)") }

/// A server on the embedded default with a fresh data directory.
func makeState(configure: (inout ServerConfiguration) -> Void = { _ in }) async throws -> ServerState {
    var configuration = ServerConfiguration()
    configuration.host = "127.0.0.1"
    configuration.port = 0
    configuration.dataDirectory = FileManager.default.temporaryDirectory
        .appendingPathComponent("vstream-server-\(UUID().uuidString.prefix(8))").path
    configuration.webDirectory = repositoryRoot.appendingPathComponent("web").path
    configure(&configuration)
    return try await ServerState(configuration: configuration)
}

extension TestClientProtocol {
    /// Sends JSON and decodes the JSON answer (or nothing).
    func json(_ method: HTTPRequest.Method, _ uri: String, _ body: String? = nil) async throws -> (status: Int, object: [String: Any]) {
        try await execute(uri: uri, method: method, headers: [.contentType: "application/json"],
                          body: body.map { ByteBuffer(string: $0) }) { response in
            let data = Data(response.body.readableBytesView)
            let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
            return (response.status.code, object)
        }
    }
}

/// The client side of an upload, as the page does it: create, sign, PUT parts, complete.
struct UploadDriver {
    let client: any TestClientProtocol
    let file: URL

    var data: Data { (try? Data(contentsOf: file)) ?? Data() }

    func create(size: Int? = nil, contentType: String = "video/mp4") async throws -> (videoID: String, partCount: Int) {
        let size = size ?? data.count
        let created = try await client.json(.post, "/api/uploads",
            #"{"filename":"\#(file.lastPathComponent)","size":\#(size),"contentType":"\#(contentType)","lastModified":1700000000000}"#)
        guard created.status == 201, let id = created.object["videoId"] as? String, let count = created.object["partCount"] as? Int else {
            throw UploadFailure(message: "create answered \(created.status) \(created.object)")
        }
        return (id, count)
    }

    func sign(_ id: String, _ parts: [Int]) async throws -> [Int: String] {
        let signed = try await client.json(.post, "/api/uploads/\(id)/sign", #"{"partNumbers":\#(parts)}"#)
        let urls = signed.object["urls"] as? [String: String] ?? [:]
        return Dictionary(uniqueKeysWithValues: urls.compactMap { key, value in Int(key).map { ($0, value) } })
    }

    /// PUTs one part to its signed URL; returns the status and the ETag.
    func put(_ part: Int, url: String) async throws -> (status: Int, etag: String?) {
        let partSize = 10 * 1024 * 1024
        let bytes = data
        let slice = bytes[(part - 1) * partSize..<min(part * partSize, bytes.count)]
        return try await client.execute(uri: url, method: .put, body: ByteBuffer(bytes: slice)) { response in
            (response.status.code, response.headers[.eTag])
        }
    }

    func complete(_ id: String) async throws -> Int {
        let listed = try await client.json(.get, "/api/uploads/\(id)/parts")
        let parts = (listed.object["parts"] as? [[String: Any]] ?? []).map { #"{"partNumber":\#($0["partNumber"] ?? 0),"etag":"\#($0["etag"] ?? "")"}"# }
        return try await client.json(.post, "/api/uploads/\(id)/complete", #"{"parts":[\#(parts.joined(separator: ","))]}"#).status
    }

    /// Reads the SSE stream to its end (ready or failed) and returns the events.
    func events(_ id: String) async throws -> [(event: String, data: [String: Any])] {
        try await client.execute(uri: "/api/videos/\(id)/events", method: .get) { response in
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
