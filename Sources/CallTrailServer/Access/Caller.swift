import CallModel
import NIOCore

/// Who access control found a request or a feed connection to come from: what a user-data change records as `by`,
/// what the per-token read metrics count under, and what the audit names.
package enum Caller: Sendable, Equatable {
    /// No credential was needed: loopback without tokens, or `--insecure-no-auth`.
    case open
    /// An API token, by its name.
    case token(String)
    /// A client admitted by its TLS certificate (mutual TLS with no token defined): the certificate's subject.
    case certificate(String)
    /// A ctiSVR desktop admitted by its address (`--ctisvr-allow`).
    case address(String)

    /// The token's name, if a token admitted the caller.
    package var tokenName: String? {
        if case .token(let name) = self { return name }
        return nil
    }

    /// The label of the per-token metrics: the token's name, or `(certificate)`, `(ctisvr)` or `(open)`, in
    /// parentheses that no token's name holds. Certificates and addresses are not labels of their own: their number
    /// has no bound.
    var metricLabel: String {
        switch self {
        case .open: "(open)"
        case .token(let name): name
        case .certificate: "(certificate)"
        case .address: "(ctisvr)"
        }
    }

    /// The `by` of a user-data change: what access control vouches for, beside what the client says of itself.
    func actor(name: String?, userAgent: String?) -> UserDataActor {
        switch self {
        case .open: UserDataActor(name: name, userAgent: userAgent)
        case .token(let token): UserDataActor(token: token, name: name, userAgent: userAgent)
        case .certificate(let subject): UserDataActor(certificate: subject, name: name, userAgent: userAgent)
        case .address(let address): UserDataActor(address: address, name: name, userAgent: userAgent)
        }
    }
}

/// What the connection a request came on says of its client, set for the connection's task by the server channel:
/// the subject of the client's TLS certificate when mutual TLS verified one.
enum ConnectionPeer {
    @TaskLocal static var certificateSubject: String?
}
