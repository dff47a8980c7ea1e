import Foundation
import HTTPTypes
import Hummingbird

/// Checks every request against `AccessControl` before its route sees it: `401` (with `WWW-Authenticate: Bearer`)
/// without a valid token, `403` naming the scope a valid token lacks. The message never holds the secret.
struct AccessMiddleware<Context: RequestContext>: RouterMiddleware {
    let access: AccessControl

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let scope = AccessPolicy.scope(method: request.method, path: request.uri.path, metricsOpen: access.metricsOpen)
        guard let refusal = AccessRefusal(access.decide(secret: Self.secret(request), scope: scope)) else {
            return try await next(request, context)
        }
        var error = APIError(refusal.status, refusal.message)
        if refusal.status == .unauthorized { error.headers[.wwwAuthenticate] = "Bearer realm=\"calltrail\"" }
        throw error
    }

    /// The token a request carries: `Authorization: Bearer TOKEN`; for the feed (browsers cannot set headers on a
    /// WebSocket) also `access_token=TOKEN` in the query or a `Sec-WebSocket-Protocol` entry `bearer.TOKEN`.
    static func secret(_ request: Request) -> String? {
        secret(
            authorization: request.headers[.authorization], isFeed: request.uri.path == "/v1/feed",
            accessToken: request.uri.queryParameters.get("access_token"),
            protocols: request.headers[.secWebSocketProtocol])
    }

    static func secret(authorization: String?, isFeed: Bool, accessToken: String?, protocols: String?) -> String? {
        if let authorization {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" { return String(parts[1]) }
            return nil
        }
        guard isFeed else { return nil }
        if let accessToken { return accessToken }
        for entry in (protocols ?? "").split(separator: ",") {
            let entry = entry.trimmingCharacters(in: .whitespaces)
            if entry.hasPrefix("bearer.") { return String(entry.dropFirst("bearer.".count)) }
        }
        return nil
    }
}
