import Hummingbird
import Logging
import EventStore

/// Turns every error into the API's JSON error shape at the edge: framework errors (unknown route, wrong
/// method) keep their status; anything unexpected is logged in full and answered with a plain 500.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let error as AppenderError {
            throw APIError(.serviceUnavailable, error.description)
        } catch let error as any HTTPResponseError {
            let message: String
            switch error.status {
            case .notFound: message = "no such resource: \(request.method) \(request.uri.path)"
            case .methodNotAllowed: message = "\(request.method) is not allowed on \(request.uri.path)"
            default: message = (error as? HTTPError)?.body ?? error.status.reasonPhrase
            }
            throw APIError(error.status, message)
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(String(reflecting: error))", "path": "\(request.uri.path)"])
            throw APIError(.internalServerError, "internal error; the server log has the details")
        }
    }
}
