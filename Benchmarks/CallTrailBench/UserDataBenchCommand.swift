import ArgumentParser
import AsyncHTTPClient
import CommandSupport
import EventStore
import Foundation
import NIOCore
import NIOHTTP1
import PostgresNIO
import Synchronization

/// `calltrail-bench userdata`: the UUI key service's latency at a steady request rate (targets: get
/// p99 under 2 ms at 2,000 requests/s, set p99 under 10 ms at 500 requests/s).
///
/// Open loop: requests are sent on a fixed schedule whether or not earlier ones have answered, and each
/// latency is counted from the moment its request was due, so a stall shows in the figures instead of
/// slowing the client down (no coordinated omission). On a database of its own, `calltrail_bench_userdata`,
/// made afresh each run, served by a `calltrail serve` process the benchmark starts (the client's tasks would
/// otherwise queue on the server's threads; `--in-process` measures that way anyway).
struct UserDataBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "userdata",
        abstract: "GET and POST /v1/userdata latency at a steady rate (open loop).")

    @OptionGroup var database: DatabaseOptions

    @Option(help: "Keys set before the timed phases; the gets read random ones.")
    var keys = 20_000

    @Option(name: .customLong("get-rate"), help: "GET /v1/userdata/{key} requests per second.")
    var getRate = 2_000

    @Option(name: .customLong("set-rate"), help: "POST /v1/userdata requests per second.")
    var setRate = 500

    @Option(help: "Seconds each timed phase lasts.")
    var seconds = 30

    @Option(help: "Port of the `calltrail serve` process the benchmark starts.")
    var port = 18_091

    @Flag(
        name: .customLong("with-token"),
        help: "Send every request with a token (access control on), to measure what auth costs.")
    var withToken = false

    @Flag(
        name: .customLong("in-process"),
        help: "Serve from the benchmark's own process instead of a `calltrail serve` child.")
    var inProcess = false

    func run() async throws {
        let logger = benchLogger()
        let (server, embedded) = try EmbeddedPostgres.locate(
            databaseURL: database.databaseURL, dataDirectory: database.dataDirectory, logger: logger)
        defer { embedded?.stop() }
        let scratch = server.with(database: "calltrail_bench_userdata")
        try await DatabaseBootstrap.withTemporaryClient(server, logger: logger) { client in
            try await client.query(
                PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(scratch.database) WITH (FORCE)"), logger: logger)
            try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(scratch.database)"), logger: logger)
        }
        print(
            "bench userdata\(withToken ? " with a token" : ""): \(keys) keys, get \(getRate)/s and set \(setRate)/s for \(seconds) s each, "
                + "server \(inProcess ? "in this process" : "in a calltrail serve process"); \(benchMachine())")

        let keyCount = keys
        let (getRate, setRate, seconds, withToken) = (self.getRate, self.setRate, self.seconds, self.withToken)
        let load: @Sendable (HTTPClient, String) async throws -> Void = { http, base in
            // With `--with-token`: an IVR's token that reads and writes user data, as a real deployment runs.
            let token =
                withToken
                ? try await benchToken(
                    http, base: base, name: "bench-ivr", scopes: ["userdata:read", "userdata:write"],
                    admin: try await benchToken(http, base: base, name: "bench-admin", scopes: ["admin"])) : nil
            // Keys as an IVR sets them: a small form, with a TTL.
            let started = ContinuousClock.now
            let made = Made()
            try await forEachJob(keyCount, workers: 16) { index in
                let key = try await Self.set(http, base, index: index, token: token).key
                await made.add(key)
            }
            let keys = await made.keys
            print(String(format: "setup:  %d keys set in %.1f s", keys.count, (ContinuousClock.now - started).seconds))
            try await benchCheckpoint(server, logger: logger)

            let gets = try await Self.openLoop(rate: getRate, seconds: seconds) { index in
                let key = keys[(index &* 7919) % keys.count]
                var request = HTTPClientRequest(url: "\(base)/v1/userdata/\(key)")
                if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
                let response = try await http.execute(request, timeout: .seconds(30))
                _ = try await response.body.collect(upTo: 1 << 20)
                guard response.status == .ok else { throw BenchError("GET \(key): \(response.status)") }
            }
            print("GET /v1/userdata/{key} at \(getRate)/s:  \(gets.summary)")

            let sets = try await Self.openLoop(rate: setRate, seconds: seconds) { index in
                _ = try await Self.set(http, base, index: keyCount + index, token: token)
            }
            print("POST /v1/userdata at \(setRate)/s:       \(sets.summary)")
        }
        if inProcess {
            try await withBenchServer(
                databaseURL: scratch.urlString, migrationsDirectory: database.migrationsDirectory, logger: logger, load)
        } else {
            try await withServerProcess(
                databaseURL: scratch.urlString, migrationsDirectory: database.migrationsDirectory, port: port,
                logger: logger, load)
        }
    }

    final class FailureCount: Sendable {
        let value = Atomic<Int>(0)
    }

    actor Made {
        var keys: [String] = []
        func add(_ key: String) { keys.append(key) }
    }

    static func set(
        _ http: HTTPClient, _ base: String, index: Int, token: String?
    ) async throws -> (key: String, status: HTTPResponseStatus) {
        var request = HTTPClientRequest(url: "\(base)/v1/userdata")
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "CallTrail-Actor", value: "bench-ivr")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        request.body = .bytes(
            ByteBuffer(
                string: """
                    {"data":{"account":"\(1_000_000 + index)","intent":"billing","language":"fr","verified":true,\
                    "lastPayment":{"amount":"42.50","date":"2026-11-01"},"notes":"caller asked about the November invoice"},\
                    "ttlSeconds":3600}
                    """))
        let response = try await http.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .created else { throw BenchError("POST /v1/userdata: \(response.status)") }
        let key = String(buffer: body).split(separator: "\"key\":\"").dropFirst().first?.prefix(20)
        return (key.map(String.init) ?? "", response.status)
    }

    /// Sends `rate` requests a second for `seconds` on a fixed schedule; the first second warms up and is not
    /// counted. Returns the latency of each counted request, from when it was due to its last byte. A failed
    /// request is counted and its error kept for the report, not thrown, so one failure does not end the run.
    static func openLoop(
        rate: Int, seconds: Int, _ request: @escaping @Sendable (Int) async throws -> Void
    ) async throws -> Latencies {
        let total = rate * (seconds + 1)
        let interval = Duration.nanoseconds(1_000_000_000 / Int64(rate))
        let start = ContinuousClock.now + .milliseconds(50)
        let reported = FailureCount()
        // A fixed set of senders, each taking every `senders`-th slot of the schedule, rather than a task per
        // request: the client's own overhead shares the 2 cores with the server. A sender still busy when its
        // next slot comes sends late, and that lateness is in the latency, which counts from the slot.
        let senders = 32
        var latencies: [Double] = []
        latencies.reserveCapacity(total)
        try await withThrowingTaskGroup(of: [Double].self) { group in
            for sender in 0..<senders {
                group.addTask {
                    var mine: [Double] = []
                    for index in stride(from: sender, to: total, by: senders) {
                        let due = start + interval * index
                        try await Task.sleep(until: due, clock: .continuous)
                        do {
                            try await request(index)
                            if index >= rate { mine.append((ContinuousClock.now - due).seconds * 1000) }
                        } catch {
                            if reported.value.add(1, ordering: .relaxed).oldValue < 3 {
                                print("request \(index) failed: \(error)")
                            }
                            mine.append(-1)
                        }
                    }
                    return mine
                }
            }
            for try await part in group { latencies += part }
        }
        let failed = latencies.filter { $0 < 0 }.count
        var result = Latencies(latencies.filter { $0 >= 0 })
        result.failures = failed
        return result
    }
}
