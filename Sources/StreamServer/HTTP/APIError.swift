/// An error the API answers with: an HTTP status and `{"error": "..."}`.
public struct APIError: Error, Sendable, Equatable, Encodable {
    public var statusCode: Int
    public var error: String
    /// Seconds for a `Retry-After` header (503, 429).
    public var retryAfter: Int?
    /// The methods for an `Allow` header (405).
    public var allow: String?

    public init(_ status: Int, _ message: String, retryAfter: Int? = nil, allow: String? = nil) {
        self.statusCode = status
        self.error = message
        self.retryAfter = retryAfter
        self.allow = allow
    }

    enum CodingKeys: String, CodingKey { case error }

    public static func badRequest(_ message: String) -> APIError { APIError(400, message) }
    /// 401: the answer carries `WWW-Authenticate: Bearer`.
    public static func unauthorized(_ message: String) -> APIError { APIError(401, message) }
    public static func forbidden(_ message: String) -> APIError { APIError(403, message) }
    public static func notFound(_ message: String) -> APIError { APIError(404, message) }
    public static func conflict(_ message: String) -> APIError { APIError(409, message) }
    public static func tooLarge(_ message: String) -> APIError { APIError(413, message) }
    public static func unsupportedMediaType(_ message: String) -> APIError { APIError(415, message) }
}
