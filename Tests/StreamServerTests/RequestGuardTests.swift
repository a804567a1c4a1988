import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import StreamServer

/// What a browser can be tricked into sending, refused on a live server (real sockets,
/// real Host headers): a DNS-rebinding Host (421), a cross-site form's body (415), and
/// more concurrent SSE streams than the cap (503 with Retry-After), and a stream for a
/// video that stops existing ends.
@Suite("Request guards", .serialized)
struct RequestGuardTests {
    /// libcurl blocks its thread; on a thread of its own it cannot starve the
    /// concurrency pool that runs the server's handlers (two threads on two cores).
    static func request(_ method: String, _ url: String, _ headers: [String: String] = [:], body: String? = nil,
                        timeout: Int = 10) async throws -> HTTPTransfer.Response {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result {
                    try HTTPTransfer.perform(method: method, url: url, headers: headers,
                                             body: body.map { .data(Data($0.utf8)) } ?? .none, timeout: timeout)
                })
            }.start()
        }
    }

    @Test func hostAllowlistNamesTheDefaultsAndAcceptsIPLiterals() {
        var configuration = ServerConfiguration()
        configuration.host = "0.0.0.0"
        configuration.publicBaseURL = "https://cdn.example.com/videos"
        configuration.allowedHosts = ["Videos.Example.org"]
        let hosts = HostAllowlist(configuration: configuration)
        for allowed in ["localhost:8080", "127.0.0.1", "[::1]:8080", "cdn.example.com", "videos.example.org:443",
                        "192.168.1.20:8080", "[2001:db8::1]"] {
            #expect(hosts.allows(allowed), "\(allowed)")
        }
        for refused in ["attacker.example", "localhost.attacker.example", "127.0.0.1.nip.io:8080", "example.com"] {
            #expect(!hosts.allows(refused), "\(refused)")
        }
    }

    @Test func aForeignHostNameGets421AndAPlainTextBodyGets415() async throws {
        let state = try await makeState()
        let app = buildApplication(state)
        try await app.test(.live) { client in
            // libcurl, so the Host header is exactly what a browser on another page would send.
            let base = "http://127.0.0.1:\(try #require(client.port))"
            func send(_ method: String, _ path: String, _ headers: [String: String], _ body: String? = nil) async throws -> Int {
                try await Self.request(method, base + path, headers, body: body).status
            }
            #expect(try await send("GET", "/api/videos", ["host": "attacker.example:8080"]) == 421)
            #expect(try await send("GET", "/api/videos", ["host": "localhost"]) == 200)
            #expect(try await send("GET", "/healthz", ["host": "attacker.example"]) == 200)
            let upload = #"{"filename":"a.mp4","size":100,"contentType":"video/mp4","lastModified":1}"#
            for type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"] {
                #expect(try await send("POST", "/api/uploads", ["content-type": type], upload) == 415, "\(type)")
            }
            #expect(try await send("POST", "/api/uploads", ["content-type": "application/json; charset=utf-8"], upload) == 201)
        }
    }

    @Test func eventStreamsPastTheCapGet503WithRetryAfter() async throws {
        let state = try await makeState { $0.maxEventStreams = 1 }
        let app = buildApplication(state)
        try await app.test(.live) { client in
            let (created, body) = try await client.json(.post, "/api/uploads",
                                                        #"{"filename":"a.mp4","size":100,"contentType":"video/mp4","lastModified":1}"#)
            #expect(created == 201)
            let id = try #require(body["videoId"] as? String)
            // Each request on its own connection (libcurl): the first stream stays open
            // (the video is UPLOADING), the second is refused.
            let base = "http://127.0.0.1:\(try #require(client.port))"
            let open = Task { try await Self.request("GET", base + "/api/videos/\(id)/events", timeout: 60).status }
            var refused = HTTPTransfer.Response(status: 0, headers: [:], body: Data())
            for _ in 0..<50 where refused.status != 503 {
                try await Task.sleep(for: .milliseconds(100))
                refused = try await Self.request("GET", base + "/api/videos/\(id)/events")
            }
            #expect(refused.status == 503 && refused.headers["retry-after"] == "5")
            // A stream for a video that stops existing ends (at the next recheck of the row),
            // and its slot is free again.
            let owner = try #require(body["ownerToken"] as? String)
            let aborted = try await Self.request("DELETE", base + "/api/uploads/\(id)", ["authorization": "Bearer \(owner)"])
            #expect(aborted.status == 204)
            #expect(try await open.value == 200)
            for _ in 0..<40 where state.eventStreams.inUse != 0 { try await Task.sleep(for: .milliseconds(50)) }
            #expect(state.eventStreams.inUse == 0)
        }
    }
}
