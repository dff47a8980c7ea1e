import CallModel
import EventStore
import Foundation
import Logging
import PostgresNIO
import TSAPI

/// The journey read models in PostgreSQL: what the projector writes and what the API reads.
///
/// Rows live in the `projection` schema; a rebuild writes the same tables in `projection_next` and swaps the
/// schemas (migrations/0002_projections.sql). Each row keeps the reducer's whole state of its journey, so the
/// projector restarts from the open rows and the checkpoint alone.
package struct PostgresJourneyStore: Sendable {
    /// The two schemas the projection tables exist in. Schema names cannot be bound parameters, so they are
    /// spliced into SQL from this closed set only.
    package enum Schema: String, Sendable {
        case live = "projection"
        case rebuild = "projection_next"

        var checkpoint: String { self == .live ? "journeys" : "journeys_rebuild" }
    }

    let client: PostgresClient
    let logger: Logger

    package init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    // MARK: - The projector's side

    /// Where a projector stands: the last position its tables include.
    package struct Checkpoint: Sendable, Equatable {
        package var position: Int64
        package var clock: Date?
        package var generation: Int
        /// The `Journey.stateVersion` of the rows.
        package var stateVersion: Int
    }

    package func checkpoint(_ schema: Schema = .live) async throws -> Checkpoint {
        let rows = try await client.query(
            "SELECT position, clock, generation, state_version FROM projection_checkpoints WHERE name = \(schema.checkpoint)",
            logger: logger)
        for try await (position, clock, generation, version) in rows.decode((Int64, Date?, Int, Int).self) {
            return Checkpoint(position: position, clock: clock, generation: generation, stateVersion: version)
        }
        throw ProjectionsError.missingCheckpoint(schema.checkpoint)
    }

    /// Session advisory locks that give work a single owner across processes; the server frees them when the
    /// holder's connection ends.
    package enum Lock: Int64, Sendable {
        /// "CTJourny" in ASCII: the projector.
        case projector = 0x4354_4A6F_7572_6E79
        /// "CTRebild": a rebuild, which owns `projection_next` while it runs.
        case rebuild = 0x4354_5265_6269_6C64
    }

    /// Takes `lock` on a connection the caller keeps for as long as it needs it; false if another holds it.
    package func tryLock(_ lock: Lock, on connection: PostgresConnection) async throws -> Bool {
        for try await locked in try await connection.query(
            "SELECT pg_try_advisory_lock(\(lock.rawValue))", logger: logger
        ).decode(Bool.self) {
            return locked
        }
        return false
    }

    package func unlock(_ lock: Lock, on connection: PostgresConnection) async throws {
        for try await _ in try await connection.query("SELECT pg_advisory_unlock(\(lock.rawValue))", logger: logger) {}
    }

    /// Empties the live tables and puts their checkpoint at position 0 with this build's state version: the
    /// projector then starts over (a running one reloads). For benchmarks and a fresh database.
    package func resetLive() async throws {
        try await client.query("SELECT calltrail_create_projection_tables('projection')", logger: logger)
        try await client.query(
            """
            UPDATE projection_checkpoints
            SET position = 0, clock = NULL, generation = generation + 1, state_version = \(Journey.stateVersion),
                updated_at = now()
            WHERE name = 'journeys'
            """, logger: logger)
    }

    /// How a projection reads the log.
    package enum LogRead: Sendable {
        /// Small pages at the head of the log (the live projector): each row's body is looked up by key, whatever
        /// the planner's statistics. On a database not yet ANALYZEd (its first minute or so) the plain join
        /// hashed the whole of `event_bodies` for every batch, so each batch took longer as the log grew
        /// (141 ms for a page at 41,000 events, against 10 ms this way).
        case head
        /// Large pages from the start (a rebuild): the plain join, which the planner runs in parallel once it has
        /// statistics.
        case replay
    }

    /// The log after `position`: each event's position, and its JSON when it is one a projection reads (a known
    /// type). An event of an unknown type comes without its body, but it comes: the projections' position moves
    /// past it, so a client that wrote one and asks with `minPosition` for its `lastPosition` is answered, not kept
    /// waiting until a known event follows.
    package func events(
        after position: Int64, limit: Int, read: LogRead = .replay
    ) async throws -> [(position: Int64, body: String?)] {
        var events: [(Int64, String?)] = []
        events.reserveCapacity(limit)
        switch read {
        case .head:
            for try await row in try await client.execute(
                HeadEvents(after: position, limit: Int64(limit)), logger: logger)
            {
                events.append(row)
            }
        case .replay:
            let rows = try await client.query(
                """
                SELECT l.position, b.body::text FROM event_log l
                LEFT JOIN event_bodies b ON b.ref = l.ref AND b.known_type
                WHERE l.position > \(position) ORDER BY l.position LIMIT \(limit)
                """, logger: logger)
            for try await row in rows.decode((Int64, String?).self) { events.append(row) }
        }
        return events
    }

    /// The live projector's read, prepared: it runs several times a batch, and parsing and planning it each time
    /// cost PostgreSQL about 0.2 ms a read. The plan stays what the lateral lookup fixes: the log's primary key
    /// in order, each body by its key.
    struct HeadEvents: RowsAfterStatement {
        static let sql = """
            SELECT l.position, b.body::text FROM event_log l
            LEFT JOIN LATERAL (SELECT body FROM event_bodies e WHERE e.ref = l.ref AND e.known_type OFFSET 0) b ON true
            WHERE l.position > $1 ORDER BY l.position LIMIT $2
            """
        var after: Int64
        var limit: Int64

        func decodeRow(_ row: PostgresRow) throws -> (Int64, String?) { try row.decode((Int64, String?).self) }
    }

    package func headPosition() async throws -> Int64 {
        try await PostgresEventStore(client: client, logger: logger).headPosition()
    }

    /// The position of the last event of the call `ucid`, nil when none is stored.
    package func lastPosition(of ucid: UCID) async throws -> Int64? {
        try await PostgresEventStore(client: client, logger: logger).lastPosition(of: ucid)
    }

    /// Journeys from rows of one column, their stored state.
    private static func journeys(_ rows: PostgresRowSequence) async throws -> [Journey] {
        var journeys: [Journey] = []
        for try await state in rows.decode(String.self) {
            journeys.append(try Journey(stateJSON: state))
        }
        return journeys
    }

    /// The journeys a projector needs to carry on from `checkpoint`: open ones, and those ended within `grace`
    /// of its clock (still linkable).
    package func restorableJourneys(
        _ schema: Schema, checkpoint: Checkpoint, grace: TimeInterval
    ) async throws -> [Journey] {
        let horizon = (checkpoint.clock ?? .distantPast).addingTimeInterval(-grace)
        let rows = try await client.query(
            """
            SELECT state::text FROM \(unescaped: schema.rawValue).journeys
            WHERE ended_at IS NULL OR ended_at >= \(horizon)
            """, logger: logger)
        return try await Self.journeys(rows)
    }

    /// Writes what changed up to `position` and moves the checkpoint, in one transaction, provided the
    /// checkpoint still says `expected`: otherwise another projector (or a rebuild's swap) moved it, and the
    /// caller must reload its state.
    /// `feed` is the batch's feed messages, stored with the live tables only: a rebuild hands its last ones to
    /// the swap instead.
    ///
    /// One statement, `calltrail_commit_projection` (migrations/0006_feed_latency.sql): a batch's seven round
    /// trips were most of the time between an event's commit and its feed message. It commits asynchronously,
    /// since all it writes can be projected again from the log; the migration says why that is safe.
    package func commit(
        _ changes: (changed: [Journey], removed: [String]), feed: [FeedMessage] = [], through position: Int64,
        clock: Date,
        expected: Checkpoint, schema: Schema = .live
    ) async throws {
        let rows = JourneyRows(changes.changed)
        let feed = FeedRows(schema == .live ? feed : [])
        let result = try await client.query(
            """
            SELECT calltrail_commit_projection(
                \(schema.rawValue), \(expected.position), \(expected.generation), \(position), \(clock), \(changes.removed),
                \(rows.ids), \(rows.started), \(rows.ended), \(rows.outcomes), \(rows.anis), \(rows.dnises), \(rows.vdns),
                \(rows.splits), \(rows.agents), \(rows.devices), \(rows.lastPositions), \(rows.states),
                \(rows.ucids), \(rows.ucidJourneys),
                \(feed.eventPositions), \(feed.kinds), \(feed.devices), \(feed.ucids), \(feed.journeyIDs), \(feed.times),
                \(feed.bodies))
            """, logger: logger)
        for try await moved in result.decode(Int64?.self) {
            if let found = moved { throw ProjectionsError.checkpointMoved(expected: expected.position, found: found) }
        }
    }

    // MARK: - The API's side

    /// The journey with this id or any of its UCIDs.
    package func journey(id: String) async throws -> Journey? {
        let rows = try await client.query(
            """
            SELECT j.state::text FROM projection.journeys j
            WHERE j.id = (SELECT journey_id FROM projection.journey_ucids WHERE ucid = \(id))
               OR j.id = \(id)
            LIMIT 1
            """, logger: logger)
        return try await Self.journeys(rows).first
    }

    /// The open journeys with `device` among their parties' devices.
    package func openJourneys(device: String) async throws -> [Journey] {
        let rows = try await client.query(
            """
            SELECT state::text FROM projection.journeys
            WHERE ended_at IS NULL AND devices @> ARRAY[\(device)]
            ORDER BY started_at
            """, logger: logger)
        return try await Self.journeys(rows)
    }

    /// The open journeys at `devices` and the feed position they stand at, read in one snapshot: a projector
    /// batch writes its journeys and its feed messages in one statement, so the journeys are exactly the state
    /// after feed message `position`, and the messages after it are the changes since. A desktop's snapshot
    /// of its current calls then neither repeats nor misses what the feed sends next.
    package func currentCalls(devices: Set<String>) async throws -> (position: Int64, journeys: [Journey]) {
        do {
            return try await client.withTransaction(logger: logger) { connection in
                try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", logger: logger)
                var position: Int64 = 0
                for try await value in try await connection.query("SELECT position FROM feed_head", logger: logger)
                    .decode(Int64.self)
                { position = value }
                let rows = try await connection.query(
                    """
                    SELECT state::text FROM projection.journeys
                    WHERE ended_at IS NULL AND devices && \(devices.sorted())::text[]
                    ORDER BY started_at
                    """, logger: logger)
                return (position, try await Self.journeys(rows))
            }
        } catch let error as PostgresTransactionError {
            throw error.closureError ?? error
        }
    }

    /// One page of a journey search, in start order, after `cursor`.
    package func search(_ query: JourneyQuery) async throws -> [Journey] {
        let afterStart = query.cursor?.startedAt ?? .distantPast
        let afterID = query.cursor?.id ?? ""
        let rows = try await client.query(
            """
            SELECT state::text FROM projection.journeys
            WHERE started_at >= \(query.from ?? .distantPast) AND started_at < \(query.to ?? .distantFuture)
              AND (started_at, id) > (\(afterStart), \(afterID))
              AND (\(query.ani)::text IS NULL OR ani = \(query.ani))
              AND (\(query.dnis)::text IS NULL OR dnis = \(query.dnis))
              AND (\(query.vdn)::text IS NULL OR vdn = \(query.vdn))
              AND (\(query.split)::text IS NULL OR split = \(query.split))
              AND (\(query.outcome?.rawValue)::text IS NULL OR outcome = \(query.outcome?.rawValue))
              AND (\(query.device)::text IS NULL OR devices @> ARRAY[\(query.device)]::text[])
              AND (\(query.agent)::text IS NULL OR (devices @> ARRAY[\(query.agent)]::text[] AND \(query.agent) = ANY(agents)))
              AND (\(query.ucid)::text IS NULL OR id = (SELECT journey_id FROM projection.journey_ucids WHERE ucid = \(query.ucid)))
            ORDER BY started_at, id
            LIMIT \(query.limit)
            """, logger: logger)
        return try await Self.journeys(rows)
    }
}

/// A journey search (docs/api.md): every filter optional, pages in start order.
package struct JourneyQuery: Sendable {
    package var from: Date?
    package var to: Date?
    package var ani: String?
    package var dnis: String?
    package var vdn: String?
    package var split: String?
    package var device: String?
    package var agent: String?
    package var outcome: Outcome?
    package var ucid: String?
    package var limit: Int
    package var cursor: Cursor?

    package init(limit: Int) { self.limit = limit }

    /// Where a page ended: the last journey's start and id, the order's key.
    package struct Cursor: Sendable, Equatable {
        package var startedAt: Date
        package var id: String

        package init(startedAt: Date, id: String) {
            self.startedAt = startedAt
            self.id = id
        }

        /// `<microseconds since 1970>.<id>`: opaque to clients, readable to operators.
        package var text: String {
            "\(Int64((startedAt.timeIntervalSince1970 * 1_000_000).rounded())).\(id)"
        }

        package init?(text: String) {
            // A time this API can have written: years 1 to 9999, as RFC 3339 writes them (PostgreSQL refuses some
            // times outside them, which would otherwise reach it from a forged cursor).
            guard let dot = text.firstIndex(of: "."), let micros = Int64(text[..<dot]),
                (-62_135_596_800_000_000...253_402_300_799_999_999).contains(micros)
            else { return nil }
            self.startedAt = Date(timeIntervalSince1970: Double(micros) / 1_000_000)
            self.id = String(text[text.index(after: dot)...])
            guard !id.isEmpty else { return nil }
        }
    }
}

/// Changed journeys as column arrays, for one multi-row upsert.
struct JourneyRows {
    var ids: [String] = []
    var started: [Date] = []
    /// Seconds since 1970, or -1 while the journey goes on (PostgresNIO arrays cannot hold NULL).
    var ended: [Double] = []
    var outcomes: [String] = []
    var anis: [String] = []
    var dnises: [String] = []
    var vdns: [String] = []
    var splits: [String] = []
    var agents: [String] = []
    var devices: [String] = []
    var lastPositions: [Int64] = []
    var states: [String] = []
    var ucids: [String] = []
    var ucidJourneys: [String] = []

    init(_ journeys: [Journey]) {
        for journey in journeys {
            ids.append(journey.id)
            started.append(journey.startedAt)
            ended.append(journey.endedAt?.timeIntervalSince1970 ?? -1)
            outcomes.append(journey.outcome?.rawValue ?? "")
            anis.append(journey.originalAni ?? "")
            dnises.append(journey.originalDnis ?? "")
            vdns.append(journey.vdn ?? "")
            splits.append(journey.split ?? "")
            agents.append(journey.agents.joined(separator: "\u{1F}"))
            devices.append(journey.devices.joined(separator: "\u{1F}"))
            lastPositions.append(journey.lastPosition)
            states.append(journey.stateJSON)
            for ucid in journey.ucids {
                ucids.append(ucid.rawValue)
                ucidJourneys.append(journey.id)
            }
        }
        // One row per UCID: should two changed journeys name the same UCID, the one changed last owns it.
        if Set(ucids).count != ucids.count {
            let latest = Dictionary(journeys.map { ($0.id, $0.lastPosition) }, uniquingKeysWith: max)
            var owner: [String: String] = [:]
            for (ucid, id) in zip(ucids, ucidJourneys) where owner[ucid].map({ latest[id]! > latest[$0]! }) ?? true {
                owner[ucid] = id
            }
            ucids = Array(owner.keys)
            ucidJourneys = ucids.map { owner[$0]! }
        }
    }
}
