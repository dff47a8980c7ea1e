import EventStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// Who may use the API: the tokens, kept in memory (each request is checked without a database round trip) and
/// read again every second, so a token made or revoked by another process (or `calltrail tokens`) counts within
/// a second; one revoked through this process counts at once.
///
/// Open or not: with no token defined and the server bound to loopback only, it serves openly (the README's first
/// run), and says so; `--insecure-no-auth` serves openly anywhere. Otherwise every route but `/health` (and
/// `/ready`, `/metrics` with `--metrics-open`) needs a token with its scope.
package final class AccessControl: Service, Sendable {
    package let store: PostgresTokenStore
    let loopbackOnly: Bool
    let insecureNoAuth: Bool
    let metricsOpen: Bool
    /// Addresses whose feed connections with `format=ctisvr` need no token: legacy ctiSVR desktops, which know
    /// only IP lists.
    let ctisvrAllow: [AddressRange]
    let logger: Logger
    private struct State {
        var tokens: [APIToken] = []
        /// Tokens used since the last write of `last_used_at`.
        var used: Set<String> = []
        /// Tokens revoked through this process, kept revoked over a read of the table that began before the
        /// revocation was committed, until a read shows it.
        var revokedHere: Set<String> = []

        mutating func applyRevocations(at time: Date) {
            for index in tokens.indices where revokedHere.contains(tokens[index].name) {
                if tokens[index].revokedAt == nil {
                    tokens[index].revokedAt = time
                } else {
                    revokedHere.remove(tokens[index].name)
                }
            }
        }
    }
    private let state = Mutex(State())

    package init(
        store: PostgresTokenStore, loopbackOnly: Bool, insecureNoAuth: Bool, metricsOpen: Bool,
        ctisvrAllow: [AddressRange] = [], logger: Logger
    ) {
        self.ctisvrAllow = ctisvrAllow
        self.store = store
        self.loopbackOnly = loopbackOnly
        self.insecureNoAuth = insecureNoAuth
        self.metricsOpen = metricsOpen
        self.logger = logger
    }

    /// Whether `host` is a loopback address: only this machine can reach a server bound to it.
    package static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// Reads the tokens again (after a change made through this process).
    package func load() async throws {
        set(try await store.all())
    }

    /// The tokens as read (at start, before serving, and every second after).
    func set(_ tokens: [APIToken]) {
        state.withLock { state in
            state.tokens = tokens
            state.applyRevocations(at: Date())
        }
    }

    /// Whether the feed's WebSocket upgrade may go ahead: the name of the token that admits it (nil when none was
    /// needed), or why not. Its token (header, `access_token` or `bearer.` entry) must hold `feed`, unless it asks for
    /// `format=ctisvr` from an address `--ctisvr-allow` lists (logged with the address). A refusal is answered as
    /// any route's would be.
    @Sendable func feedAdmission(
        uri: String, authorization: String?, protocols: String?, remote: SocketAddress?
    ) -> Result<String?, AccessRefusal> {
        let query = URLComponents(string: uri)?.queryItems ?? []
        let secret = AccessMiddleware<BasicRequestContext>.secret(
            authorization: authorization, isFeed: true,
            accessToken: query.first { $0.name == "access_token" }?.value, protocols: protocols)
        let decision = decide(secret: secret, scope: .feed)
        guard let refusal = AccessRefusal(decision) else {
            if case .allowed(let token) = decision { return .success(token) }
            return .success(nil)
        }
        if query.first(where: { $0.name == "format" })?.value == "ctisvr",
            let range = ctisvrAllow.first(where: { $0.contains(remote) })
        {
            logger.notice(
                "a ctiSVR client connected by its address, without a token",
                metadata: ["address": "\(remote?.ipAddress ?? "?")", "allowed_by": "\(range)"])
            return .success(nil)
        }
        return .failure(refusal)
    }

    /// Feed connections open under a token, each with how to close it: a token revoked or expired ends them.
    private let openFeeds = Mutex<[Int: (token: String, close: @Sendable (String) -> Void)]>([:])
    private let nextFeed = Mutex(0)

    /// Watches a feed connection admitted by `token`; `close` ends it with a reason. Returns the id to `unwatch`.
    func watch(token: String, close: @escaping @Sendable (String) -> Void) -> Int {
        let id = nextFeed.withLock { next in
            next += 1
            return next
        }
        openFeeds.withLock { $0[id] = (token, close) }
        return id
    }

    func unwatch(_ id: Int) {
        _ = openFeeds.withLock { $0.removeValue(forKey: id) }
    }

    /// Closes the feeds whose token can no longer be used.
    private func closeFeedsOfInvalidTokens() {
        let now = Date()
        let valid = state.withLock { Set($0.tokens.filter { $0.isValid(at: now) }.map(\.name)) }
        let closing = openFeeds.withLock { feeds in
            let ids = feeds.filter { !valid.contains($0.value.token) }.map(\.key)
            return ids.compactMap { feeds.removeValue(forKey: $0) }
        }
        for feed in closing {
            logger.notice("closing a feed whose token was revoked or expired", metadata: ["token": "\(feed.token)"])
            feed.close("the token \(feed.token) was revoked or has expired")
        }
    }

    /// Whether any token that can still be used is defined.
    var hasTokens: Bool {
        let now = Date()
        return state.withLock { $0.tokens.contains { $0.isValid(at: now) } }
    }

    /// Whether requests are served without a token.
    package var isOpen: Bool { insecureNoAuth || (loopbackOnly && !hasTokens) }

    /// What a request gets.
    enum Decision: Equatable {
        /// Served; the token's name, nil when no token was needed.
        case allowed(String?)
        case unauthorized(String)
        case forbidden(Scope, token: String)
    }

    /// Decides a request that needs `scope` (nil: an open route) and carries `secret` (nil: none).
    func decide(secret: String?, scope: Scope?, at time: Date = Date()) -> Decision {
        guard let scope, !isOpen else { return .allowed(nil) }
        guard let secret, !secret.isEmpty else {
            return .unauthorized(
                "this request needs a token with the scope \(scope.rawValue): Authorization: Bearer TOKEN")
        }
        let digest = APIToken.digest(of: secret)
        // Every token is compared, each in constant time: how long the check takes says nothing of the secret.
        let token = state.withLock { state -> APIToken? in
            var found: APIToken?
            for token in state.tokens where APIToken.sameDigest(token.digest, digest) { found = token }
            if let found, found.isValid(at: time) { state.used.insert(found.name) }
            return found
        }
        guard let token, token.isValid(at: time) else {
            return .unauthorized("the token is not valid: unknown, revoked or expired")
        }
        guard scope.isGranted(by: token.scopes) else { return .forbidden(scope, token: token.name) }
        return .allowed(token.name)
    }

    /// A token revoked through this process: refused from now on, before the next read.
    func revoked(_ name: String) {
        state.withLock { state in
            state.revokedHere.insert(name)
            state.applyRevocations(at: Date())
        }
        closeFeedsOfInvalidTokens()
    }

    /// Reads the tokens again every second and writes when they were last used; a database away only delays both.
    package func run() async throws {
        while !Task.isShuttingDownGracefully {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
            let store = self.store
            do {
                let tokens = try await withDatabaseTimeout(.seconds(5)) { try await store.all() }
                set(tokens)
                let used = state.withLock { state in
                    defer { state.used = [] }
                    return state.used
                }
                closeFeedsOfInvalidTokens()
                try await withDatabaseTimeout(.seconds(5)) { try await store.markUsed(Array(used), at: Date()) }
            } catch {
                logger.debug("could not read the tokens again", metadata: ["error": "\(error)"])
            }
        }
    }
}

/// A request refused for want of a token or of a scope, as the answer gives it.
struct AccessRefusal: Error, Sendable, Equatable {
    var status: HTTPResponse.Status
    var message: String

    init?(_ decision: AccessControl.Decision) {
        switch decision {
        case .allowed: return nil
        case .unauthorized(let why): (status, message) = (.unauthorized, why)
        case .forbidden(let scope, let token):
            (status, message) = (.forbidden, "the token \(token) lacks the scope \(scope.rawValue) this request needs")
        }
    }
}
