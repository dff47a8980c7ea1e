import EventStore
import Foundation
import Logging
import PostgresNIO
import TSAPI

/// Reads the audit from the log: user-data changes and access control's events in a time range, optionally only
/// those of one token (the token that made the change, was made or revoked, or was refused).
///
/// It reads `event_bodies` alone, in time order, through the partial index of migration 0012: the log's own order
/// (its positions) would need a lookup of each row in `event_log` by `ref`, which has no index (appends would pay
/// for one), so a page of the audit would read the whole log. Only CallTrail's own events count (`known_type`): a
/// client that posts an event named like one of these has it stored as an unknown type.
package struct PostgresAuditStore: Sendable {
    let client: PostgresClient
    let logger: Logger

    package init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Where a page starts: after the entry at this time with this row (the previous page's last).
    package struct Cursor: Sendable, Equatable {
        /// The time in whole microseconds since 1970, as PostgreSQL keeps it: kept as an integer, because a `Date`
        /// sent back as a bind can come out a microsecond early, and the page would start with the last entry again.
        var microseconds: Int64
        var ref: Int64

        /// As the API shows it: `{microseconds since 1970}.{ref}`.
        var text: String { "\(microseconds).\(ref)" }

        init(time: Date, ref: Int64) {
            self.init(microseconds: Int64((time.timeIntervalSince1970 * 1_000_000).rounded()), ref: ref)
        }

        init(microseconds: Int64, ref: Int64) {
            self.microseconds = microseconds
            self.ref = ref
        }

        init?(_ text: String) {
            let parts = text.split(separator: ".")
            guard parts.count == 2, let microseconds = Int64(parts[0]), let ref = Int64(parts[1]) else { return nil }
            self.init(microseconds: microseconds, ref: ref)
        }

        /// The time as PostgreSQL reads it exactly: `2026-12-02T10:00:00.123456Z`.
        var timestamp: String {
            let (seconds, fraction) = microseconds.quotientAndRemainder(dividingBy: 1_000_000)
            let (whole, part) = fraction < 0 ? (seconds - 1, fraction + 1_000_000) : (seconds, fraction)
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime]
            let text = formatter.string(from: Date(timeIntervalSince1970: Double(whole)))
            return text.dropLast() + "." + String(format: "%06lld", part) + "Z"
        }
    }

    package struct Query: Sendable {
        var token: String?
        var from: Date
        var to: Date
        var after: Cursor?
        var limit: Int
    }

    package struct Row: Sendable {
        var id: String
        var type: String
        var time: Date
        /// What the audit shows of the event: `access` of access control's events; key, call, expiry and `by` of a
        /// user-data change (never its data).
        var details: String
        var cursor: Cursor
    }

    /// The entries in time order. The types are written out in the statement (not bound), so PostgreSQL can use the
    /// partial index `event_bodies_audit`.
    func entries(_ query: Query) async throws -> [Row] {
        let after = query.after ?? Cursor(time: query.from.addingTimeInterval(-1), ref: Int64.max)
        let (afterTime, afterRef) = (after.timestamp, after.ref)
        let client = self.client
        let logger = self.logger
        return try await withDatabaseTimeout(.seconds(10)) {
            var rows: [Row] = []
            let result = try await client.query(
                """
                SELECT b.id, b.type, b.time, b.ref,
                       COALESCE(b.body -> 'access',
                                json_build_object('key', b.body -> 'userdata' -> 'key',
                                                  'ucid', b.body -> 'userdata' -> 'ucid',
                                                  'expiresAt', b.body -> 'userdata' -> 'expiresAt',
                                                  'by', b.body -> 'userdata' -> 'by'))::text
                FROM event_bodies b
                WHERE b.known_type
                  AND b.type IN ('CALLTRAIL_USERDATA_SET', 'CALLTRAIL_USERDATA_REPLACED', 'CALLTRAIL_USERDATA_MERGED',
                                 'CALLTRAIL_USERDATA_DELETED', 'CALLTRAIL_CALL_USERDATA_SET', 'CALLTRAIL_TOKEN_CREATED',
                                 'CALLTRAIL_TOKEN_REVOKED', 'CALLTRAIL_ACCESS_REFUSED')
                  AND b.time >= \(query.from) AND b.time < \(query.to)
                  AND (b.time, b.ref) > (\(afterTime)::timestamptz, \(afterRef))
                  AND (\(query.token)::text IS NULL
                       OR b.body -> 'access' ->> 'token' = \(query.token)
                       OR b.body -> 'access' -> 'by' ->> 'token' = \(query.token)
                       OR b.body -> 'userdata' -> 'by' ->> 'token' = \(query.token))
                ORDER BY b.time, b.ref
                LIMIT \(query.limit)
                """, logger: logger)
            for try await (id, type, time, ref, details) in result.decode((String, String, Date, Int64, String).self) {
                rows.append(Row(id: id, type: type, time: time, details: details, cursor: Cursor(time: time, ref: ref)))
            }
            return rows
        }
    }
}
