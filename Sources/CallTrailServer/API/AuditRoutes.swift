import Foundation
import Hummingbird
import TSAPI

/// `GET /v1/audit` (scope `admin`): who changed which user-data key when, which tokens were made and revoked, and
/// which requests were refused, in time order, from the events that record them.
///
/// Parameters: `token` (only what that token did or had done to it), `from` and `to` (RFC 3339; the last 24 hours
/// when not given), `after` (the previous page's `next`) and `limit` (1–1000, 100). An entry never holds the data a
/// change wrote: the audit says who and when; the key's history says what.
struct AuditRoutes<Context: RequestContext>: Sendable {
    let store: PostgresAuditStore

    func register(on router: Router<Context>) {
        router.get("/v1/audit") { request, _ in
            let text = request.queryText
            let to = try request.queryTime("to") ?? Date().addingTimeInterval(1)
            let from = try request.queryTime("from") ?? to.addingTimeInterval(-86_400)
            guard from <= to else { throw APIError(.badRequest, "from must not be after to", field: "from") }
            let token = try text("token")
            if let token, !APIToken.isValidName(token) {
                throw APIError(.badRequest, "token must be a token's name (letters, digits, . _ -)", field: "token")
            }
            var after: PostgresAuditStore.Cursor?
            if let value = try text("after") {
                guard let cursor = PostgresAuditStore.Cursor(value) else {
                    throw APIError(
                        .badRequest, "after must be the next of a previous page; got \"\(value)\"", field: "after")
                }
                after = cursor
            }
            let query = PostgresAuditStore.Query(
                token: token, from: from, to: to, after: after,
                limit: Int(try request.queryInteger("limit", default: 100, in: 1...1_000)))
            let rows = try await store.entries(query)
            let page = JSONWriter.object { page in
                page.add("entries", array: rows) { entries, row in entries.object { Self.write(row, to: &$0) } }
                page.add("next", rows.count == query.limit ? rows.last?.cursor.text : nil)
            }
            return Response.json(page)
        }
    }

    /// The name an entry's `action` gives each event type.
    static func action(_ type: EventType?) -> String? {
        switch type {
        case .userDataSet: "userdata.set"
        case .userDataReplaced: "userdata.replace"
        case .userDataMerged: "userdata.merge"
        case .userDataDeleted: "userdata.delete"
        case .callUserDataSet: "userdata.attach"
        case .tokenCreated: "token.create"
        case .tokenRevoked: "token.revoke"
        case .accessRefused: "access.refused"
        default: nil
        }
    }

    /// One entry: the event's id, time and action, then what it recorded (members without a value left out).
    static func write(_ row: PostgresAuditStore.Row, to entry: inout JSONWriter) {
        entry.add("id", row.id)
        entry.add("time", Timestamp.format(row.time))
        entry.add("action", action(EventType(rawValue: row.type)) ?? row.type)
        guard case .object(let members)? = try? JSONTree(parsing: row.details) else { return }
        for member in members {
            if case .null = member.value { continue }
            entry.add(member.key, tree: member.value)
        }
    }
}
