import Foundation
import Logging
import Metrics
import PostgresNIO
import TSAPI

/// The event store on PostgreSQL.
///
/// An append is one transaction: it stores the events' bodies (`event_bodies`), then locks the `event_log_head`
/// row and, under that lock, hands out positions, resolves streams and writes the log rows (`event_log`). The
/// lock is held through commit, so positions are gapless and become visible in order (event-store-lessons
/// §2.1, design A), across processes too. Bodies go in before the lock so that concurrent appends share the
/// heavy part; the `EventAppender` groups waiting requests into such transactions.
package struct PostgresEventStore: EventStore {
    let client: PostgresClient
    let logger: Logger
    /// Body refs drawn a block at a time.
    let refBlocks = RefBlocks()

    package init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Sentinel for "no value" in bigint arrays, since PostgresNIO arrays cannot hold NULL.
    static let nullInteger = Int64.min

    package func append(_ batches: [[IncomingEvent]]) async throws -> [AppendResult] {
        let started = ContinuousClock.now
        defer {
            Timer(label: "calltrail_append_duration_seconds").recordNanoseconds(
                (ContinuousClock.now - started).totalNanoseconds)
        }
        // Resends are the exception: first try without looking ids up, and let the unique index object. A
        // duplicate, a deadlock or a serialization failure is retried on the careful path.
        var carefully = false
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await client.withTransaction(logger: logger) { [carefully] connection in
                    try await append(batches, carefully: carefully, on: connection)
                }
            } catch let error as PostgresTransactionError where attempt < 4 && Self.isRetryable(error) {
                carefully = true
            }
        }
    }

    /// A unique violation on the event id (the batch holds an event stored before), a deadlock, or a
    /// serialization failure: the same append is worth trying again.
    static func isRetryable(_ error: PostgresTransactionError) -> Bool {
        guard let cause = (error.closureError ?? error.commitError) as? PSQLError,
            let state = cause.serverInfo?[.sqlState]
        else {
            return false
        }
        if state == "23505" { return cause.serverInfo?[.constraintName] == "events_id_unique" }
        return state == "40P01" || state == "40001"
    }

    private func append(
        _ batches: [[IncomingEvent]], carefully: Bool, on connection: PostgresConnection
    ) async throws -> [AppendResult] {
        var results = batches.map { _ in AppendResult(accepted: 0, duplicates: 0, firstPosition: nil, lastPosition: nil)
        }
        var fresh: [IncomingEvent] = []
        var batchOfFresh: [Int] = []
        let state: CallState
        let refs: [Int64]
        if carefully {
            // The careful path: the bodies go in with ON CONFLICT DO NOTHING, which waits for any other append
            // storing the same id and then skips it; what it skips is a duplicate. The lock comes after, as on
            // the fast path, so no append ever waits for a body while holding the lock.
            var firstOfEach = Set<String>()
            var candidates: [(event: IncomingEvent, batch: Int)] = []
            for (batchIndex, batch) in batches.enumerated() {
                for event in batch {
                    if firstOfEach.insert(event.id).inserted {
                        candidates.append((event, batchIndex))
                    } else {
                        results[batchIndex].duplicates += 1
                    }
                }
            }
            let inserted = try await insertBodiesSkippingDuplicates(
                candidates.map { BodyRow($0.event) }, on: connection)
            var insertedRefs: [Int64] = []
            for candidate in candidates {
                if let ref = inserted[candidate.event.id] {
                    fresh.append(candidate.event)
                    batchOfFresh.append(candidate.batch)
                    insertedRefs.append(ref)
                } else {
                    results[candidate.batch].duplicates += 1
                }
            }
            guard !fresh.isEmpty else { return results }
            refs = insertedRefs
            state = try await lockAndLoad(for: fresh, on: connection)
        } else {
            // The fast path: bodies go in before the lock, so concurrent appends share that work; a duplicate id
            // makes the unique index object, and the caller retries on the slow path.
            for (batchIndex, batch) in batches.enumerated() {
                fresh += batch
                batchOfFresh += batch.map { _ in batchIndex }
            }
            refs = try await insertBodies(fresh.map(BodyRow.init), on: connection)
            state = try await lockAndLoad(for: fresh, on: connection)
        }

        var resolver = StreamResolver(bindings: state.bindings, pending: state.pending)
        let rows = resolver.resolve(fresh, firstPosition: state.head + 1)
        let streams = StreamVersions(rows: rows, current: state.versions)
        let log = try await logRows(rows, fresh: fresh, refs: refs, versions: streams.versions, on: connection)
        try await save(resolver, loadedPending: state.pending, streams: streams, log: log, on: connection)

        for row in rows {
            guard case .event(let index) = row.kind else { continue }
            let batchIndex = batchOfFresh[index]
            results[batchIndex].accepted += 1
            results[batchIndex].firstPosition = results[batchIndex].firstPosition ?? row.position
            results[batchIndex].lastPosition = row.position
        }
        count(fresh, results)
        return results
    }

    private func count(_ fresh: [IncomingEvent], _ results: [AppendResult]) {
        Counter(label: "calltrail_events_appended_total").increment(by: fresh.count)
        let duplicates = results.reduce(0) { $0 + $1.duplicates }
        if duplicates > 0 { Counter(label: "calltrail_events_duplicates_total").increment(by: duplicates) }
        let unknown = fresh.reduce(0) { $0 + ($1.eventType == nil ? 1 : 0) }
        if unknown > 0 { Counter(label: "calltrail_events_unknown_type_total").increment(by: unknown) }
        for event in fresh {
            for field in event.uninterpretedFields {
                Counter(label: "calltrail_events_uninterpreted_fields_total", dimensions: [("field", field)])
                    .increment()
            }
        }
    }

    /// What the resolver needs to know of the batch's calls, read under the log-head lock.
    struct CallState {
        /// The last position handed out.
        var head: Int64 = 0
        var bindings: [CallKey: CallBinding] = [:]
        var pending: [CallKey: [Int64]] = [:]
        /// Current version of every stream the batch can land in.
        var versions: [String: Int] = [:]
    }

    /// Takes the log-head lock (held until commit) and, in the same round trip, reads the bindings and pending
    /// events of every `(switch, callID)` the batch mentions and the version of every stream it may write to
    /// (`calltrail_lock_and_load`, migration 0001).
    private func lockAndLoad(for events: [IncomingEvent], on connection: PostgresConnection) async throws -> CallState {
        var keys = Set<CallKey>()
        var ucids = Set<String>()
        for event in events {
            for callID in [event.callID, event.resultingCallID].compactMap({ $0 }) + event.oldCallIDs {
                keys.insert(CallKey(switchName: event.switchName, callID: callID))
            }
            if let ucid = event.ucid { ucids.insert(ucid.rawValue) }
        }
        let switches = keys.map(\.switchName), callIDs = keys.map(\.callID), carried = Array(ucids)
        let rows = try await connection.execute(
            LockAndLoad(switches: switches, callIDs: callIDs, ucids: carried), logger: logger)
        var state = CallState()
        var sawHead = false
        for try await (kind, switchName, callID, ucidText, isOpen, number, closedAt) in rows {
            switch kind {
            case "h":
                state.head = number
                sawHead = true
            case "b":
                guard let switchName, let callID, let ucid = ucidText.flatMap({ UCID($0) }), let isOpen else {
                    continue
                }
                state.bindings[CallKey(switchName: switchName, callID: callID)] = CallBinding(
                    ucid: ucid, isOpen: isOpen, boundAt: number, closedAt: closedAt)
            case "p":
                guard let switchName, let callID else { continue }
                state.pending[CallKey(switchName: switchName, callID: callID), default: []].append(number)
            default:
                if let ucidText { state.versions[ucidText] = Int(number) }
            }
        }
        guard sawHead else {
            throw EventStoreError.schema("event_log_head has no row: the database was not migrated by CallTrail")
        }
        for key in state.pending.keys { state.pending[key]!.sort() }
        return state
    }

    /// `calltrail_lock_and_load`, prepared: it runs for every append.
    struct LockAndLoad: PostgresPreparedStatement {
        /// The columns by name: a prepared statement's result must keep its shape for as long as the connection.
        static let sql = """
            SELECT kind, switch, call_id, ucid, is_open, number, closed_at
            FROM calltrail_lock_and_load($1::text[], $2::bigint[], $3::text[])
            """
        var switches: [String], callIDs: [Int64], ucids: [String]

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 3)
            bindings.append(switches)
            bindings.append(callIDs)
            bindings.append(ucids)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> (String, String?, Int64?, String?, Bool?, Int64, Int64?) {
            try row.decode((String, String?, Int64?, String?, Bool?, Int64, Int64?).self)
        }
    }

    /// Stream versions for the rows that have a UCID, continuing each stream's current version.
    struct StreamVersions {
        var versions: [Int?] = []
        /// Per stream touched: its new version and the positions of its first and last new rows.
        var updated: [String: (version: Int, first: Int64, last: Int64)] = [:]

        init(rows: [StreamResolver.Row], current: [String: Int]) {
            var reached = current
            versions = rows.map { row in
                guard let ucid = row.ucid?.rawValue else { return nil }
                let next = (reached[ucid] ?? 0) + 1
                reached[ucid] = next
                updated[ucid] = (next, updated[ucid]?.first ?? row.position, row.position)
                return next
            }
        }
    }

    /// The columns of `event_bodies`, as one event (or link record) fills them.
    struct BodyRow {
        var id: String
        var source: String
        var switchName: String
        var seq: Int64?
        var monitor: Int64?
        var type: String
        var isKnownType: Bool
        var time: Date
        var callID: Int64?
        var body: String
        var sourceMessage: String?
    }

    /// Stores bodies under refs from this process's blocks (`RefBlocks`); returns the refs, in order.
    ///
    /// One INSERT of unnested arrays rather than COPY, though COPY loaded the table about 1.6 times faster:
    /// PostgresNIO 1.33 traps (a precondition in its connection state machine) when the server ends a connection in
    /// the middle of a COPY, and a PostgreSQL restart ends every open connection. A restart must not take CallTrail
    /// down with it.
    private func insertBodies(_ bodies: [BodyRow], on connection: PostgresConnection) async throws -> [Int64] {
        // In the batch's order, unsorted: sorting costs more than it saves. Two appends that store some of the
        // same new ids in opposite orders can deadlock; PostgreSQL breaks the cycle and the loser is retried on
        // the careful path, which inserts in id order.
        let refs = try await refBlocks.take(bodies.count, on: connection, logger: logger)
        let null = Self.nullInteger
        try await connection.query(
            """
            INSERT INTO event_bodies (ref, id, source, switch, seq, monitor, type, known_type, time, call_id, body,
                                      source_message)
            SELECT r, i, src, sw, NULLIF(sq, \(null)), NULLIF(m, \(null)), t, k, tm, NULLIF(c, \(null)), b::json,
                   NULLIF(sm, '')
            FROM unnest(\(refs)::bigint[], \(bodies.map(\.id))::text[], \(bodies.map(\.source))::text[],
                        \(bodies.map(\.switchName))::text[], \(bodies.map { $0.seq ?? null })::bigint[],
                        \(bodies.map { $0.monitor ?? null })::bigint[], \(bodies.map(\.type))::text[],
                        \(bodies.map(\.isKnownType))::bool[], \(bodies.map(\.time))::timestamptz[],
                        \(bodies.map { $0.callID ?? null })::bigint[], \(bodies.map(\.body))::text[],
                        \(bodies.map { $0.sourceMessage ?? "" })::text[])
              AS x(r, i, src, sw, sq, m, t, k, tm, c, b, sm)
            """, logger: logger
        ).consume()
        return refs
    }

    /// Stores the bodies whose id is new, in id order; returns their refs by id.
    private func insertBodiesSkippingDuplicates(
        _ bodies: [BodyRow], on connection: PostgresConnection
    ) async throws -> [String: Int64] {
        let sorted = bodies.sorted { $0.id < $1.id }
        let null = Self.nullInteger
        var refs: [String: Int64] = [:]
        let rows = try await connection.query(
            """
            INSERT INTO event_bodies (ref, id, source, switch, seq, monitor, type, known_type, time, call_id, body,
                                      source_message)
            SELECT nextval('event_ref_seq'), i, src, sw, NULLIF(sq, \(null)), NULLIF(m, \(null)), t, k, tm, NULLIF(c, \(null)), b::json,
                   NULLIF(sm, '')
            FROM unnest(\(sorted.map(\.id))::text[], \(sorted.map(\.source))::text[], \(sorted.map(\.switchName))::text[],
                        \(sorted.map { $0.seq ?? null })::bigint[], \(sorted.map { $0.monitor ?? null })::bigint[],
                        \(sorted.map(\.type))::text[], \(sorted.map(\.isKnownType))::bool[], \(sorted.map(\.time))::timestamptz[],
                        \(sorted.map { $0.callID ?? null })::bigint[], \(sorted.map(\.body))::text[],
                        \(sorted.map { $0.sourceMessage ?? "" })::text[])
              WITH ORDINALITY AS r(i, src, sw, sq, m, t, k, tm, c, b, sm, n)
            ORDER BY n
            ON CONFLICT (id) DO NOTHING
            RETURNING id, ref
            """, logger: logger)
        for try await (id, ref) in rows.decode((String, Int64).self) { refs[id] = ref }
        return refs
    }

    /// The log rows to write under the lock (position, body, stream), and which earlier events each link
    /// row attached to its stream.
    struct LogRows {
        var positions: [Int64] = []
        var refs: [Int64] = []
        var ucids: [String] = []
        var versions: [Int64] = []
        var linkedUCIDs: [String] = []
        var linkedPositions: [Int64] = []
        var linkPositions: [Int64] = []
    }

    /// Lays out the log rows; stores the bodies of any link records (the only bodies written under the lock).
    private func logRows(
        _ rows: [StreamResolver.Row], fresh: [IncomingEvent], refs: [Int64], versions: [Int?],
        on connection: PostgresConnection
    ) async throws -> LogRows {
        var log = LogRows()
        var linkBodies: [BodyRow] = []
        // A link row follows the event that revealed the UCID, and takes its time.
        var lastEventTime = Date()
        for row in rows {
            switch row.kind {
            case .event(let index):
                lastEventTime = fresh[index].time
            case .link(let link):
                linkBodies.append(BodyRow(link: link, position: row.position, time: lastEventTime))
                for linked in link.positions {
                    log.linkedUCIDs.append(link.ucid.rawValue)
                    log.linkedPositions.append(linked)
                    log.linkPositions.append(row.position)
                }
            }
        }
        let linkRefs = linkBodies.isEmpty ? [] : try await insertBodies(linkBodies, on: connection)
        var nextLink = 0
        log.positions.reserveCapacity(rows.count)
        log.refs.reserveCapacity(rows.count)
        for (row, version) in zip(rows, versions) {
            log.positions.append(row.position)
            switch row.kind {
            case .event(let index):
                log.refs.append(refs[index])
            case .link:
                log.refs.append(linkRefs[nextLink])
                nextLink += 1
            }
            log.ucids.append(row.ucid?.rawValue ?? "")
            log.versions.append(version.map(Int64.init) ?? Self.nullInteger)
        }
        return log
    }

    /// The link record's own JSON, stored like any event so the log says when and why the link was made.
    ///
    /// It holds no `ucid`: the record is stored in the stream of the UCID it links to, so a read gives it that
    /// `ucid` beside its position, and a second one in the body would be the same name twice in one object.
    static func linkBody(_ link: UCIDLink, time: Date) -> String {
        JSONWriter.object { o in
            o.add("type", EventType.ucidLinked.rawValue)
            o.add("source", "calltrail")
            o.add("switch", link.call.switchName)
            o.add("time", Timestamp.format(time))
            o.add("callID", number: link.call.callID)
            o.add("positions", array: link.positions) { a, position in a.number(position) }
        }
    }

    /// One statement writes the rest under the lock: the log rows, stream versions, call bindings, the pending
    /// lists (only what left or joined them), the links, and the log head.
    private func save(
        _ resolver: StreamResolver, loadedPending: [CallKey: [Int64]], streams: StreamVersions, log: LogRows,
        on connection: PostgresConnection
    ) async throws {
        let streamUCIDs = Array(streams.updated.keys)
        var bound: (switches: [String], callIDs: [Int64], ucids: [String], open: [Bool], at: [Int64], closed: [Int64]) =
            ([], [], [], [], [], [])
        var left: (switches: [String], callIDs: [Int64], positions: [Int64]) = ([], [], [])
        var joined: (switches: [String], callIDs: [Int64], positions: [Int64]) = ([], [], [])
        for key in resolver.touched {
            if let binding = resolver.bindings[key] {
                bound.switches.append(key.switchName)
                bound.callIDs.append(key.callID)
                bound.ucids.append(binding.ucid.rawValue)
                bound.open.append(binding.isOpen)
                bound.at.append(binding.boundAt)
                bound.closed.append(binding.closedAt ?? Self.nullInteger)
            }
            let before = Set(loadedPending[key] ?? []), after = Set(resolver.pending[key] ?? [])
            for position in before.subtracting(after) {
                left.switches.append(key.switchName)
                left.callIDs.append(key.callID)
                left.positions.append(position)
            }
            for position in after.subtracting(before) {
                joined.switches.append(key.switchName)
                joined.callIDs.append(key.callID)
                joined.positions.append(position)
            }
        }
        _ = try await connection.execute(
            SaveAppend(
                positions: log.positions, refs: log.refs, ucids: log.ucids, versions: log.versions,
                streamUCIDs: streamUCIDs, streamVersions: streamUCIDs.map { Int64(streams.updated[$0]!.version) },
                streamFirst: streamUCIDs.map { streams.updated[$0]!.first },
                streamLast: streamUCIDs.map { streams.updated[$0]!.last },
                bound: bound, left: left, joined: joined,
                linkedUCIDs: log.linkedUCIDs, linkedPositions: log.linkedPositions, linkPositions: log.linkPositions,
                head: log.positions.last!),
            logger: logger)
    }

    /// `save`'s statement, prepared: it runs for every append, and parsing and planning it each time took about
    /// 0.6 ms of PostgreSQL's time, a tenth of an append under the feed benchmark's steady traffic. Its text is
    /// constant, so `nullInteger` is written into it as a literal; `$1`–`$24` are bound in `makeBindings`' order.
    struct SaveAppend: PostgresPreparedStatement {
        static let sql = """
            WITH e AS (
                INSERT INTO event_log (position, ref, ucid, stream_version)
                SELECT p, r, NULLIF(u, ''), NULLIF(v, \(nullInteger))::int
                FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[]) AS x(p, r, u, v)
            ), s AS (
                INSERT INTO streams (ucid, version, first_position, last_position)
                SELECT * FROM unnest($5::text[], $6::bigint[]::int[], $7::bigint[], $8::bigint[])
                ON CONFLICT (ucid) DO UPDATE SET version = excluded.version, last_position = excluded.last_position
            ), b AS (
                INSERT INTO call_bindings (switch, call_id, ucid, is_open, bound_at, closed_at)
                SELECT s, c, u, o, a, NULLIF(x, \(nullInteger))
                FROM unnest($9::text[], $10::bigint[], $11::text[], $12::bool[], $13::bigint[], $14::bigint[]) AS r(s, c, u, o, a, x)
                ON CONFLICT (switch, call_id) DO UPDATE
                  SET ucid = excluded.ucid, is_open = excluded.is_open, bound_at = excluded.bound_at, closed_at = excluded.closed_at
            ), pl AS (
                DELETE FROM pending_events p
                USING unnest($15::text[], $16::bigint[], $17::bigint[]) AS k(s, c, n)
                WHERE p.switch = k.s AND p.call_id = k.c AND p.position = k.n
            ), pj AS (
                INSERT INTO pending_events (switch, call_id, position)
                SELECT * FROM unnest($18::text[], $19::bigint[], $20::bigint[])
            ), l AS (
                INSERT INTO stream_links (ucid, position, link_position)
                SELECT * FROM unnest($21::text[], $22::bigint[], $23::bigint[])
                ON CONFLICT DO NOTHING
            )
            UPDATE event_log_head SET last_position = $24
            """
        typealias Row = ()

        var positions: [Int64], refs: [Int64], ucids: [String], versions: [Int64]
        var streamUCIDs: [String], streamVersions: [Int64], streamFirst: [Int64], streamLast: [Int64]
        var bound: (switches: [String], callIDs: [Int64], ucids: [String], open: [Bool], at: [Int64], closed: [Int64])
        var left: (switches: [String], callIDs: [Int64], positions: [Int64])
        var joined: (switches: [String], callIDs: [Int64], positions: [Int64])
        var linkedUCIDs: [String], linkedPositions: [Int64], linkPositions: [Int64]
        var head: Int64

        func makeBindings() throws -> PostgresBindings {
            var b = PostgresBindings(capacity: 24)
            b.append(positions)
            b.append(refs)
            b.append(ucids)
            b.append(versions)
            b.append(streamUCIDs)
            b.append(streamVersions)
            b.append(streamFirst)
            b.append(streamLast)
            b.append(bound.switches)
            b.append(bound.callIDs)
            b.append(bound.ucids)
            b.append(bound.open)
            b.append(bound.at)
            b.append(bound.closed)
            b.append(left.switches)
            b.append(left.callIDs)
            b.append(left.positions)
            b.append(joined.switches)
            b.append(joined.callIDs)
            b.append(joined.positions)
            b.append(linkedUCIDs)
            b.append(linkedPositions)
            b.append(linkPositions)
            b.append(head)
            return b
        }

        func decodeRow(_ row: PostgresRow) throws {}
    }

    // MARK: Reads

    static let columns =
        "position, id, source, switch, seq, monitor, type, known_type, time, ucid, stream_version, call_id, body::text, stored_at, source_message"
    static let linkedColumns = """
        e.position, e.id, e.source, e.switch, e.seq, e.monitor, e.type, e.known_type, e.time, e.ucid, e.stream_version,
        e.call_id, e.body::text, e.stored_at, e.source_message
        """

    package func read(after position: Int64, limit: Int) async throws -> [StoredEvent] {
        let rows = try await client.query(
            """
            SELECT \(unescaped: Self.columns) FROM events WHERE position > \(position) ORDER BY position LIMIT \(limit)
            """, logger: logger)
        return try await Self.decode(rows)
    }

    package func readStream(_ ucid: UCID) async throws -> [StoredEvent] {
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

    /// The position of the last event in `ucid`'s stream (links included), nil when the stream has none.
    package func lastPosition(of ucid: UCID) async throws -> Int64? {
        let rows = try await client.query(
            "SELECT last_position FROM streams WHERE ucid = \(ucid.rawValue)", logger: logger)
        for try await position in rows.decode(Int64.self) { return position }
        return nil
    }

    /// The highest `seq` stored for `source` whose events are numbered 1, 2, 3, ... with no gap (an AES link's),
    /// 0 when none is. Found through the unique `id` (`{source}-{seq}`) in about 2 log2(N) lookups, so a link
    /// starts at once over a store of any size: a link's events are stored in order, so its seqs are a prefix of
    /// the whole numbers.
    package func lastContiguousSeq(source: String) async throws -> Int64 {
        func stored(_ seq: Int64) async throws -> Bool {
            let rows = try await client.query(
                "SELECT 1 FROM event_bodies WHERE id = \("\(source)-\(seq)")", logger: logger)
            for try await _ in rows { return true }
            return false
        }
        guard try await stored(1) else { return 0 }
        var low: Int64 = 1  // stored
        var high: Int64 = 2
        while try await stored(high) {
            low = high
            high *= 2
        }
        // low is stored, high is not: the last stored lies in [low, high).
        while high - low > 1 {
            let middle = low + (high - low) / 2
            if try await stored(middle) { low = middle } else { high = middle }
        }
        return low
    }

    package func headPosition() async throws -> Int64 {
        var head: Int64 = 0
        for try await value in try await client.query("SELECT last_position FROM event_log_head", logger: logger)
            .decode(Int64.self)
        {
            head = value
        }
        return head
    }

    static func decode(_ rows: PostgresRowSequence) async throws -> [StoredEvent] {
        var events: [StoredEvent] = []
        for try await row in rows {
            let (
                position, id, source, switchName, seq, monitor, type, known, time, ucid, version, callID, body,
                storedAt,
                sourceMessage
            ) =
                try row.decode(
                    (
                        Int64, String, String, String, Int64?, Int64?, String, Bool, Date, String?, Int?, Int64?,
                        String, Date, String?
                    ).self)
            events.append(
                StoredEvent(
                    position: position, id: id, source: source, switchName: switchName, seq: seq, monitor: monitor,
                    type: type,
                    isKnownType: known, time: time, ucid: ucid.flatMap { UCID($0) }, streamVersion: version,
                    callID: callID,
                    body: body, storedAt: storedAt, sourceMessage: sourceMessage))
        }
        return events
    }
}

extension PostgresEventStore.BodyRow {
    init(_ event: IncomingEvent) {
        self.init(
            id: event.id, source: event.source, switchName: event.switchName, seq: event.seq, monitor: event.monitor,
            type: event.type, isKnownType: event.eventType != nil, time: event.time, callID: event.callID,
            body: event.rawJSON, sourceMessage: event.sourceMessage)
    }

    /// A link record: an event CallTrail writes itself, in the stream it links to.
    init(link: UCIDLink, position: Int64, time: Date) {
        self.init(
            id: "\(IngestBatchParser.reservedIDPrefix)\(link.call.switchName)-\(link.call.callID)-\(position)",
            source: "calltrail",
            switchName: link.call.switchName, seq: nil, monitor: nil, type: EventType.ucidLinked.rawValue,
            isKnownType: true, time: time, callID: link.call.callID, body: PostgresEventStore.linkBody(link, time: time)
        )
    }
}
