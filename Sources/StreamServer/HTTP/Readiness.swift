import Foundation
import Hummingbird

/// `GET /readyz`: whether each dependency answers within `VSTREAM_DEPENDENCY_TIMEOUT_SECONDS`:
/// the metadata store, Redis (when configured) and storage. 200 when all do, 503 with
/// Retry-After and the failing one's reason otherwise. A load balancer takes a node out
/// of rotation on it; `/healthz` only says that the process answers.
struct Readiness {
    let state: ServerState

    struct Report: ResponseEncodable {
        var status: String
        /// "ok", or why the dependency is not ready.
        var dependencies: [String: String]
    }

    func response() async -> Response {
        let timeout = state.configuration.dependencyTimeoutSeconds
        let store = state.store, storage = state.storage
        async let metadata = Self.check("metadata", timeout) { try await store.ping() }
        async let objects = Self.check("storage", timeout) { _ = try await storage.size(key: "readyz/probe") }
        var checks = [await metadata, await objects]
        if case .redis(let redis) = state.jobs {
            checks.append(await Self.check("redis", timeout) { _ = try await redis.probe.perform { try $0.command("PING") } })
        }
        let dependencies = Dictionary(uniqueKeysWithValues: checks.map { ($0.name, $0.result) })
        let ready = checks.allSatisfy { $0.result == "ok" }
        let report = Report(status: ready ? "ready" : "unavailable", dependencies: dependencies)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var headers: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store"]
        if !ready { headers[.retryAfter] = String(max(1, Int(timeout.rounded(.up)))) }
        return Response(status: ready ? .ok : .serviceUnavailable, headers: headers,
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: (try? encoder.encode(report)) ?? Data())))
    }

    /// One dependency's answer within `seconds`: "ok", or a reason fit for an operator
    /// (no host names or credentials).
    static func check(_ name: String, _ seconds: Double,
                      _ probe: @escaping @Sendable () async throws -> Void) async -> (name: String, result: String) {
        do {
            try await Deadline.within(seconds, dependency: name, probe)
            return (name, "ok")
        } catch let stalled as DependencyUnavailable {
            return (name, stalled.description)
        } catch {
            return (name, "unreachable")
        }
    }
}
