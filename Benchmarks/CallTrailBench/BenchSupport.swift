import AsyncHTTPClient
import CallTrailServer
import EventStore
import Foundation
import Logging
import NIOHTTP1
import PostgresNIO
import ServiceLifecycle

/// The machine a benchmark ran on, for its report: cores and CPU model.
func benchMachine() -> String {
    let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let model = info.split(separator: "\n").first { $0.hasPrefix("model name") }
        .map { $0.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "" }
    return "\(ProcessInfo.processInfo.activeProcessorCount) cores, \(model ?? "unknown CPU")"
}

/// A CHECKPOINT between phases, so that no phase pays for the previous one's dirty pages; then the rest of the
/// machine's dirty page cache is written out too (`benchFlushPageCache`).
func benchCheckpoint(_ server: DatabaseURL, logger: Logger) async throws {
    do {
        _ = try await DatabaseBootstrap.withTemporaryClient(server, logger: logger) { client in
            try await client.query("CHECKPOINT", logger: logger)
        }
    } catch {
        print("(no CHECKPOINT between phases: \(String(reflecting: error).prefix(80)))")
    }
    _ = benchFlushPageCache()
}

/// Writes the whole machine's dirty page cache to disk, and returns how many MB were dirty. Linux writes dirty
/// pages back about 30 s after they were first dirtied, all at once, and every commit waits behind that: without
/// this, the output of a build that finished just before a run is written back in the middle of its counted
/// seconds (one such run of `bench feed` had an offer p99 of 36 ms and a max of 188 ms; the next, 16 and 32 ms).
func benchFlushPageCache() -> Int {
    let meminfo = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
    let dirtyKB =
        meminfo.split(separator: "\n").first { $0.hasPrefix("Dirty:") }
        .flatMap { $0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first }
        .flatMap { Int($0) } ?? 0
    sync()  // blocks one of the shared threads until the disk is done: fine between a benchmark's phases
    return dirtyKB / 1024
}

/// The benchmarks' logger: warnings only, so the figures stay readable.
func benchLogger() -> Logger {
    var logger = Logger(label: "bench")
    logger.logLevel = .warning
    return logger
}

/// Runs `body` against a CallTrail server (the real application, in this process) on `databaseURL`, with an
/// HTTP client for it, then stops both.
func withBenchServer(
    databaseURL: String, migrationsDirectory: String?, logger: Logger,
    _ body: @Sendable (_ http: HTTPClient, _ base: String) async throws -> Void
) async throws {
    let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
    let app = try await buildApplication(
        BenchAppArguments(databaseURL: databaseURL, migrationsDirectory: migrationsDirectory)
    ) { port in portContinuation.yield(port) }
    let group = ServiceGroup(services: [app], gracefulShutdownSignals: [], logger: logger)
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw BenchError("the server did not start") }
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 32
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            try await body(http, "http://127.0.0.1:\(port)")
        } catch {
            print("bench failed: \(error)")
            try? await http.shutdown()
            await group.triggerGracefulShutdown()
            throw error
        }
        try await http.shutdown()
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
    }
}

/// Runs `body` on a new database on `server` named `name`, and drops it afterwards (unless `keep`), whether
/// `body` succeeded or threw, before returning: a benchmark leaves no scratch database behind.
func withScratchDatabase<Result>(
    _ server: DatabaseURL, name: String, keep: Bool = false, logger: Logger,
    _ body: (DatabaseURL) async throws -> Result
) async throws -> Result {
    let scratch = server.with(database: name)
    _ = try await DatabaseBootstrap.withTemporaryClient(server, logger: logger) { client in
        try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(scratch.database)"), logger: logger)
    }
    func drop() async {
        guard !keep else { return }
        _ = try? await DatabaseBootstrap.withTemporaryClient(server, logger: logger) { client in
            try await client.query(
                PostgresQuery(unsafeSQL: "DROP DATABASE \(scratch.database) WITH (FORCE)"), logger: logger)
        }
    }
    do {
        let result = try await body(scratch)
        await drop()
        return result
    } catch {
        await drop()
        throw error
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Latencies in milliseconds, and the percentiles a report gives.
struct Latencies {
    var values: [Double]
    /// Requests that failed; a figure with failures is not a result.
    var failures = 0

    init(_ values: [Double]) { self.values = values.sorted() }

    func percentile(_ p: Int) -> Double {
        values.isEmpty ? .nan : values[min(values.count - 1, values.count * p / 100)]
    }

    var summary: String {
        String(
            format: "p50 %.2f ms, p99 %.2f ms, max %.2f ms (%d requests", percentile(50), percentile(99),
            values.last ?? .nan, values.count)
            + (failures > 0 ? ", \(failures) FAILED)" : ")")
    }
}

/// Runs `body` against `calltrail serve` in a process of its own on `databaseURL`, so that the benchmark's
/// client does not share the server's threads (it still shares the machine), then stops it with SIGTERM.
func withServerProcess(
    databaseURL: String, migrationsDirectory: String?, port: Int, logger: Logger,
    _ body: @Sendable (_ http: HTTPClient, _ base: String) async throws -> Void
) async throws {
    try await withServerChild(
        databaseURL: databaseURL, migrationsDirectory: migrationsDirectory, port: port, logger: logger
    ) {
        http, child in try await body(http, child.base)
    }
}

/// The `calltrail serve` child of a benchmark: where it listens, and its process id, for the figures only the
/// kernel has about it (resident memory, CPU time).
struct BenchServerChild: Sendable {
    let base: String
    let pid: Int32
}

/// `withServerProcess`, with the child's process id for `body` too.
func withServerChild(
    databaseURL: String, migrationsDirectory: String?, port: Int, extraArguments: [String] = [], logger: Logger,
    _ body: @Sendable (_ http: HTTPClient, _ child: BenchServerChild) async throws -> Void
) async throws {
    let server = Process()
    // The `calltrail` the same build made, beside this benchmark's executable.
    server.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        .appendingPathComponent("calltrail")
    server.arguments =
        ["serve", "--database-url", databaseURL, "--port", String(port), "--log-level", "warning"]
        + (migrationsDirectory.map { ["--migrations", $0] } ?? []) + extraArguments
    try server.run()
    defer {
        if server.isRunning {
            server.terminate()
            server.waitUntilExit()
        }
    }
    var configuration = HTTPClient.Configuration()
    configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 32
    let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    let base = "http://127.0.0.1:\(port)"
    do {
        var ready = false
        for _ in 0..<300 where !ready && server.isRunning {
            if let response = try? await http.execute(HTTPClientRequest(url: "\(base)/ready"), timeout: .seconds(2)),
                response.status == .ok
            {
                ready = true
            } else {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        guard ready else { throw BenchError("calltrail serve did not become ready on port \(port)") }
        try await body(http, BenchServerChild(base: base, pid: server.processIdentifier))
    } catch {
        try? await http.shutdown()
        throw error
    }
    try await http.shutdown()
}

/// Makes an API token through `POST /v1/tokens` (as `admin`, or openly while the server has none) and returns its
/// secret: the benchmarks' `--with-token` runs measure the hot paths with access control on. Once a token exists,
/// every request needs one.
func benchToken(
    _ http: HTTPClient, base: String, name: String, scopes: [String], admin: String? = nil
) async throws -> String {
    var request = HTTPClientRequest(url: "\(base)/v1/tokens")
    request.method = .POST
    request.headers.add(name: "Content-Type", value: "application/json")
    if let admin { request.headers.add(name: "Authorization", value: "Bearer \(admin)") }
    let list = scopes.map { "\"\($0)\"" }.joined(separator: ",")
    request.body = .bytes(ByteBuffer(string: "{\"name\":\"\(name)\",\"scopes\":[\(list)]}"))
    let response = try await http.execute(request, timeout: .seconds(30))
    let text = String(buffer: try await response.body.collect(upTo: 1 << 16))
    guard response.status == .created,
        let secret = text.split(separator: "\"token\":\"").dropFirst().first?.split(separator: "\"").first
    else { throw BenchError("POST /v1/tokens: \(response.status) \(text)") }
    return String(secret)
}
