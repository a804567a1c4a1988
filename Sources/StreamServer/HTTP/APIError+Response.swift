import Foundation
import Hummingbird

extension APIError: HTTPResponseError {
    public var status: HTTPResponse.Status { .init(code: statusCode) }

    /// Renders `{"error": "..."}` with the status.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = (try? JSONEncoder().encode(self)) ?? Data("{\"error\":\"\"}".utf8)
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        if let allow { headers[.allow] = allow }
        if statusCode == 401 { headers[.wwwAuthenticate] = "Bearer realm=\"vstream\"" }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}
