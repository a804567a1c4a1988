import Hummingbird

/// The body of `GET /metrics`: Prometheus's text format.
public struct MetricsExposition: ResponseGenerator {
    public init() {}

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(string: MetricsExport.exposition())))
    }
}
