import Foundation
import Logging
import Metrics
import PostgresNIO
import TSAPI

/// The event store on PostgreSQL.
///
/// Every append runs in one transaction that first locks the `event_log_head` row: positions are handed out
/// under that lock and the lock is held through commit, so they are gapless and become visible in order
/// (event-store-lessons §2.1, design A), across processes too. Throughput comes from batching: the
/// `EventAppender` puts every request waiting at that moment into the same transaction.
public struct PostgresEventStore: EventStore {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Sentinel for "no value" in bigint arrays, since PostgresNIO arrays cannot hold NULL.
    static let nullInteger = Int64.min

    public func append(_ batches: [[IncomingEvent]]) async throws -> [AppendResult] {
        let started = ContinuousClock.now
        let results = try await client.withTransaction(logger: logger) { connection in
            try await append(batches, on: connection)
        }
        Timer(label: "calltrail_append_duration_seconds").recordNanoseconds((ContinuousClock.now - started).totalNanoseconds)
        return results
    }

    private func append(_ batches: [[IncomingEvent]], on connection: PostgresConnection) async throws -> [AppendResult] {
        var head: Int64 = 0
        for try await value in try await connection.query(
            "SELECT last_position FROM event_log_head FOR UPDATE", logger: logger
        ).decode(Int64.self) {
            head = value
        }

        // Idempotency: an id already stored, or seen earlier in this transaction, is a duplicate.
        let allIDs = batches.flatMap { $0.map(\.id) }
        var seen = Set<String>()
        for try await id in try await connection.query(
            "SELECT id FROM events WHERE id = ANY(\(allIDs))", logger: logger
        ).decode(String.self) {
            seen.insert(id)
        }
        var fresh: [IncomingEvent] = []
        var batchOfFresh: [Int] = []
        var results = batches.map { _ in AppendResult(accepted: 0, duplicates: 0, firstPosition: nil, lastPosition: nil) }
        for (batchIndex, batch) in batches.enumerated() {
            for event in batch {
                if seen.insert(event.id).inserted {
                    fresh.append(event)
                    batchOfFresh.append(batchIndex)
                } else {
                    results[batchIndex].duplicates += 1
                }
            }
        }
        guard !fresh.isEmpty else { return results }

        var resolver = StreamResolver(
            bindings: try await loadBindings(for: fresh, on: connection),
            pending: try await loadPending(for: fresh, on: connection))
        let rows = resolver.resolve(fresh, firstPosition: head + 1)
        let versions = try await assignVersions(rows, on: connection)
        try await insertRows(rows, fresh: fresh, versions: versions, on: connection)
        try await saveCallState(resolver, on: connection)

        for row in rows {
            guard case .event(let index) = row.kind else { continue }
            let batchIndex = batchOfFresh[index]
            results[batchIndex].accepted += 1
            results[batchIndex].firstPosition = results[batchIndex].firstPosition ?? row.position
            results[batchIndex].lastPosition = row.position
        }
        try await connection.query(
            "UPDATE event_log_head SET last_position = \(rows.last!.position)", logger: logger)

        Counter(label: "calltrail_events_appended_total").increment(by: fresh.count)
        let duplicates = results.reduce(0) { $0 + $1.duplicates }
        if duplicates > 0 { Counter(label: "calltrail_events_duplicates_total").increment(by: duplicates) }
        let unknown = fresh.reduce(0) { $0 + ($1.eventType == nil ? 1 : 0) }
        if unknown > 0 { Counter(label: "calltrail_events_unknown_type_total").increment(by: unknown) }
        for event in fresh {
            for field in event.uninterpretedFields {
                Counter(label: "calltrail_events_uninterpreted_fields_total", dimensions: [("field", field)]).increment()
            }
        }
        return results
    }

    /// Every `(switch, callID)` the batch mentions.
    private func callKeys(of events: [IncomingEvent]) -> (switches: [String], callIDs: [Int64]) {
        var keys = Set<CallKey>()
        for event in events {
            for callID in [event.callID, event.resultingCallID].compactMap({ $0 }) + event.oldCallIDs {
                keys.insert(CallKey(switchName: event.switchName, callID: callID))
            }
        }
        return (keys.map(\.switchName), keys.map(\.callID))
    }

    private func loadBindings(for events: [IncomingEvent], on connection: PostgresConnection) async throws -> [CallKey: CallBinding] {
        let keys = callKeys(of: events)
        guard !keys.callIDs.isEmpty else { return [:] }
        var bindings: [CallKey: CallBinding] = [:]
        let rows = try await connection.query(
            """
            SELECT b.switch, b.call_id, b.ucid, b.is_open, b.bound_at, b.closed_at
            FROM call_bindings b JOIN unnest(\(keys.switches)::text[], \(keys.callIDs)::bigint[]) AS k(switch, call_id)
              ON b.switch = k.switch AND b.call_id = k.call_id
            """, logger: logger)
        for try await (switchName, callID, ucidText, isOpen, boundAt, closedAt) in rows.decode(
            (String, Int64, String, Bool, Int64, Int64?).self)
        {
            guard let ucid = UCID(ucidText) else { continue }
            bindings[CallKey(switchName: switchName, callID: callID)] = CallBinding(
                ucid: ucid, isOpen: isOpen, boundAt: boundAt, closedAt: closedAt)
        }
        return bindings
    }

    private func loadPending(for events: [IncomingEvent], on connection: PostgresConnection) async throws -> [CallKey: [Int64]] {
        let keys = callKeys(of: events)
        guard !keys.callIDs.isEmpty else { return [:] }
        var pending: [CallKey: [Int64]] = [:]
        let rows = try await connection.query(
            """
            SELECT p.switch, p.call_id, p.position
            FROM pending_events p JOIN unnest(\(keys.switches)::text[], \(keys.callIDs)::bigint[]) AS k(switch, call_id)
              ON p.switch = k.switch AND p.call_id = k.call_id
            ORDER BY p.position
            """, logger: logger)
        for try await (switchName, callID, position) in rows.decode((String, Int64, Int64).self) {
            pending[CallKey(switchName: switchName, callID: callID), default: []].append(position)
        }
        return pending
    }

    /// Stream versions for the rows that have a UCID, continuing each stream's current version.
    private func assignVersions(_ rows: [StreamResolver.Row], on connection: PostgresConnection) async throws -> [Int?] {
        let ucids = Array(Set(rows.compactMap { $0.ucid?.rawValue }))
        guard !ucids.isEmpty else { return rows.map { _ in nil } }
        var current: [String: Int] = [:]
        for try await (ucid, version) in try await connection.query(
            "SELECT ucid, version FROM streams WHERE ucid = ANY(\(ucids))", logger: logger
        ).decode((String, Int).self) {
            current[ucid] = version
        }
        var first: [String: Int64] = [:]
        var last: [String: Int64] = [:]
        let versions: [Int?] = rows.map { row in
            guard let ucid = row.ucid?.rawValue else { return nil }
            let next = (current[ucid] ?? 0) + 1
            current[ucid] = next
            if first[ucid] == nil { first[ucid] = row.position }
            last[ucid] = row.position
            return next
        }
        let touched = Array(last.keys)
        try await connection.query(
            """
            INSERT INTO streams (ucid, version, first_position, last_position)
            SELECT * FROM unnest(\(touched)::text[], \(touched.map { current[$0]! })::int[],
                                 \(touched.map { first[$0]! })::bigint[], \(touched.map { last[$0]! })::bigint[])
            ON CONFLICT (ucid) DO UPDATE SET version = excluded.version, last_position = excluded.last_position
            """, logger: logger)
        return versions
    }

    private func insertRows(
        _ rows: [StreamResolver.Row], fresh: [IncomingEvent], versions: [Int?], on connection: PostgresConnection
    ) async throws {
        let count = rows.count
        var positions = [Int64](), ids = [String](), sources = [String](), switches = [String](), seqs = [Int64]()
        var monitors = [Int64](), types = [String](), known = [Bool](), times = [Date](), ucids = [String]()
        var streamVersions = [Int64](), callIDs = [Int64](), bodies = [String]()
        positions.reserveCapacity(count); ids.reserveCapacity(count); bodies.reserveCapacity(count)
        var links: (ucids: [String], positions: [Int64], linkPositions: [Int64]) = ([], [], [])
        // A link row follows the event that revealed the UCID, and takes its time.
        var lastEventTime = Date()
        for (row, version) in zip(rows, versions) {
            positions.append(row.position)
            ucids.append(row.ucid?.rawValue ?? "")
            streamVersions.append(version.map(Int64.init) ?? Self.nullInteger)
            switch row.kind {
            case .event(let index):
                let event = fresh[index]
                ids.append(event.id)
                sources.append(event.source)
                switches.append(event.switchName)
                seqs.append(event.seq ?? Self.nullInteger)
                monitors.append(event.monitor ?? Self.nullInteger)
                types.append(event.type)
                known.append(event.eventType != nil)
                times.append(event.time)
                callIDs.append(event.callID ?? Self.nullInteger)
                bodies.append(event.rawJSON)
                lastEventTime = event.time
            case .link(let link):
                let time = lastEventTime
                ids.append("calltrail-link-\(link.call.switchName)-\(link.call.callID)-\(row.position)")
                sources.append("calltrail")
                switches.append(link.call.switchName)
                seqs.append(Self.nullInteger)
                monitors.append(Self.nullInteger)
                types.append(EventType.ucidLinked.rawValue)
                known.append(true)
                times.append(time)
                callIDs.append(link.call.callID)
                bodies.append(Self.linkBody(link, time: time))
                for linked in link.positions {
                    links.ucids.append(link.ucid.rawValue)
                    links.positions.append(linked)
                    links.linkPositions.append(row.position)
                }
            }
        }
        let null = Self.nullInteger
        try await connection.query(
            """
            INSERT INTO events (position, id, source, switch, seq, monitor, type, known_type, time, ucid, stream_version, call_id, body)
            SELECT p, i, src, sw, NULLIF(sq, \(null)), NULLIF(m, \(null)), t, k, tm, NULLIF(u, ''),
                   NULLIF(v, \(null))::int, NULLIF(c, \(null)), b::json
            FROM unnest(\(positions)::bigint[], \(ids)::text[], \(sources)::text[], \(switches)::text[],
                        \(seqs)::bigint[], \(monitors)::bigint[], \(types)::text[], \(known)::bool[],
                        \(times)::timestamptz[], \(ucids)::text[], \(streamVersions)::bigint[], \(callIDs)::bigint[],
                        \(bodies)::text[]) AS r(p, i, src, sw, sq, m, t, k, tm, u, v, c, b)
            """, logger: logger)
        if !links.positions.isEmpty {
            try await connection.query(
                """
                INSERT INTO stream_links (ucid, position, link_position)
                SELECT * FROM unnest(\(links.ucids)::text[], \(links.positions)::bigint[], \(links.linkPositions)::bigint[])
                ON CONFLICT DO NOTHING
                """, logger: logger)
        }
    }

    /// The link record's own JSON, stored like any event so the log says when and why the link was made.
    static func linkBody(_ link: UCIDLink, time: Date) -> String {
        """
        {"type":"\(EventType.ucidLinked.rawValue)","source":"calltrail","switch":\(JSONText.quote(link.call.switchName)),\
        "time":"\(Timestamp.format(time))","ucid":"\(link.ucid.rawValue)","callID":\(link.call.callID),\
        "positions":[\(link.positions.map(String.init).joined(separator: ","))]}
        """
    }

    /// Writes the bindings and pending lists the resolver changed.
    private func saveCallState(_ resolver: StreamResolver, on connection: PostgresConnection) async throws {
        let touched = Array(resolver.touched)
        guard !touched.isEmpty else { return }
        var bound: (switches: [String], callIDs: [Int64], ucids: [String], open: [Bool], at: [Int64], closed: [Int64]) =
            ([], [], [], [], [], [])
        for key in touched {
            guard let binding = resolver.bindings[key] else { continue }
            bound.switches.append(key.switchName)
            bound.callIDs.append(key.callID)
            bound.ucids.append(binding.ucid.rawValue)
            bound.open.append(binding.isOpen)
            bound.at.append(binding.boundAt)
            bound.closed.append(binding.closedAt ?? Self.nullInteger)
        }
        if !bound.callIDs.isEmpty {
            try await connection.query(
                """
                INSERT INTO call_bindings (switch, call_id, ucid, is_open, bound_at, closed_at)
                SELECT s, c, u, o, a, NULLIF(x, \(Self.nullInteger))
                FROM unnest(\(bound.switches)::text[], \(bound.callIDs)::bigint[], \(bound.ucids)::text[],
                            \(bound.open)::bool[], \(bound.at)::bigint[], \(bound.closed)::bigint[]) AS r(s, c, u, o, a, x)
                ON CONFLICT (switch, call_id) DO UPDATE
                  SET ucid = excluded.ucid, is_open = excluded.is_open, bound_at = excluded.bound_at, closed_at = excluded.closed_at
                """, logger: logger)
        }
        try await connection.query(
            """
            DELETE FROM pending_events p
            USING unnest(\(touched.map(\.switchName))::text[], \(touched.map(\.callID))::bigint[]) AS k(switch, call_id)
            WHERE p.switch = k.switch AND p.call_id = k.call_id
            """, logger: logger)
        var pending: (switches: [String], callIDs: [Int64], positions: [Int64]) = ([], [], [])
        for key in touched {
            for position in resolver.pending[key] ?? [] {
                pending.switches.append(key.switchName)
                pending.callIDs.append(key.callID)
                pending.positions.append(position)
            }
        }
        if !pending.positions.isEmpty {
            try await connection.query(
                """
                INSERT INTO pending_events (switch, call_id, position)
                SELECT * FROM unnest(\(pending.switches)::text[], \(pending.callIDs)::bigint[], \(pending.positions)::bigint[])
                """, logger: logger)
        }
    }

    // MARK: Reads

    static let columns = "position, id, source, switch, seq, monitor, type, known_type, time, ucid, stream_version, call_id, body::text, stored_at"
    static let linkedColumns = """
        e.position, e.id, e.source, e.switch, e.seq, e.monitor, e.type, e.known_type, e.time, e.ucid, e.stream_version,
        e.call_id, e.body::text, e.stored_at
        """

    public func read(after position: Int64, limit: Int) async throws -> [StoredEvent] {
        let rows = try await client.query(
            """
            SELECT \(unescaped: Self.columns) FROM events WHERE position > \(position) ORDER BY position LIMIT \(limit)
            """, logger: logger)
        return try await Self.decode(rows)
    }

    public func readStream(_ ucid: UCID) async throws -> [StoredEvent] {
        let rows = try await client.query(
            """
            SELECT \(unescaped: Self.columns) FROM events WHERE ucid = \(ucid.rawValue)
            UNION ALL
            SELECT \(unescaped: Self.linkedColumns)
            FROM stream_links l JOIN events e ON e.position = l.position WHERE l.ucid = \(ucid.rawValue)
            ORDER BY position
            """, logger: logger)
        return try await Self.decode(rows)
    }

    public func headPosition() async throws -> Int64 {
        var head: Int64 = 0
        for try await value in try await client.query("SELECT last_position FROM event_log_head", logger: logger).decode(Int64.self) {
            head = value
        }
        return head
    }

    static func decode(_ rows: PostgresRowSequence) async throws -> [StoredEvent] {
        var events: [StoredEvent] = []
        for try await row in rows {
            let (position, id, source, switchName, seq, monitor, type, known, time, ucid, version, callID, body, storedAt) =
                try row.decode((Int64, String, String, String, Int64?, Int64?, String, Bool, Date, String?, Int?, Int64?, String, Date).self)
            events.append(StoredEvent(
                position: position, id: id, source: source, switchName: switchName, seq: seq, monitor: monitor, type: type,
                isKnownType: known, time: time, ucid: ucid.flatMap { UCID($0) }, streamVersion: version, callID: callID,
                body: body, storedAt: storedAt))
        }
        return events
    }
}
