import EventStore
import Foundation
import Hummingbird
import Logging
import Projections

/// Turns every error into the API's JSON error shape at the edge, the one place where errors become statuses:
/// framework errors (unknown route, wrong method) keep their status; an error that says the database is away is a
/// `503` with `Retry-After` (and is recorded, so the next requests are answered at once); anything else unexpected
/// is logged in full and answered with a plain 500.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let availability: DatabaseAvailability
    /// For a `405` with `Allow` when the path exists with other methods.
    let routes: RouteMethods

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let error as ProjectionsError where APIError(error) != nil {
            throw APIError(error)!
        } catch let error as EventStoreError where error.code == .shuttingDown {
            throw APIError(.serviceUnavailable, error.description, retryAfter: 5)
        } catch let error as EventStoreError where error.code == .unavailable {
            throw APIError.unavailable(error)
        } catch let error as any HTTPResponseError {
            let message: String
            switch error.status {
            case .notFound:
                let allowed = routes.allowed(for: request.uri.path)
                if !allowed.isEmpty {
                    var refusal = APIError(
                        .methodNotAllowed,
                        "\(request.method) is not allowed on \(request.uri.path); it answers \(allowed.joined(separator: ", "))"
                    )
                    refusal.headers[.allow] = allowed.joined(separator: ", ")
                    throw refusal
                }
                message = "no such resource: \(request.method) \(request.uri.path)"
            case .methodNotAllowed: message = "\(request.method) is not allowed on \(request.uri.path)"
            default: message = (error as? HTTPError)?.body ?? error.status.reasonPhrase
            }
            throw APIError(error.status, message)
        } catch  where DatabaseAvailability.isOutage(error) {
            availability.record(error)
            context.logger.warning(
                "request failed: the database is away",
                metadata: [
                    "error": "\(LoggedError(error))", "path": "\(request.uri.path)",
                ])
            throw APIError.unavailable(
                availability.unavailableError()
                    ?? EventStoreError.unavailable(since: .now, reason: "\(LoggedError(error))"))
        } catch {
            context.logger.error(
                "request failed", metadata: ["error": "\(LoggedError(error))", "path": "\(request.uri.path)"])
            throw APIError(.internalServerError, "internal error; the server log has the details")
        }
    }
}

/// While the database is away, answers every API request with `503` and `Retry-After` at once, instead of letting
/// it wait for a pool that cannot connect. `/health`, `/ready` and `/metrics` are always served.
struct DatabaseGateMiddleware<Context: RequestContext>: RouterMiddleware {
    let availability: DatabaseAvailability

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        if let unavailable = availability.unavailableError(), request.uri.path.hasPrefix("/v1/"),
            !request.uri.path.hasPrefix("/v1/links")
        {
            throw APIError.unavailable(unavailable)
        }
        return try await next(request, context)
    }
}
