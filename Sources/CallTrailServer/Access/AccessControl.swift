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
/// Open or not: until the first token is made, a server bound to loopback only serves openly (the README's first
/// run), and says so; `--insecure-no-auth` serves openly anywhere. With mutual TLS (`--tls-client-ca`) and no token
/// ever made, the client's certificate is the credential: every client the handshake let in is served, named by its
/// certificate. Otherwise every route but `/health` (and `/ready`, `/metrics` with `--metrics-open`) needs a token
/// with its scope.
///
/// Every refusal is counted in the log (`AccessRecorder`) and, past a few from one address, answered slowly
/// (`FailureThrottle`).
package final class AccessControl: Service, Sendable {
    package let store: PostgresTokenStore
    let loopbackOnly: Bool
    let insecureNoAuth: Bool
    let metricsOpen: Bool
    /// Whether the TLS handshake verifies client certificates (`--tls-client-ca`).
    let clientCertificates: Bool
    let recorder: AccessRecorder
    let throttle: FailureThrottle
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

    init(
        store: PostgresTokenStore, loopbackOnly: Bool, insecureNoAuth: Bool, metricsOpen: Bool,
        clientCertificates: Bool = false, ctisvrAllow: [AddressRange] = [], recorder: AccessRecorder,
        throttle: FailureThrottle = FailureThrottle(), logger: Logger
    ) {
        self.ctisvrAllow = ctisvrAllow
        self.clientCertificates = clientCertificates
        self.recorder = recorder
        self.throttle = throttle
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

    /// Whether the feed's WebSocket upgrade may go ahead: who it admits, or why not. Its token (header,
    /// `access_token` or `bearer.` entry) must hold `feed`, unless it asks for `format=ctisvr` from an address
    /// `--ctisvr-allow` lists (logged with the address). A refusal is answered as any route's would be, and counted.
    @Sendable func feedAdmission(
        uri: String, authorization: String?, protocols: String?, remote: SocketAddress?, certificate: String?
    ) -> Result<Caller, AccessRefusal> {
        let query = URLComponents(string: uri)?.queryItems ?? []
        let secret = AccessMiddleware<CallTrailRequestContext>.secret(
            authorization: authorization, isFeed: true,
            accessToken: query.first { $0.name == "access_token" }?.value, protocols: protocols)
        let decision = decide(secret: secret, scope: .feed, certificate: certificate)
        guard let refusal = AccessRefusal(decision) else {
            if case .allowed(let caller) = decision { return .success(caller) }
            return .success(.open)
        }
        if query.first(where: { $0.name == "format" })?.value == "ctisvr",
            let range = ctisvrAllow.first(where: { $0.contains(remote) })
        {
            let address = remote?.ipAddress ?? "?"
            logger.notice(
                "a ctiSVR client connected by its address, without a token",
                metadata: ["address": "\(address)", "allowed_by": "\(range)"])
            return .success(.address(address))
        }
        return .failure(refusal.slowed(refused(decision, address: remote, path: FeedServerChannel.feedPath)))
    }

    /// Counts a refusal for the log and says when to answer it: an address that keeps presenting secrets that do
    /// not work is answered ever more slowly (`FailureThrottle`).
    func refused(_ decision: Decision, address: SocketAddress?, path: String) -> FailureThrottle.Verdict {
        let address = address?.ipAddress ?? "unknown"
        switch decision {
        case .allowed:
            return .answer(after: .zero)
        case .unauthorized(_, let token, let scope, let presented):
            recorder.refused(.init(address: address, status: 401, token: token, scope: scope.rawValue), path: path)
            // Only a secret that does not work is a guess worth slowing; a request without one is not.
            return presented ? throttle.failed(address) : .answer(after: .zero)
        case .forbidden(let scope, let token):
            recorder.refused(.init(address: address, status: 403, token: token, scope: scope.rawValue), path: path)
            return .answer(after: .zero)
        }
    }

    /// Feed connections open, each with who was admitted and how to close it: a token revoked or expired ends its
    /// feeds, and the first token made ends the feeds admitted openly or by a certificate alone.
    private let openFeeds = Mutex<[Int: (caller: Caller, close: @Sendable (String) -> Void)]>([:])
    private let nextFeed = Mutex(0)

    /// Watches a feed connection admitted as `caller`; `close` ends it with a reason. Returns the id to `unwatch`.
    func watch(_ caller: Caller, close: @escaping @Sendable (String) -> Void) -> Int {
        let id = nextFeed.withLock { next in
            next += 1
            return next
        }
        openFeeds.withLock { $0[id] = (caller, close) }
        return id
    }

    /// Whether `caller`, admitted earlier, would still be admitted now.
    func stillAdmits(_ caller: Caller, valid: Set<String>) -> Bool {
        switch caller {
        case .open: isOpen
        case .certificate: certificatesAdmit
        case .address: true
        case .token(let name): valid.contains(name)
        }
    }

    /// Whether `caller` may do what `scope` allows: for the ctiSVR feed's user-data verbs, which a `feed` token alone
    /// does not cover. A ctiSVR desktop admitted by its address may use them, as it did with ctiSVR.
    func allows(_ caller: Caller, _ scope: Scope, at time: Date = Date()) -> Bool {
        switch caller {
        case .open: return isOpen
        case .certificate: return certificatesAdmit
        case .address: return scope == .userdataRead || scope == .userdataWrite
        case .token(let name):
            return state.withLock { state in
                state.tokens.contains { $0.name == name && $0.isValid(at: time) && scope.isGranted(by: $0.scopes) }
            }
        }
    }

    func unwatch(_ id: Int) {
        _ = openFeeds.withLock { $0.removeValue(forKey: id) }
    }

    /// Closes the feeds whose caller would no longer be admitted.
    private func closeFeedsOfInvalidTokens() {
        let now = Date()
        let valid = state.withLock { Set($0.tokens.filter { $0.isValid(at: now) }.map(\.name)) }
        let watched = openFeeds.withLock { $0 }
        let ids = watched.filter { !stillAdmits($0.value.caller, valid: valid) }.map(\.key)
        let closing = openFeeds.withLock { feeds in ids.compactMap { feeds.removeValue(forKey: $0) } }
        for feed in closing {
            switch feed.caller {
            case .token(let name):
                logger.notice("closing a feed whose token was revoked or expired", metadata: ["token": "\(name)"])
                feed.close("the token \(name) was revoked or has expired")
            default:
                logger.notice("closing a feed admitted without a token: a token now exists")
                feed.close("a token is needed now: connect again with one")
            }
        }
    }

    /// Whether any token that can still be used is defined.
    var hasTokens: Bool {
        let now = Date()
        return state.withLock { $0.tokens.contains { $0.isValid(at: now) } }
    }

    /// Whether any token was ever made (revoked and expired ones count): what ends serving openly on loopback and
    /// admission by certificate alone.
    var hasEverHadTokens: Bool { state.withLock { !$0.tokens.isEmpty } }

    /// Whether requests are served without a token: `--insecure-no-auth`, or loopback before the first token is
    /// made. Once one is made, the server never opens again by itself, even when every token is revoked or expires:
    /// revoking the last token (which the API lets an admin do) must not hand every scope to whoever can reach the
    /// port. `calltrail tokens create` on the server's machine makes a new one.
    package var isOpen: Bool { insecureNoAuth || (loopbackOnly && !clientCertificates && !hasEverHadTokens) }

    /// How requests are admitted now, as `/ready` says it: `open` (with why), `client certificates` or `tokens`.
    var mode: String {
        if insecureNoAuth { return "open: --insecure-no-auth" }
        if isOpen { return "open: no token was ever made and the server listens on loopback only" }
        if certificatesAdmit { return "client certificates: no token was ever made" }
        return "tokens"
    }

    /// Whether a client's certificate is its credential: mutual TLS and no token ever made. Once one is made,
    /// certificates only decide who may connect, even after every token is revoked or expires: a certificate
    /// holder is never handed every scope again by a token running out.
    var certificatesAdmit: Bool { clientCertificates && !insecureNoAuth && !hasEverHadTokens }

    /// What a request gets.
    enum Decision: Equatable {
        /// Served, and who it came from.
        case allowed(Caller)
        /// No valid token; the token's name when the secret is one CallTrail knows (revoked or expired), and whether
        /// a secret was presented at all.
        case unauthorized(String, token: String?, scope: Scope, presented: Bool)
        case forbidden(Scope, token: String)
    }

    /// Decides a request that needs `scope` (nil: an open route) and carries `secret` (nil: none), on a connection
    /// whose client certificate has `certificate` as its subject (mutual TLS only).
    func decide(secret: String?, scope: Scope?, certificate: String? = nil, at time: Date = Date()) -> Decision {
        guard let scope, !isOpen else { return .allowed(.open) }
        if certificatesAdmit, let certificate { return .allowed(.certificate(certificate)) }
        guard let secret, !secret.isEmpty else {
            return .unauthorized(
                "this request needs a token with the scope \(scope.rawValue): Authorization: Bearer TOKEN", token: nil,
                scope: scope, presented: false)
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
            return .unauthorized(
                "the token is not valid: unknown, revoked or expired", token: token?.name, scope: scope, presented: true
            )
        }
        guard scope.isGranted(by: token.scopes) else { return .forbidden(scope, token: token.name) }
        return .allowed(.token(token.name))
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
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
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
                logger.debug("could not read the tokens again", metadata: ["error": "\(LoggedError(error))"])
            }
        }
    }
}

/// A request refused for want of a token or of a scope, as the answer gives it.
struct AccessRefusal: Error, Sendable, Equatable {
    var status: HTTPResponse.Status
    var message: String
    /// How long to wait before answering (`FailureThrottle`).
    var delay: Duration = .zero
    /// For `429`: when to come back, in seconds.
    var retryAfter: Int?

    /// The refusal as the throttle's verdict has it answered: after a delay, or at once as `429`.
    func slowed(_ verdict: FailureThrottle.Verdict) -> AccessRefusal {
        var refusal = self
        switch verdict {
        case .answer(let after):
            refusal.delay = after
        case .tooMany(let retryAfter):
            refusal.status = .tooManyRequests
            refusal.message = "too many requests with a token that does not work from this address; try again later"
            refusal.retryAfter = max(1, Int(retryAfter.seconds.rounded(.up)))
        }
        return refusal
    }

    init?(_ decision: AccessControl.Decision) {
        switch decision {
        case .allowed: return nil
        case .unauthorized(let why, _, _, _): (status, message) = (.unauthorized, why)
        case .forbidden(let scope, let token):
            (status, message) = (.forbidden, "the token \(token) lacks the scope \(scope.rawValue) this request needs")
        }
    }
}
