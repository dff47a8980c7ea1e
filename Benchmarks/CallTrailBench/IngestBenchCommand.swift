import ArgumentParser
import AsyncHTTPClient
import CallTrailServer
import CommandSupport
import EventStore
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import PostgresNIO
import ServiceLifecycle
import Simulator
import Synchronization
import TSAPI

/// `calltrail-bench ingest`: HTTP ingest throughput against plain batched INSERTs of the same rows.
///
/// It serves CallTrail in this process on a scratch database, posts the simulator's traffic from several concurrent
/// clients, then inserts the same rows with the same number of connections into an equivalent table (same
/// columns, constraints and indexes, no appender logic). The ratio says how much of the database's raw insert
/// speed the full path (HTTP, parsing, idempotency, UCID resolution, gapless positions) keeps.
struct IngestBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Measure POST /v1/events throughput and compare it with raw batched INSERTs.")

    @OptionGroup var database: DatabaseOptions

    @Option(help: "Calls to send: the simulator's default mix, about 13 events a call with their monitor copies.")
    var calls: Int = 20_000

    @Option(help: "Concurrent HTTP clients (and raw INSERT connections).")
    var clients: Int = 8

    @Option(help: "Events per POST (and per raw INSERT).")
    var batch: Int = 500

    @Option(help: "Rounds to run, each on a fresh scratch database; with several, the median ratio is printed too.")
    var rounds: Int = 1

    @Flag(help: "Keep the scratch databases afterwards.")
    var keep = false

    @Flag(
        name: .customLong("with-token"),
        help: "Send every POST with an events:write token (access control on), to measure what auth costs.")
    var withToken = false

    func validate() throws {
        guard calls > 0, clients > 0, batch > 0, rounds > 0 else {
            throw ValidationError("--calls, --clients, --batch and --rounds must be positive")
        }
    }

    func run() async throws {
        let logger = benchLogger()
        let (server, embedded) = try EmbeddedPostgres.locate(
            databaseURL: database.databaseURL, dataDirectory: database.dataDirectory, logger: logger)
        defer { embedded?.stop() }

        // The traffic, built before any clock starts.
        // The simulator's contact center: every scenario in its default mix, monitor copies and reused callIDs.
        var traffic = Traffic.Options()
        traffic.calls = calls
        traffic.rate = 20
        traffic.agents = 200
        let events = Array(Traffic(traffic))
        let bodies = stride(from: 0, to: events.count, by: batch).map {
            ByteBuffer(string: "[" + events[$0..<min($0 + batch, events.count)].joined(separator: ",") + "]")
        }
        let bytes = bodies.reduce(0) { $0 + $1.readableBytes }
        print(
            "bench ingest\(withToken ? " with a token" : ""): \(events.count) events in \(bodies.count) batches of \(batch), \(clients) clients, "
                + "\(bytes / max(events.count, 1)) bytes/event; "
                + "\(benchMachine())")

        var ratios: [Double] = []
        for round in 1...rounds {
            let ratio = try await withScratchDatabase(
                server, name: "calltrail_bench_\(Int(Date().timeIntervalSince1970))_\(round)", keep: keep,
                logger: logger
            ) { scratch in
                try await benchCheckpoint(server, logger: logger)
                if rounds > 1 { print("round \(round):") }
                let http = try await measureHTTP(bodies: bodies, events: events.count, scratch: scratch, logger: logger)
                let ingestRate = http.eventsPerSecond
                try await benchCheckpoint(server, logger: logger)
                let rawRate = try await measureRawInserts(events: events, scratch: scratch, logger: logger)
                print(String(format: "HTTP ingest:        %10.0f events/s", ingestRate))
                // The projector is derived work and runs behind the requests (`BackgroundThreadExecutor`): how long it
                // took to catch up after the last POST, and so the rate of the whole path from POST to journey and feed.
                print(
                    String(
                        format:
                            "projected:          %10.0f events/s from the first POST until projected, caught up %.1f s after the last%@",
                        http.projectedPerSecond, http.catchUp.seconds, http.lag > 0 ? " (still \(http.lag) behind)" : ""
                    ))
                print(String(format: "raw batched INSERT: %10.0f rows/s", rawRate))
                print(String(format: "ratio:              %10.2f", ingestRate / rawRate))
                return ingestRate / rawRate
            }
            ratios.append(ratio)
        }
        if rounds > 1 {
            let sorted = ratios.sorted()
            let median =
                sorted.count % 2 == 1
                ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
            print(
                String(
                    format: "median ratio over %d rounds: %.2f (%.2f–%.2f)", rounds, median, sorted.first!, sorted.last!
                ))
        }
    }

    struct HTTPResult {
        var eventsPerSecond: Double
        /// Events over the time from the first POST until the projections had them all.
        var projectedPerSecond: Double
        var catchUp: Duration
        /// Events still unprojected when the wait gave up (0: caught up).
        var lag: Int
    }

    private func measureHTTP(
        bodies: [ByteBuffer], events: Int, scratch: DatabaseURL, logger: Logger
    ) async throws -> HTTPResult {
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let arguments = BenchAppArguments(
            databaseURL: scratch.urlString, migrationsDirectory: database.migrationsDirectory)
        let app = try await buildApplication(arguments) { port in portContinuation.yield(port) }
        let group = ServiceGroup(services: [app], gracefulShutdownSignals: [], logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw ValidationError("the server did not start") }

            var configuration = HTTPClient.Configuration()
            configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = clients
            let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            let base = "http://127.0.0.1:\(port)"
            let admin = withToken ? try await benchToken(http, base: base, name: "bench-admin", scopes: ["admin"]) : nil
            let writer =
                withToken
                ? try await benchToken(http, base: base, name: "bench-ingest", scopes: ["events:write"], admin: admin)
                : nil
            let started = ContinuousClock.now
            try await forEachJob(bodies.count, workers: clients) { index in
                var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/events")
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/json")
                if let writer { request.headers.add(name: "Authorization", value: "Bearer \(writer)") }
                request.body = .bytes(bodies[index])
                let response = try await http.execute(request, timeout: .seconds(120))
                let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
                guard response.status == .ok else { throw ValidationError("POST failed: \(response.status) \(text)") }
            }
            let elapsed = ContinuousClock.now - started
            // The projector is derived work and runs behind the requests (`BackgroundThreadExecutor`): say how
            // long it took to catch up after the last POST, and so the rate of the whole path, log to feed.
            let lag = try await FeedBenchCommand.waitForProjection(http, base, token: admin)
            let projected = ContinuousClock.now - started
            try await http.shutdown()
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()

            let stored = try await DatabaseBootstrap.withTemporaryClient(scratch, logger: logger) { client in
                var count: Int64 = 0
                for try await value in try await client.query("SELECT count(*) FROM events WHERE source <> 'calltrail'")
                    .decode(Int64.self)
                {
                    count = value
                }
                return count
            }
            guard stored == events else { throw ValidationError("stored \(stored) events, sent \(events)") }
            return HTTPResult(
                eventsPerSecond: Double(events) / elapsed.seconds,
                projectedPerSecond: Double(events) / projected.seconds,
                catchUp: projected - elapsed, lag: lag)
        }
    }

    /// The same rows through the same unnest INSERT, into a table with the events table's columns, constraints
    /// and indexes, positions and versions computed up front.
    private func measureRawInserts(events: [String], scratch: DatabaseURL, logger: Logger) async throws -> Double {
        let body = Array(("[" + events.joined(separator: ",") + "]").utf8)
        let parseStarted = ContinuousClock.now
        let parsed = try IngestBatchParser.parse(body)
        print(
            String(
                format: "parse alone:        %10.0f events/s",
                Double(parsed.count) / (ContinuousClock.now - parseStarted).seconds))
        var versions: [String: Int64] = [:]
        let rows = parsed.enumerated().map { index, event -> RawRow in
            let version = event.ucid.map { ucid -> Int64 in
                versions[ucid.rawValue, default: 0] += 1
                return versions[ucid.rawValue]!
            }
            return RawRow(position: Int64(index + 1), event: event, version: version)
        }
        let batches = stride(from: 0, to: rows.count, by: batch).map { Array(rows[$0..<min($0 + batch, rows.count)]) }
        return try await DatabaseBootstrap.withTemporaryClient(scratch, logger: logger) { client in
            // The same rows in one plain table with the columns, constraints and indexes of the log and the bodies.
            try await client.query(
                """
                CREATE TABLE bench_raw (
                    position bigint PRIMARY KEY, id text NOT NULL UNIQUE, source text NOT NULL, switch text NOT NULL,
                    seq bigint, monitor bigint, type text NOT NULL, known_type boolean NOT NULL, time timestamptz NOT NULL,
                    ucid text, stream_version integer, call_id bigint, body json NOT NULL,
                    stored_at timestamptz NOT NULL DEFAULT now(),
                    CHECK ((ucid IS NULL) = (stream_version IS NULL)))
                """)
            try await client.query("CREATE UNIQUE INDEX ON bench_raw (ucid, stream_version) WHERE ucid IS NOT NULL")
            let started = ContinuousClock.now
            try await forEachJob(batches.count, workers: clients) { index in
                try await client.query(RawRow.insert(batches[index]), logger: logger)
            }
            return Double(rows.count) / (ContinuousClock.now - started).seconds
        }
    }

    /// CHECKPOINT needs a superuser (or pg_checkpoint); without one the phases simply start as they are.
}

private struct RawRow: Sendable {
    var position: Int64
    var event: IncomingEvent
    var version: Int64?

    static func insert(_ rows: [RawRow]) -> PostgresQuery {
        let null = Int64.min
        return """
            INSERT INTO bench_raw (position, id, source, switch, seq, monitor, type, known_type, time, ucid, stream_version, call_id, body)
            SELECT p, i, src, sw, NULLIF(sq, \(null)), NULLIF(m, \(null)), t, k, tm, NULLIF(u, ''),
                   NULLIF(v, \(null))::int, NULLIF(c, \(null)), b::json
            FROM unnest(\(rows.map(\.position))::bigint[], \(rows.map(\.event.id))::text[], \(rows.map(\.event.source))::text[],
                        \(rows.map(\.event.switchName))::text[], \(rows.map { $0.event.seq ?? null })::bigint[],
                        \(rows.map { $0.event.monitor ?? null })::bigint[], \(rows.map(\.event.type))::text[],
                        \(rows.map { $0.event.eventType != nil })::bool[], \(rows.map(\.event.time))::timestamptz[],
                        \(rows.map { $0.event.ucid?.rawValue ?? "" })::text[], \(rows.map { $0.version ?? null })::bigint[],
                        \(rows.map { $0.event.callID ?? null })::bigint[], \(rows.map(\.event.rawJSON))::text[])
              AS r(p, i, src, sw, sq, m, t, k, tm, u, v, c, b)
            """
    }
}

/// The in-process server of the benchmark: port 0, quiet logs.
struct BenchAppArguments: AppArguments {
    var hostname = "127.0.0.1"
    var port = 0
    var databaseURL: String?
    var dataDirectory = "unused"
    var maxBodyBytes = 64 * 1024 * 1024
    var logLevel = Logger.Level.warning
    var migrationsDirectory: String?
}

/// Runs jobs 0..<count on `workers` concurrent workers, each taking the next job when it is free, as a client
/// with a fixed number of connections does.
func forEachJob(_ count: Int, workers: Int, _ job: @escaping @Sendable (Int) async throws -> Void) async throws {
    let next = Ticket()
    try await withThrowingTaskGroup(of: Void.self) { group in
        for _ in 0..<workers {
            group.addTask {
                while case let index = next.take(), index < count { try await job(index) }
            }
        }
        try await group.waitForAll()
    }
}

/// Hands out 0, 1, 2, … to concurrent workers sharing one list of jobs.
final class Ticket: Sendable {
    private let counter = Atomic<Int>(0)
    func take() -> Int { counter.add(1, ordering: .relaxed).oldValue }
}
