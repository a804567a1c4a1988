import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import StreamServer

/// Who may upload when anonymous uploads are off; the per-caller limits (uploads an hour,
/// bytes in UPLOADING), on one node and on two nodes sharing Redis; CORS for apps.
@Suite("Access limits and CORS", .serialized)
struct AccessLimitsTests {
    @Test func withAnonymousUploadsOffOnlyKeysAndUsersUpload() async throws {
        let callers = try await Callers.make()
        let state = try await makeState { configuration in
            try Callers.configure(&configuration)
            configuration.access.anonymousUploadsSetting = nil  // the default: off, as keys are set
        }
        #expect(state.access.configuration.anonymousUploads == false)
        try await buildApplication(state).test(.router) { client in
            let body = #"{"filename":"a.mp4","size":1000,"contentType":"video/mp4","lastModified":1}"#
            let refused = try await client.send(.post, "/api/uploads", as: nil, body)
            #expect(refused.status == 401 && refused.headers[.wwwAuthenticate] != nil)
            #expect(try await client.send(.post, "/api/uploads", as: OwnerToken.make(), body).status == 401)
            let user = try await client.send(.post, "/api/uploads", as: callers.alice, body)
            #expect(user.status == 201 && user.object["ownerToken"] == nil, "a JWT user owns it by subject")
            #expect(try await client.send(.post, "/api/uploads", as: callers.key, body).status == 201)
        }
        // The embedded default, with nothing configured, takes anonymous uploads.
        #expect(try await makeState().access.configuration.anonymousUploads == true)
    }

    @Test func uploadsPerHourAndBytesInFlightArePerCaller() async throws {
        let callers = try await Callers.make()
        let state = try await makeState { configuration in
            try Callers.configure(&configuration)
            configuration.access.uploadsPerHour = 2
            configuration.access.uploadQuotaBytes = 25 << 20
        }
        try await buildApplication(state).test(.router) { client in
            _ = try await client.createUpload(as: nil)
            _ = try await client.createUpload(as: nil)
            let limited = try await client.send(.post, "/api/uploads", as: nil,
                #"{"filename":"a.mp4","size":1000,"contentType":"video/mp4","lastModified":1}"#)
            #expect(limited.status == 429)
            let retryAfter = try #require(limited.headers[.retryAfter].flatMap(Int.init))
            #expect((1...3600).contains(retryAfter))
            // Another caller has a count of its own; a key has no limit.
            _ = try await client.createUpload(as: callers.alice)
            for _ in 0..<5 { _ = try await client.createUpload(as: callers.key) }
            // Bytes in UPLOADING at once: bob may have 25 MiB in flight, not 30.
            _ = try await client.createUpload(as: callers.bob, size: 20 << 20)
            let over = try await client.send(.post, "/api/uploads", as: callers.bob,
                #"{"filename":"b.mp4","size":\#(10 << 20),"contentType":"video/mp4","lastModified":1}"#)
            #expect(over.status == 429 && over.headers[.retryAfter] != nil, "\(over.object)")
            #expect(try await client.createUpload(as: callers.key, size: 100 << 20).id.isEmpty == false)
        }
    }

    /// Two API nodes on one Redis: the hour's count is shared, so a caller cannot double
    /// its limit by alternating nodes.
    @Test func theLimitHoldsAcrossNodesSharingRedis() async throws {
        let redis = try RedisServer()
        defer { redis.stop() }
        let callers = try await Callers.make()
        func node() async throws -> ServerState {
            try await makeState { configuration in
                try Callers.configure(&configuration)
                configuration.redisURL = redis.url
                configuration.embeddedWorker = false
                configuration.access.uploadsPerHour = 3
            }
        }
        let first = try await node(), second = try await node()
        try await buildApplication(first).test(.router) { a in
            try await buildApplication(second).test(.router) { b in
                _ = try await a.createUpload(as: callers.alice)
                _ = try await b.createUpload(as: callers.alice)
                _ = try await a.createUpload(as: callers.alice)
                let body = #"{"filename":"a.mp4","size":1000,"contentType":"video/mp4","lastModified":1}"#
                #expect(try await b.send(.post, "/api/uploads", as: callers.alice, body).status == 429)
                #expect(try await a.send(.post, "/api/uploads", as: callers.alice, body).status == 429)
                #expect(try await b.send(.post, "/api/uploads", as: callers.bob, body).status == 201)
            }
        }
        let connection = try RedisConnection(url: redis.url)
        let key = "vstream:ratelimit:uploads:user:alice"
        #expect(try connection.command("ZCARD", key).count == 3, "the admitted uploads are counted, the refused ones not")
        #expect(try connection.command("TTL", key).count > 3600, "it expires once its window has passed")
    }

    /// The limit is a sliding window: never more than N uploads in any 60 minutes. With a
    /// window on the clock hour, N at 10:59 and N more at 11:00 all passed (issue 20's
    /// probe made 24 uploads in 29 minutes at a limit of 12). Both counters, the node's
    /// and Redis's, are held to it.
    @Test func nPlusOneUploadsStraddlingAClockHourGet429() async throws {
        let redis = try RedisServer()
        defer { redis.stop() }
        let counters: [any RateCounter] = [InProcessRateCounter(), RedisRateCounter(client: RedisClient(url: redis.url))]
        let hour = 3600.0 * 490_000  // some clock hour, hh:00:00
        for counter in counters {
            let limiter = UploadRateLimiter(perHour: 3, counter: counter)
            for second in [-60.0, -50, -40] {  // hh-1:59:00 … hh-1:59:20
                try await limiter.admit("ip:192.0.2.7", now: Date(timeIntervalSince1970: hour + second))
            }
            // hh:00:30, a new clock hour: still the same 60 minutes.
            do {
                try await limiter.admit("ip:192.0.2.7", now: Date(timeIntervalSince1970: hour + 30))
                Issue.record("the fourth upload within an hour was admitted by \(type(of: counter))")
            } catch let refusal as APIError {
                #expect(refusal.statusCode == 429)
                // The oldest counted upload (hh-1:59:00) leaves the window at hh:59:00.
                #expect(refusal.retryAfter == 3600 - 90, "Retry-After says when the oldest leaves the window")
            }
            // Another caller is not held by it; and once the oldest has left, one more passes.
            try await limiter.admit("ip:192.0.2.8", now: Date(timeIntervalSince1970: hour + 30))
            try await limiter.admit("ip:192.0.2.7", now: Date(timeIntervalSince1970: hour + 3540 + 1))
            await #expect(throws: APIError.self) {
                try await limiter.admit("ip:192.0.2.7", now: Date(timeIntervalSince1970: hour + 3540 + 2))
            }
        }
    }

    @Test func onlyListedOriginsMayCallTheAPIFromAPage() async throws {
        let callers = try await Callers.make()
        let state = try await makeState { configuration in
            try Callers.configure(&configuration)
            configuration.access.corsOrigins = ["https://app.example"]
        }
        try await buildApplication(state).test(.router) { client in
            let preflight: HTTPFields = [.origin: "https://app.example", .accessControlRequestMethod: "DELETE",
                                         .accessControlRequestHeaders: "authorization"]
            let allowed = try await client.send(.options, "/api/videos/\(UUID())", as: nil, headers: preflight)
            #expect(allowed.status == 204 && allowed.headers[.accessControlAllowOrigin] == "https://app.example")
            #expect(allowed.headers[.accessControlAllowHeaders]?.contains("Authorization") == true)
            #expect(allowed.headers[.accessControlAllowMethods]?.contains("DELETE") == true)
            var foreign = preflight
            foreign[.origin] = "https://evil.example"
            let refused = try await client.send(.options, "/api/videos/\(UUID())", as: nil, headers: foreign)
            #expect(refused.status == 403 && refused.headers[.accessControlAllowOrigin] == nil)

            let fromApp = try await client.send(.get, "/api/videos?owner=me", as: callers.alice, headers: [.origin: "https://app.example"])
            #expect(fromApp.status == 200 && fromApp.headers[.accessControlAllowOrigin] == "https://app.example")
            let denied = try await client.send(.get, "/api/videos?owner=me", as: nil, headers: [.origin: "https://app.example"])
            #expect(denied.status == 401 && denied.headers[.accessControlAllowOrigin] == "https://app.example",
                    "the app's page can read the refusal")
            let fromElsewhere = try await client.send(.get, "/api/videos", as: nil, headers: [.origin: "https://evil.example"])
            #expect(fromElsewhere.headers[.accessControlAllowOrigin] == nil)
        }
    }
}
