import Foundation
import HTTPTypes
import Hummingbird
import Metrics
import NIOCore
import Synchronization

/// Checks every request against `AccessControl` before its route sees it: `401` (with `WWW-Authenticate: Bearer`)
/// without a valid token, `403` naming the scope a valid token lacks. The message never holds the secret. A refusal
/// is counted for the log, and an address that keeps failing is answered slowly. A request let through carries its
/// caller in the context, and its reads are counted per token (`calltrail_token_reads_total`).
struct AccessMiddleware<Context: CallerRequestContext>: RouterMiddleware {
    let access: AccessControl
    let reads: TokenReadCounters

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let scope = AccessPolicy.scope(method: request.method, path: request.uri.path, metricsOpen: access.metricsOpen)
        let decision = access.decide(
            secret: Self.secret(request), scope: scope, certificate: ConnectionPeer.certificateSubject)
        guard let refusal = AccessRefusal(decision) else {
            var context = context
            if case .allowed(let caller) = decision { context.caller = caller }
            if let scope, request.method == .get || request.method == .head {
                reads.count(caller: context.caller, scope: scope)
            }
            return try await next(request, context)
        }
        let slowed = refusal.slowed(access.refused(decision, address: context.remoteAddress, path: request.uri.path))
        if slowed.delay > .zero { try? await Task.sleep(for: slowed.delay) }
        var error = APIError(slowed.status, slowed.message, retryAfter: slowed.retryAfter)
        if slowed.status == .unauthorized { error.headers[.wwwAuthenticate] = "Bearer realm=\"calltrail\"" }
        if slowed.status == .tooManyRequests { error.headers[.connection] = "close" }
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

/// `calltrail_token_reads_total{token, scope}`: the reads each token made, by the scope they needed (user data,
/// call contexts, journeys, the log). The counters are kept, so a request costs a dictionary lookup, not a lookup
/// in the metrics registry.
final class TokenReadCounters: Sendable {
    private let counters = Mutex<[String: Counter]>([:])

    func count(caller: Caller, scope: Scope) {
        let label = caller.metricLabel
        let key = label + "\u{0}" + scope.rawValue
        let counter = counters.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = Counter(
                label: "calltrail_token_reads_total", dimensions: [("token", label), ("scope", scope.rawValue)])
            counters[key] = counter
            return counter
        }
        counter.increment()
    }
}
