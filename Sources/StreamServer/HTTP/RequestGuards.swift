import Foundation
import Hummingbird
import Synchronization

/// Which `Host` headers the server answers (421 otherwise), against DNS rebinding: a page
/// on an attacker's domain that re-points its name at 127.0.0.1 reaches us with *its* name
/// in `Host`. Allowed: the listen address, localhost, 127.0.0.1, ::1, the host of
/// `PUBLIC_BASE_URL`, `VSTREAM_ALLOWED_HOSTS`, and any IP literal (rebinding always
/// arrives with a DNS name, so an address typed by a person is safe). A request with no
/// Host header (HTTP/1.0, in-process tests) passes.
struct HostAllowlist: Sendable {
    let hosts: Set<String>

    init(configuration: ServerConfiguration) {
        var hosts: Set<String> = ["localhost", "127.0.0.1", "::1", configuration.host.lowercased()]
        if let base = configuration.publicBaseURL.flatMap(URL.init(string:))?.host { hosts.insert(base.lowercased()) }
        for host in configuration.allowedHosts { hosts.insert(host.lowercased()) }
        self.hosts = hosts
    }

    func allows(_ header: String?) -> Bool {
        guard let header, !header.isEmpty else { return true }
        let name = Self.name(of: header)
        return hosts.contains(name) || Self.isIPLiteral(name)
    }

    /// "example.com:8080" → "example.com"; "[::1]:8080" → "::1".
    static func name(of header: String) -> String {
        let lower = header.lowercased()
        if lower.hasPrefix("["), let close = lower.firstIndex(of: "]") {
            return String(lower[lower.index(after: lower.startIndex)..<close])
        }
        return String(lower.split(separator: ":", maxSplits: 1).first ?? "")
    }

    static func isIPLiteral(_ name: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, name, &v4) == 1 || inet_pton(AF_INET6, name, &v6) == 1
    }
}

/// Refuses what a browser could be tricked into sending: a Host of another name (421),
/// and an API body that is not declared JSON (415). A method a known path does not
/// answer gets 405 with `Allow`. A cross-site `<form>` can only send
/// `text/plain`, `multipart/form-data` or `application/x-www-form-urlencoded` without a
/// CORS preflight, so requiring `application/json` keeps such forms from creating or
/// completing uploads. Part bodies (PUT) are bytes and are exempt.
struct RequestGuardMiddleware<Context: RequestContext>: RouterMiddleware {
    let hosts: HostAllowlist

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if path != "/healthz", !hosts.allows(request.head.authority) {
            throw APIError(421, "this server does not answer for that host name")
        }
        // A known path, a method it does not answer: 405 with Allow (Hummingbird says 404).
        if let methods = AllowedMethods.methods(for: path),
           !methods.contains(request.method), !(request.method == .head && methods.contains(.get)) {
            throw APIError(405, "method \(request.method.rawValue) is not allowed here",
                           allow: methods.map(\.rawValue).joined(separator: ", "))
        }
        // A caption file may come as itself (text/vtt, application/x-subrip, text/plain…):
        // its route reads the content, whatever it is declared to be.
        if path.hasPrefix("/api/"), request.method == .post || request.method == .patch,
           Self.hasBody(request.headers), !Self.isJSON(request.headers[.contentType]), !path.hasSuffix("/captions") {
            throw APIError.unsupportedMediaType("the request body must be JSON (Content-Type: application/json)")
        }
        return try await next(request, context)
    }

    /// A request without a body (`POST …/playback`) has nothing to declare.
    static func hasBody(_ headers: HTTPFields) -> Bool {
        if headers[.transferEncoding] != nil { return true }
        return (headers[.contentLength].flatMap(Int.init) ?? 0) > 0
    }

    static func isJSON(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        let media = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        return media == "application/json"
    }
}

/// A cap on concurrent SSE streams per server (`VSTREAM_MAX_EVENT_STREAMS`): each holds a
/// connection and a subscription, so past the cap a client is told to come back later.
final class EventStreamSlots: Sendable {
    let limit: Int
    private let used = Atomic<Int>(0)

    init(limit: Int) { self.limit = max(1, limit) }

    /// A taken slot, given back when the last reference goes: after the stream ends, and
    /// also when a response is dropped before its body ever runs (a client gone early).
    final class Slot: Sendable {
        private let slots: EventStreamSlots
        fileprivate init(_ slots: EventStreamSlots) { self.slots = slots }
        deinit { slots.release() }
    }

    /// A slot, or nil when all are taken.
    func take() -> Slot? { acquire() ? Slot(self) : nil }

    /// Takes a slot; false when all are taken.
    private func acquire() -> Bool {
        while true {
            let current = used.load(ordering: .relaxed)
            guard current < limit else { return false }
            if used.compareExchange(expected: current, desired: current + 1, ordering: .acquiringAndReleasing).exchanged { return true }
        }
    }

    private func release() { used.subtract(1, ordering: .acquiringAndReleasing) }
    var inUse: Int { used.load(ordering: .relaxed) }
}
