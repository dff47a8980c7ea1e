import ArgumentParser
import AsyncHTTPClient
import CallModel
import CallTrailServer
import CommandSupport
import EventStore
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import PostgresNIO
import Projections
import ServiceLifecycle
import Simulator
import TSAPI

/// `calltrail-bench projections`: how fast the journeys are projected, live and on rebuild, and how fast a CRM's
/// lookups are answered once the store holds millions of events.
///
/// Phases, on a database of its own (`calltrail_bench_projections`, kept for the next run):
/// 1. load: simulated traffic of `--agents` agents, appended in log order until the store holds `--events`
///    (skipped when the database already holds them);
/// 2. live: the service's projector, batch by batch with its checkpoint, over the first `--live-events`;
/// 3. rebuild: `calltrail projections rebuild` over the whole store, swapped in;
/// 4. lookups: `GET /v1/calls/{ucid}` and `GET /v1/journeys/{id}` over HTTP for random UCIDs, p50 and p99.
struct ProjectionsBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "projections",
        abstract: "Projection throughput (live and rebuild) and lookup latency over a large store.")

    @OptionGroup var database: DatabaseOptions

    @Option(help: "Events the store should hold.")
    var events = 10_000_000

    @Option(name: .customLong("live-events"), help: "Events the live projector is timed over.")
    var liveEvents = 1_000_000

    @Option(help: "Agent stations of the simulated contact center.")
    var agents = 200

    @Option(help: "Calls per simulated second.")
    var rate = 10.0

    @Option(help: "Lookups of each kind.")
    var lookups = 5_000

    @Flag(help: "Drop and reload the benchmark database even if it already holds the events.")
    var reload = false

    func run() async throws {
        let logger = benchLogger()
        let (server, embedded) = try EmbeddedPostgres.locate(
            databaseURL: database.databaseURL, dataDirectory: database.dataDirectory, logger: logger)
        defer { embedded?.stop() }
        let scratch = server.with(database: "calltrail_bench_projections")
        let migrations = try Migration.load(
            from: database.migrationsDirectory.map { URL(fileURLWithPath: $0) } ?? Migration.defaultDirectory())
        print("bench projections: \(events) events, \(agents) agents, \(rate) calls/s; \(benchMachine())")

        let stored = try await storedEvents(server: server, scratch: scratch, logger: logger)
        // The traffic is whole calls, so the store holds about `events`, not exactly.
        let mustLoad = reload || Double(stored) < Double(events) * 0.9
        if mustLoad {
            try await DatabaseBootstrap.withTemporaryClient(server, logger: logger) { client in
                try await client.query(
                    PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(scratch.database) WITH (FORCE)"), logger: logger
                )
                try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(scratch.database)"), logger: logger)
            }
        }
        let role = try await DatabaseBootstrap.migrate(scratch, migrations: migrations, logger: logger)
        if mustLoad {
            try await load(scratch, role: role, logger: logger)
        } else {
            print("load:     skipped, the database holds \(stored) events (--reload to redo)")
        }
        try await benchCheckpoint(server, logger: logger)

        try await DatabaseBootstrap.withTemporaryClient(scratch, role: role, logger: logger) { client in
            let store = PostgresJourneyStore(client: client, logger: logger)
            try await measureLive(store, logger: logger)
            let report = try await ProjectionRebuilder(store: store, logger: logger).run()
            print(
                String(
                    format: "rebuild:  %10.0f events/s (%d events, %d journeys, %.1f s)",
                    report.eventsPerSecond, report.events, report.journeys, report.seconds))
            var unfinished: Int64 = 0
            for try await count in try await client.query(
                "SELECT count(*) FROM projection.journeys WHERE outcome IS NULL", logger: logger
            ).decode(Int64.self) {
                unfinished = count
            }
            print("journeys without an outcome: \(unfinished)")
        }
        try await benchCheckpoint(server, logger: logger)
        try await measureLookups(scratch, logger: logger)
    }

    private func storedEvents(server: DatabaseURL, scratch: DatabaseURL, logger: Logger) async throws -> Int64 {
        let exists = try await DatabaseBootstrap.withTemporaryClient(server, logger: logger) { client in
            var found = false
            for try await _ in try await client.query(
                "SELECT 1 FROM pg_database WHERE datname = \(scratch.database)", logger: logger
            ).decode(Int.self) {
                found = true
            }
            return found
        }
        guard exists else { return 0 }
        return
            (try? await DatabaseBootstrap.withTemporaryClient(scratch, logger: logger) { client in
                try await PostgresEventStore(client: client, logger: logger).headPosition()
            }) ?? 0
    }

    /// Appends simulated traffic in log order (one transaction at a time, so each call's events keep their
    /// order), parsing the next batch while the current one commits.
    private func load(_ scratch: DatabaseURL, role: String?, logger: Logger) async throws {
        var options = Traffic.Options()
        options.agents = agents
        options.rate = rate
        // Enough calls for the events (about 13 each), every one played to its end.
        options.calls = events / 13
        let batchSize = 2_000
        let trafficOptions = options
        let started = ContinuousClock.now
        try await DatabaseBootstrap.withTemporaryClient(scratch, role: role, logger: logger) { client in
            let store = PostgresEventStore(client: client, logger: logger)
            var traffic = Traffic(trafficOptions)
            var loaded = 0
            func nextBatch() throws -> [IncomingEvent] {
                var lines: [String] = []
                lines.reserveCapacity(batchSize)
                while lines.count < batchSize, let line = traffic.next() { lines.append(line) }
                return lines.isEmpty ? [] : try IngestBatchParser.parse(Array(lines.joined(separator: "\n").utf8))
            }
            var batch = try nextBatch()
            while !batch.isEmpty {
                // The next batch is parsed while this one commits.
                let sending = batch
                loaded += sending.count
                async let appended = store.append([sending])
                let next = try nextBatch()
                _ = try await appended
                batch = next
                if loaded % 500_000 < batchSize {
                    print(
                        String(
                            format: "  loaded %d events (%.0f events/s)", loaded,
                            Double(loaded) / (ContinuousClock.now - started).seconds))
                }
            }
            print(
                String(
                    format: "load:     %10.0f events/s (%d events, %d calls, in log order)",
                    Double(loaded) / (ContinuousClock.now - started).seconds,
                    loaded, traffic.callsGenerated))
        }
    }

    /// The service's projector from position 0 over the first `liveEvents`: read, reduce, write, checkpoint.
    private func measureLive(_ store: PostgresJourneyStore, logger: Logger) async throws {
        try await store.resetLive()
        let projector = JourneyProjector(store: store, logger: logger)
        var state = try await projector.restore()
        let started = ContinuousClock.now
        var projected = 0
        while projected < liveEvents {
            let count = try await projector.step(&state)
            if count == 0 { break }
            projected += count
        }
        let seconds = (ContinuousClock.now - started).seconds
        print(
            String(
                format: "live:     %10.0f events/s (%d events in batches of %d, one transaction each)",
                Double(projected) / seconds, projected, projector.batchSize))
    }

    /// Lookups over HTTP against the service in this process, one at a time, for random UCIDs of the store.
    private func measureLookups(_ scratch: DatabaseURL, logger: Logger) async throws {
        let ucids = try await DatabaseBootstrap.withTemporaryClient(scratch, logger: logger) { client in
            var ucids: [String] = []
            for try await ucid in try await client.query(
                "SELECT ucid FROM projection.journey_ucids ORDER BY random() LIMIT \(lookups)", logger: logger
            ).decode(String.self) {
                ucids.append(ucid)
            }
            return ucids
        }
        guard !ucids.isEmpty else { throw ValidationError("no journeys to look up") }
        let agents = self.agents
        try await withBenchServer(
            databaseURL: scratch.urlString, migrationsDirectory: database.migrationsDirectory, logger: logger
        ) { http, base in
            for (name, path) in [("GET /v1/calls/{ucid}", "/v1/calls/"), ("GET /v1/journeys/{id}", "/v1/journeys/")] {
                var latencies: [Double] = []
                let warmUp = min(200, ucids.count / 5)
                for (index, ucid) in (Array(ucids.prefix(warmUp)) + ucids).enumerated() {
                    let started = ContinuousClock.now
                    let response = try await http.execute(
                        HTTPClientRequest(url: "\(base)\(path)\(ucid)"), timeout: .seconds(30))
                    _ = try await response.body.collect(upTo: 16 << 20)
                    guard response.status == .ok else { throw ValidationError("\(path)\(ucid): \(response.status)") }
                    // The first few warm the connection; they are asked again among the timed ones.
                    if index >= warmUp { latencies.append((ContinuousClock.now - started).seconds * 1000) }
                }
                latencies.sort()
                print(
                    String(
                        format: "%@: p50 %.2f ms, p99 %.2f ms, max %.2f ms (%d lookups)", name,
                        latencies[latencies.count / 2], latencies[min(latencies.count - 1, latencies.count * 99 / 100)],
                        latencies.last!, latencies.count))
            }
            // A one-day search, page by page with the cursor, and filtered by agent.
            var latencies: [Double] = []
            var cursor: String?
            for index in 0..<(ucids.count / 10 + 20) {
                var path = "/v1/journeys?from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z&limit=100"
                if index % 2 == 1 {
                    path += "&agent=\(5001 + index % agents)"
                } else if let cursor {
                    path += "&cursor=\(cursor)"
                }
                let started = ContinuousClock.now
                let response = try await http.execute(HTTPClientRequest(url: "\(base)\(path)"), timeout: .seconds(30))
                let body = try await response.body.collect(upTo: 64 << 20)
                guard response.status == .ok else { throw ValidationError("\(path): \(response.status)") }
                if index >= 20 { latencies.append((ContinuousClock.now - started).seconds * 1000) }
                if index % 2 == 0 {
                    cursor =
                        (try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any])?[
                            "nextCursor"] as? String
                }
            }
            latencies.sort()
            print(
                String(
                    format:
                        "GET /v1/journeys?from=&to= (one day, 100 a page, by cursor or agent): p50 %.2f ms, p99 %.2f ms (%d searches)",
                    latencies[latencies.count / 2], latencies[min(latencies.count - 1, latencies.count * 99 / 100)],
                    latencies.count))
        }
    }
}
