import Foundation
import Hummingbird
import HummingbirdTesting
@testable import StreamServer

/// The callers of the access tests, by the credential each sends.
struct Callers {
    static let operatorKey = "operator-key-0123456789abcdef"
    let alice: String
    let bob: String
    let key = Callers.operatorKey

    static func make() async throws -> Callers {
        Callers(alice: try await TestJWT.hs256("alice"), bob: try await TestJWT.hs256("bob"))
    }

    /// A server's access settings: a key, the app's JWT secret, anonymous uploads on.
    static func configure(_ configuration: inout ServerConfiguration) throws {
        configuration.access.apiKeys = try APIKeys(pairs: "ops:\(operatorKey)")
        configuration.access.jwtKey = .hmacSecret(TestJWT.secret)
        configuration.access.anonymousUploadsSetting = true
    }
}

/// One answer: status, JSON body (or nothing), headers, raw bytes.
struct Answer {
    var status: Int
    var object: [String: Any]
    var headers: HTTPFields
    var body: Data
}

extension TestClientProtocol {
    /// A request as `token` (nil: no Authorization header).
    func send(_ method: HTTPRequest.Method, _ uri: String, as token: String?, _ body: String? = nil,
              headers extra: HTTPFields = [:]) async throws -> Answer {
        var headers = extra
        if body != nil { headers[.contentType] = "application/json" }
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }) { response in
            let data = Data(response.body.readableBytesView)
            let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
            return Answer(status: Int(response.status.code), object: object, headers: response.headers, body: data)
        }
    }

    /// Creates an upload as `token` (nil: anonymously); returns its id and its owner's credential.
    func createUpload(as token: String?, visibility: String? = nil, size: Int = 1000) async throws -> (id: String, owner: String) {
        let visible = visibility.map { #","visibility":"\#($0)""# } ?? ""
        let created = try await send(.post, "/api/uploads", as: token,
            #"{"filename":"secret-name.mp4","size":\#(size),"contentType":"video/mp4","lastModified":1\#(visible)}"#)
        guard created.status == 201, let id = created.object["videoId"] as? String,
              let owner = token ?? created.object["ownerToken"] as? String else {
            throw UploadDriver.UploadFailure(message: "create answered \(created.status) \(created.object)")
        }
        return (id, owner)
    }
}
