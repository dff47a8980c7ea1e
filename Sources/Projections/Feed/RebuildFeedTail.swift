import CallModel
import Logging
import PostgresNIO

/// The feed messages a rebuild makes for events the live feed has not reached yet, staged in a temporary table on
/// the rebuild's own connection, then appended to the feed by the swap, in the swap's transaction, so the feed
/// and the journeys it describes change together.
///
/// Why staged in the database rather than held: when the live feed is far behind the log (a rebuild during a
/// burst, or with no service running), the tail is most of the store's messages. Held in memory and appended in
/// one statement, the tail of a 10-million-event rebuild was a 2.7 GB bind, past PostgreSQL's limit of 2 GB a
/// value, and the process trapped.
struct RebuildFeedTail {
    let connection: PostgresConnection
    let logger: Logger
    /// Event positions per append at the swap (all the messages of one event always go in the same append).
    let eventsPerAppend: Int64
    /// Messages per insert while staging.
    static let rowsPerInsert = 10_000

    init(connection: PostgresConnection, logger: Logger, eventsPerAppend: Int64) {
        self.connection = connection
        self.logger = logger
        self.eventsPerAppend = max(1, eventsPerAppend)
    }

    /// An empty stage, replacing one a failed rebuild may have left on the connection. Needs the TEMP privilege
    /// on the database, which PostgreSQL grants to every role unless it was revoked.
    func create() async throws {
        try await connection.query("DROP TABLE IF EXISTS pg_temp.calltrail_rebuild_feed_tail", logger: logger)
        try await connection.query(
            """
            CREATE TEMP TABLE calltrail_rebuild_feed_tail (
                n bigserial PRIMARY KEY, event_position bigint NOT NULL, kind text NOT NULL, device text NOT NULL,
                ucid text NOT NULL, journey_id text NOT NULL, time timestamptz NOT NULL, body text NOT NULL)
            """, logger: logger)
        try await connection.query("CREATE INDEX ON calltrail_rebuild_feed_tail (event_position)", logger: logger)
    }

    /// Stages messages, in the order the reducer made them.
    func add(_ messages: [FeedMessage]) async throws {
        for start in stride(from: 0, to: messages.count, by: Self.rowsPerInsert) {
            let rows = FeedRows(Array(messages[start..<min(start + Self.rowsPerInsert, messages.count)]))
            try await connection.query(
                """
                INSERT INTO calltrail_rebuild_feed_tail (event_position, kind, device, ucid, journey_id, time, body)
                SELECT e, k, d, u, j, t, b
                FROM unnest(\(rows.eventPositions)::bigint[], \(rows.kinds)::text[], \(rows.devices)::text[],
                            \(rows.ucids)::text[], \(rows.journeyIDs)::text[], \(rows.times)::timestamptz[],
                            \(rows.bodies)::text[]) WITH ORDINALITY AS r(e, k, d, u, j, t, b, i)
                ORDER BY i
                """, logger: logger)
        }
    }

    /// Appends the staged messages of events the live feed has still not reached, a range of event positions at a
    /// time, each range moving the feed's event position to its end, the last to `through`. Runs inside the
    /// caller's transaction on the same connection; the feed's head is locked from the start, as
    /// `calltrail_append_feed` would lock it.
    func append(through: Int64) async throws {
        // Staged messages at or before the feed's head were sent by the live feed while the rebuild ran.
        var after: Int64 = through
        for try await fed in try await connection.query(
            "SELECT event_position FROM feed_head FOR UPDATE", logger: logger
        ).decode(Int64.self) {
            after = fed
        }
        while after < through {
            let upTo = min(after + eventsPerAppend, through)
            for try await _ in try await connection.query(
                """
                SELECT calltrail_append_feed(\(upTo), array_agg(event_position ORDER BY n), array_agg(kind ORDER BY n),
                    array_agg(device ORDER BY n), array_agg(ucid ORDER BY n), array_agg(journey_id ORDER BY n),
                    array_agg(time ORDER BY n), array_agg(body ORDER BY n))
                FROM calltrail_rebuild_feed_tail WHERE event_position > \(after) AND event_position <= \(upTo)
                """, logger: logger)
            {}
            after = upTo
        }
    }

    /// Removes the stage, so the connection goes back to the pool as it came.
    func drop() async {
        _ = try? await connection.query("DROP TABLE IF EXISTS pg_temp.calltrail_rebuild_feed_tail", logger: logger)
    }
}
