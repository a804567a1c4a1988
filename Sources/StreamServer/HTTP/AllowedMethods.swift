import HTTPTypes

/// The methods each route answers, for a 405 with `Allow` where the router finds no
/// handler for a known path (Hummingbird says 404). Keep in step with the routes and
/// web/openapi.yaml; the schemathesis test fails when they drift.
enum AllowedMethods {
    /// Path patterns, `*` for one segment, and their methods.
    static let routes: [(pattern: [Substring], methods: [HTTPRequest.Method])] = [
        ("healthz", [.get]), ("metrics", [.get]), ("openapi.yaml", [.get]),
        ("api/uploads", [.post]), ("api/uploads/*", [.delete]), ("api/uploads/*/parts", [.get]),
        ("api/uploads/*/sign", [.post]), ("api/uploads/*/parts/*", [.put]), ("api/uploads/*/complete", [.post]),
        ("api/videos", [.get]), ("api/videos/*", [.get, .patch, .delete]), ("api/videos/*/events", [.get]),
        ("api/videos/*/playback", [.post]), ("api/videos/*/captions", [.post]), ("api/videos/*/captions/*", [.delete]),
        ("watch/*", [.get]),
    ].map { ($0.0.split(separator: "/"), $0.1) }

    /// The methods `path` answers, or nil when no route has that shape.
    static func methods(for path: String) -> [HTTPRequest.Method]? {
        let segments = path.split(separator: "/")
        return routes.first { route in
            route.pattern.count == segments.count && zip(route.pattern, segments).allSatisfy { $0 == "*" || $0 == $1 }
        }?.methods
    }
}
