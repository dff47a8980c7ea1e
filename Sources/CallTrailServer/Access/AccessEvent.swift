import Foundation
import TSAPI

/// The events access control writes to the log: a token made, a token revoked, and requests refused. They are
/// the ingest envelope's shape (source and switch `calltrail`, no UCID), with what happened under `access`, so
/// `GET /v1/events` shows them in order with everything else, and the audit reads them back.
package enum AccessEvent {
    /// Who made or revoked a token: the token that asked over HTTP, or the command and the system user.
    package enum Agent: Sendable, Equatable {
        case caller(Caller)
        case command(user: String)

        func write(to by: inout JSONWriter) {
            switch self {
            case .caller(.open): by.add("open", bool: true)
            case .caller(.token(let name)): by.add("token", name)
            case .caller(.certificate(let subject)): by.add("certificate", subject)
            case .caller(.address(let address)): by.add("address", address)
            case .command(let user):
                by.add("command", "calltrail tokens")
                by.add("user", user)
            }
        }
    }

    package static func tokenCreated(
        name: String, scopes: Set<Scope>, expiresAt: Date?, by agent: Agent, at time: Date = Date()
    ) -> IncomingEvent {
        event(.tokenCreated, at: time) { access in
            access.add("token", name)
            access.add("scopes", strings: scopes.map(\.rawValue).sorted())
            access.addIfPresent("expiresAt", expiresAt.map { Timestamp.format($0) })
            access.add("by", object: { agent.write(to: &$0) })
        }
    }

    package static func tokenRevoked(name: String, by agent: Agent, at time: Date = Date()) -> IncomingEvent {
        event(.tokenRevoked, at: time) { access in
            access.add("token", name)
            access.add("by", object: { agent.write(to: &$0) })
        }
    }

    /// Refusals of one kind from one address, counted from `first` to `last`.
    package struct Refusals: Sendable, Equatable, Hashable {
        package var address: String
        package var status: Int
        /// The token presented, when it is one CallTrail knows (revoked, expired, or lacking the scope).
        package var token: String?
        package var scope: String?

        package init(address: String, status: Int, token: String?, scope: String?) {
            self.address = address
            self.status = status
            self.token = token
            self.scope = scope
        }
    }

    package static func accessRefused(
        _ refusals: Refusals, count: Int, path: String, first: Date, last: Date
    ) -> IncomingEvent {
        event(.accessRefused, at: last) { access in
            access.add("address", refusals.address)
            access.add("status", number: refusals.status)
            access.addIfPresent("token", refusals.token)
            access.addIfPresent("scope", refusals.scope)
            access.add("path", path)
            access.add("count", number: count)
            access.add("from", Timestamp.format(first))
            access.add("to", Timestamp.format(last))
        }
    }

    private static func event(
        _ type: EventType, at time: Date, _ body: (inout JSONWriter) -> Void
    ) -> IncomingEvent {
        let id = IngestBatchParser.accessIDPrefix + UUID().uuidString.lowercased()
        let json = JSONWriter.object { event in
            event.add("id", id)
            event.add("source", "calltrail")
            event.add("switch", "calltrail")
            event.add("time", Timestamp.format(time))
            event.add("type", type.rawValue)
            event.add("access", object: body)
        }
        return IncomingEvent(
            id: id, source: "calltrail", switchName: "calltrail", seq: nil, time: time, monitor: nil,
            type: type.rawValue, eventType: type, ucid: nil, callID: nil, rawJSON: json)
    }
}
