import Hummingbird

/// Gives every error the API's shape, `{"error": "..."}`: also those raised by
/// Hummingbird itself (FileMiddleware refusing a `..` path, an unknown route).
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            let response = try await next(request, context)
            return response
        } catch let error as APIError {
            throw error
        } catch let stalled as DependencyUnavailable {
            // A stalled database, Redis or storage: try again soon, never a hang.
            context.logger.warning("dependency unavailable", metadata: ["error": "\(stalled)"])
            throw APIError(503, "the service is temporarily unavailable; try again shortly",
                           retryAfter: max(1, Int(stalled.seconds.rounded(.up))))
        } catch let error as any HTTPResponseError {
            throw APIError(Int(error.status.code), error.status.reasonPhrase.lowercased())
        } catch {
            // A storage or database failure: the detail is for the log, not the caller.
            context.logger.error("request failed", metadata: ["error": "\(error)"])
            throw APIError(500, "the server could not complete the request; try again")
        }
    }
}
