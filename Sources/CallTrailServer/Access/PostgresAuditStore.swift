import Foundation
import Logging
import PostgresNIO
import TSAPI

/// Reads the audit from the log: user-data changes and access control's events in a time range, optionally only
/// those of one token (the token that made the change, was made or revoked, or was refused).
package struct PostgresAuditStore: Sendable {
    let client: PostgresClient
    let logger: Logger

    package init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    package struct Query: Sendable {
        var token: String?
        var from: Date
        var to: Date
        /// Only entries after this log position (the previous page's `next`).
        var after: Int64
        var limit: Int
    }

    package struct Row: Sendable {
        var position: Int64
        var type: String
        var time: Date
        var body: String
    }

    /// The entries in log order. The types are written out in the statement (not bound), so PostgreSQL can use the
    /// partial index `event_bodies_audit` (migration 0012).
    func entries(_ query: Query) async throws -> [Row] {
        var rows: [Row] = []
        let result = try await client.query(
            """
            SELECT l.position, b.type, b.time, b.body::text
            FROM event_bodies b JOIN event_log l ON l.ref = b.ref
            WHERE b.type IN ('CALLTRAIL_USERDATA_SET', 'CALLTRAIL_USERDATA_REPLACED', 'CALLTRAIL_USERDATA_MERGED',
                             'CALLTRAIL_USERDATA_DELETED', 'CALLTRAIL_CALL_USERDATA_SET', 'CALLTRAIL_TOKEN_CREATED',
                             'CALLTRAIL_TOKEN_REVOKED', 'CALLTRAIL_ACCESS_REFUSED')
              AND b.time >= \(query.from) AND b.time < \(query.to) AND l.position > \(query.after)
              AND (\(query.token)::text IS NULL
                   OR b.body -> 'access' ->> 'token' = \(query.token)
                   OR b.body -> 'access' -> 'by' ->> 'token' = \(query.token)
                   OR b.body -> 'userdata' -> 'by' ->> 'token' = \(query.token))
            ORDER BY l.position
            LIMIT \(query.limit)
            """, logger: logger)
        for try await (position, type, time, body) in result.decode((Int64, String, Date, String).self) {
            rows.append(Row(position: position, type: type, time: time, body: body))
        }
        return rows
    }
}
