import CallModel
import EventStore
import Foundation
import Logging
import Metrics
import PostgresNIO
import TSAPI

/// The user-data service's storage: each change is an event in the log and a row in `userdata`, written in
/// one transaction (migration 0004).
///
/// Why in one transaction, rather than a projector that follows the log: an IVR that sets data and at once
/// hands the key to a transfer needs the next `GET` to find it. The row lock taken before the change is
/// decided serialises writers of one key, and since the log-head lock is held through commit too, the events
/// of a key are in the log in the order they were applied; a rebuild that replays them gets the same rows.
package struct PostgresUserDataStore: Sendable {
    let client: PostgresClient
    let logger: Logger

    package init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    static let columns =
        "id, key, ucid, data::text, origin::text, created_at, updated_at, expires_at, deleted_at, version"

    /// One record: what every `GET /v1/userdata/{key}` asks, so a prepared statement (planned once per
    /// connection, not per request).
    package func record(id: String) async throws -> UserDataRecord? {
        try await Self.only(client.execute(RecordByID(id: id), logger: logger)).map(Self.record)
    }

    /// The rows of a journey: the keys its calls carried, and whatever was set on or attached to its UCIDs.
    package func records(ids: [String], ucids: [String]) async throws -> [UserDataRecord] {
        guard !ids.isEmpty || !ucids.isEmpty else { return [] }
        let rows = try await client.query(
            """
            SELECT \(unescaped: Self.columns) FROM userdata
            WHERE id = ANY(\(ids)) OR ucid = ANY(\(ucids))
            ORDER BY created_at, id
            """, logger: logger)
        return try await Self.records(rows)
    }

    /// Decides a change from the record as it is (under a row lock), or throws to refuse it.
    package typealias Decision = @Sendable (UserDataRecord?) throws -> UserDataChange

    /// Applies several changes in one transaction, in order (`UserDataWriter` groups concurrent requests so that
    /// they share one commit). Each decision sees the record as the changes before it in the group left it; a
    /// refused change fails alone. A database error fails them all.
    ///
    /// `new`: every request creates a key made just now (80 random bits: no collision is expected), so there is
    /// no row to read or lock, and the one statement that appends is its own transaction: one round trip
    /// instead of four, which is what most of the writes (`POST /v1/userdata`) are.
    package func change(
        _ requests: [(id: String, decide: Decision)], new: Bool = false
    ) async throws -> [Result<(record: UserDataRecord, position: Int64), any Error>] {
        if new {
            return try await decideAndAppend(requests, current: [:]) { statement in
                try await Self.only(client.execute(statement, logger: logger))
            }
        }
        do {
            return try await client.withTransaction(logger: logger) { connection in
                let ids = Array(Set(requests.map(\.id))).sorted()
                var current: [String: UserDataRecord] = [:]
                for try await row in try await connection.execute(RecordsForUpdate(ids: ids), logger: logger) {
                    let record = try Self.record(row)
                    current[record.id] = record
                }
                return try await decideAndAppend(requests, current: current) { statement in
                    try await Self.only(connection.execute(statement, logger: logger))
                }
            }
        } catch let error as PostgresTransactionError {
            throw error.closureError ?? error
        }
    }

    /// The one value a statement returns, read to the end so the connection is free for the next.
    private static func only<Rows: AsyncSequence>(_ rows: Rows) async throws -> Rows.Element? {
        var value: Rows.Element?
        for try await row in rows where value == nil { value = row }
        return value
    }

    private func decideAndAppend(
        _ requests: [(id: String, decide: Decision)], current: [String: UserDataRecord],
        append: (AppendChanges) async throws -> Int64?
    ) async throws -> [Result<(record: UserDataRecord, position: Int64), any Error>] {
        var records = current
        var outcomes: [Result<(record: UserDataRecord, position: Int64), any Error>] = requests.map { _ in
            .failure(ProjectionsError.nothingToChange(""))
        }
        var events: [(id: String, change: UserDataChange)] = []
        var written: [(request: Int, record: UserDataRecord)] = []
        for (index, request) in requests.enumerated() {
            do {
                let change = try request.decide(records[request.id])
                guard let record = UserDataRecord.applying(change, to: records[request.id]) else {
                    throw ProjectionsError.nothingToChange(request.id)
                }
                records[request.id] = record
                events.append((IngestBatchParser.userDataIDPrefix + UUID().uuidString.lowercased(), change))
                written.append((index, record))
            } catch {
                outcomes[index] = .failure(error)
            }
        }
        guard !events.isEmpty else { return outcomes }
        var latest: [String: UserDataRecord] = [:]
        for item in written { latest[item.record.id] = item.record }
        // Everything under the log-head lock in one call (migration 0004): events, streams, rows, history.
        let first = try await append(
            AppendChanges(events: events, rows: latest.values.sorted { $0.id < $1.id }, written: written.map(\.record)))
        guard let first else { throw ProjectionsError.unexpectedAppend }
        for (offset, item) in written.enumerated() {
            outcomes[item.request] = .success((item.record, first + Int64(offset)))
        }
        Counter(label: "calltrail_events_appended_total").increment(by: events.count)
        return outcomes
    }

    private func save(
        _ records: [UserDataRecord], history: [(id: String, version: Int, position: Int64)],
        on connection: PostgresConnection
    ) async throws {
        guard !records.isEmpty else { return }
        try await connection.query(
            """
            INSERT INTO userdata (id, key, ucid, data, origin, created_at, updated_at, expires_at, deleted_at, version)
            SELECT id, NULLIF(key, ''), NULLIF(ucid, ''), data::json, origin::json, created, updated, expires,
                   CASE WHEN deleted < 0 THEN NULL ELSE to_timestamp(deleted) END, version
            FROM unnest(\(records.map(\.id)), \(records.map { $0.key?.rawValue ?? "" }),
                        \(records.map { $0.ucid?.rawValue ?? "" }), \(records.map(\.data.text)),
                        \(records.map(\.origin.json)), \(records.map(\.createdAt)), \(records.map(\.updatedAt)),
                        \(records.map(\.expiresAt)), \(records.map { $0.deletedAt?.timeIntervalSince1970 ?? -1 }),
                        \(records.map(\.version)))
                AS r(id, key, ucid, data, origin, created, updated, expires, deleted, version)
            ON CONFLICT (id) DO UPDATE SET
                data = excluded.data, origin = excluded.origin, updated_at = excluded.updated_at,
                expires_at = excluded.expires_at, deleted_at = excluded.deleted_at, version = excluded.version
            """, logger: logger)
        try await connection.query(
            """
            INSERT INTO userdata_history (id, version, position)
            SELECT * FROM unnest(\(history.map(\.id)), \(history.map(\.version)), \(history.map(\.position)))
            """, logger: logger)
    }

    /// The events that made the record, oldest first.
    package func history(id: String) async throws -> [(position: Int64, change: UserDataChange)] {
        let rows = try await client.query(
            """
            SELECT e.position, e.body::text FROM userdata_history h JOIN events e ON e.position = h.position
            WHERE h.id = \(id) ORDER BY h.version
            """, logger: logger)
        var changes: [(Int64, UserDataChange)] = []
        for try await (position, body) in rows.decode((Int64, String).self) {
            changes.append((position, try UserDataChange(eventJSON: body)))
        }
        return changes
    }

    /// Replays every user-data event of the log into empty tables, in one transaction that keeps writers out
    /// until it commits. Returns how many events it applied.
    @discardableResult
    package func rebuild() async throws -> Int {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("LOCK TABLE userdata, userdata_history IN EXCLUSIVE MODE", logger: logger)
            try await connection.query("DELETE FROM userdata_history", logger: logger)
            try await connection.query("DELETE FROM userdata", logger: logger)
            let types = UserDataChange.Operation.allCases.map(\.eventType.rawValue)
            // The same list as the partial index of migration 0004, so the planner reads only these events; a
            // client that posted one of these names has it stored as an unknown type (`known_type` false), never
            // replayed as a change.
            let rows = try await connection.query(
                """
                SELECT l.position, b.body::text FROM event_bodies b JOIN event_log l ON l.ref = b.ref
                WHERE b.type IN (\(types[0]), \(types[1]), \(types[2]), \(types[3]), \(types[4])) AND b.known_type
                ORDER BY l.position
                """, logger: logger)
            var records: [String: UserDataRecord] = [:]
            var history: [(id: String, version: Int, position: Int64)] = []
            var applied = 0
            for try await (position, body) in rows.decode((Int64, String).self) {
                let change = try UserDataChange(eventJSON: body)
                guard let record = UserDataRecord.applying(change, to: records[change.recordID]) else { continue }
                records[record.id] = record
                history.append((record.id, record.version, position))
                applied += 1
            }
            try await save(records.values.sorted { $0.id < $1.id }, history: history, on: connection)
            return applied
        }
    }

    typealias Row = (String, String?, String?, String, String, Date, Date, Date, Date?, Int)

    private static func records(_ rows: PostgresRowSequence) async throws -> [UserDataRecord] {
        var records: [UserDataRecord] = []
        for try await row in rows.decode(Row.self) { records.append(try record(row)) }
        return records
    }

    private static func record(_ row: Row) throws -> UserDataRecord {
        let (id, key, ucid, data, origin, created, updated, expires, deleted, version) = row
        return UserDataRecord(
            id: id, key: key.flatMap(UserDataKey.init), ucid: ucid.flatMap(UCID.init),
            data: try JSONTree(parsing: data),
            origin: UserDataOrigin(tree: try JSONTree(parsing: origin)) ?? UserDataOrigin(ucid: nil),
            createdAt: created,
            updatedAt: updated, expiresAt: expires, deletedAt: deleted, version: version)
    }

    struct RecordByID: PostgresPreparedStatement {
        static let sql = "SELECT \(columns) FROM userdata WHERE id = $1"
        var id: String
        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 1)
            bindings.append(id)
            return bindings
        }
        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
    }

    /// `calltrail_append_userdata`, prepared: it runs for every group of changes.
    struct AppendChanges: PostgresPreparedStatement {
        static let sql = """
            SELECT calltrail_append_userdata($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[],
                $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::timestamptz[],
                $13::timestamptz[], $14::float8[], $15::int[], $16::text[], $17::int[])
            """
        var events: [(id: String, change: UserDataChange)]
        /// The rows after the changes, one per record.
        var rows: [UserDataRecord]
        /// The record each event made, in event order.
        var written: [UserDataRecord]

        func makeBindings() throws -> PostgresBindings {
            var b = PostgresBindings(capacity: 17)
            b.append(events.map(\.id))
            b.append(events.map(\.change.operation.eventType.rawValue))
            b.append(events.map(\.change.time))
            b.append(events.map { $0.change.ucid?.rawValue ?? "" })
            b.append(events.map { $0.change.eventJSON(id: $0.id) })
            b.append(rows.map(\.id))
            b.append(rows.map { $0.key?.rawValue ?? "" })
            b.append(rows.map { $0.ucid?.rawValue ?? "" })
            b.append(rows.map(\.data.text))
            b.append(rows.map(\.origin.json))
            b.append(rows.map(\.createdAt))
            b.append(rows.map(\.updatedAt))
            b.append(rows.map(\.expiresAt))
            b.append(rows.map { $0.deletedAt?.timeIntervalSince1970 ?? -1 })
            b.append(rows.map { Int32($0.version) })
            b.append(written.map(\.id))
            b.append(written.map { Int32($0.version) })
            return b
        }

        func decodeRow(_ row: PostgresRow) throws -> Int64 { try row.decode(Int64.self) }
    }

    /// Locked in id order, so two writers never wait for each other's rows crosswise.
    struct RecordsForUpdate: PostgresPreparedStatement {
        static let sql = "SELECT \(columns) FROM userdata WHERE id = ANY($1) ORDER BY id FOR UPDATE"
        var ids: [String]
        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 1)
            bindings.append(ids)
            return bindings
        }
        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
    }
}
