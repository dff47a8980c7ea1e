import ArgumentParser
import AsyncHTTPClient
import CommandSupport
import EventStore
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOWebSocket
import PostgresNIO
import Simulator
import Synchronization
import TSAPI
import WSClient

#if canImport(Glibc)
import Glibc
#endif

/// `calltrail-bench feed`: how soon an agent's desktop hears of a call, and what idle desktops cost the server.
///
/// Phase 1 (issue's target: p99 under 20 ms on 2 cores): one subscriber follows a probe station; while simulated
/// contact-center traffic is posted at `--rate` events a second, probes post a Delivered to that station on a
/// fixed schedule, and each latency runs from just before its POST to the arrival of its `offer` at the
/// subscriber. Both the traffic and the probes are open loop: a slow server makes the figures worse, never the
/// load lighter. Phase 2 (target: under 200 MB resident): `--idle` subscribers, one station each, go live and sit
/// idle while the server's resident memory is read from `/proc`.
///
/// The server is a `calltrail serve` child on a database of its own, `calltrail_bench_feed`, made afresh each run:
/// its memory must be its own, and the client's tasks would otherwise queue on its threads. PostgreSQL's memory
/// is not in the figure; its CPU is, in the machine's.
struct FeedBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feed",
        abstract: "Offer latency at a feed subscriber under background traffic; server memory with idle subscribers.")

    @OptionGroup var database: DatabaseOptions

    @Option(help: "Background events per second, posted while the probes run.")
    var rate = 2_000

    @Option(name: .customLong("probes-per-second"), help: "Probe Delivered events per second.")
    var probesPerSecond = 20

    @Option(help: "Seconds of counted probes.")
    var seconds = 30

    @Option(help: "Seconds of traffic and probes before the counted ones.")
    var warmup = 5

    @Option(help: "Idle WebSocket subscribers of the memory phase.")
    var idle = 5_000

    @Option(name: .customLong("idle-seconds"), help: "Seconds the idle subscribers sit before the last reading.")
    var idleSeconds = 5

    @Option(help: "Port of the `calltrail serve` process the benchmark starts.")
    var port = 18_092

    @Flag(
        name: .customLong("no-analyze"),
        help: "Do not ANALYZE the fresh database during the warm-up (see the report's note).")
    var noAnalyze = false

    @Option(
        help:
            "CSV file to write every probe to (when it was posted, its commit and offer milliseconds), to look for a pattern."
    )
    var samples: String?

    func validate() throws {
        guard rate > 0, probesPerSecond > 0, seconds > 0, warmup >= 0, idle >= 0, idleSeconds >= 0 else {
            throw ValidationError(
                "--rate, --probes-per-second and --seconds must be positive; --warmup, --idle and --idle-seconds not negative"
            )
        }
    }

    /// The targets the issue sets.
    static let latencyTargetMilliseconds = 20.0
    static let memoryTargetMegabytes = 200.0
    /// A probe whose offer has not come after this long is a failure.
    static let probeTimeout = Duration.seconds(5)
    /// Background traffic's agents are stations 5001…5200 (site 2's 6001…), so the probe station and the idle
    /// subscribers' stations (20000…) never match it: the probe subscriber sees only probes, the idle ones nothing.
    static let trafficAgents = 200
    static let probeStation = "9999"
    static let firstIdleStation = 20_000

    func run() async throws {
        let logger = benchLogger()
        let (server, embedded) = try EmbeddedPostgres.locate(
            databaseURL: database.databaseURL, dataDirectory: database.dataDirectory, logger: logger)
        defer { embedded?.stop() }
        let scratch = server.with(database: "calltrail_bench_feed")
        let postgres = try await DatabaseBootstrap.withTemporaryClient(server, logger: logger) { client in
            try await client.query(
                PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(scratch.database) WITH (FORCE)"), logger: logger)
            try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(scratch.database)"), logger: logger)
            var version = "?"
            for try await value in try await client.query("SHOW server_version", logger: logger).decode(String.self) {
                version = value
            }
            return version
        }
        let files = OpenFileLimit.raise(toFit: idle + 512)

        // The traffic, made before any clock starts, one lane per AES link as each link posts its own in order.
        let made = ContinuousClock.now
        let (lines, callRate, simulated) = Self.backgroundTraffic(
            count: rate * (warmup + seconds + 1), eventsPerSecond: rate)
        let lanes = Self.lanes(lines)
        let bytes = lines.reduce(0) { $0 + $1.utf8.count }
        print(
            "bench feed: \(rate) background events/s and \(probesPerSecond) probes/s for \(warmup) s warm-up + \(seconds) s, "
                + "then \(idle) idle subscribers; server in a calltrail serve process; \(benchMachine())")
        print(
            "PostgreSQL \(postgres), "
                + (embedded.map { "private under \($0.dataDirectory.path)" }
                    ?? "at \(server.host ?? server.socketDirectory ?? "?"):\(server.port)")
                + "; open files \(files.description)")
        print(
            String(
                format:
                    "traffic: %d simulated events (%d bytes/event, links %@), %.0f calls/s over %.0f s of event time, "
                    + "made in %.1f s", lines.count, bytes / max(lines.count, 1),
                lanes.map { "\($0.source) \($0.lines.count)" }.joined(separator: ", "), callRate, simulated,
                (ContinuousClock.now - made).seconds))

        print("page cache: \(benchFlushPageCache()) MB of dirty data written out before the server starts")
        let options = self
        try await withServerChild(
            databaseURL: scratch.urlString, migrationsDirectory: database.migrationsDirectory, port: port,
            logger: logger
        ) { http, child in
            let atStart = ResidentMemory.megabytes(pid: child.pid)
            let latency = try await options.measureLatency(
                http, child, lanes: lanes, analyze: options.noAnalyze ? nil : scratch, logger: logger)
            latency.report()

            let caughtUp = ContinuousClock.now
            let lag = try await Self.waitForProjection(http, child.base)
            print(
                String(
                    format: "projector caught up %.1f s after the traffic stopped%@",
                    (ContinuousClock.now - caughtUp).seconds,
                    lag > 0 ? " (still \(lag) behind)" : ""))

            let memory = try await options.measureMemory(child, logger: logger)
            memory.report(atStart: atStart, subscribers: options.idle, idleSeconds: options.idleSeconds)
        }
    }

    // MARK: - Phase 1: offer latency under traffic

    /// `analyze`: the database to ANALYZE two seconds before the counted seconds. A production database has
    /// planner statistics; a fresh one has none until autovacuum's first ANALYZE, up to a minute in, and until then
    /// some of the server's queries slow down as the tables grow: without it the offer latency climbs by about
    /// 10 ms a second of traffic, and drops back at once when autovacuum's ANALYZE comes.
    func measureLatency(
        _ http: HTTPClient, _ child: BenchServerChild, lanes: [Lane], analyze: DatabaseURL?, logger: Logger
    ) async throws -> LatencyResult {
        let book = ProbeBook()
        let ws = child.base.replacingOccurrences(of: "http://", with: "ws://")
        let subscriber = try await FeedConnection.open(
            url: "\(ws)/v1/feed?devices=\(Self.probeStation)&events=offer", logger: logger
        ) { text, arrived in
            guard FeedText.string("eventtype", in: text) == "offer", let ucid = FeedText.string("ucid", in: text) else {
                return
            }
            book.arrived(String(ucid), at: arrived)
        }

        let (rate, probesPerSecond) = (self.rate, self.probesPerSecond)
        let probes = probesPerSecond * (warmup + seconds)
        let firstCounted = probesPerSecond * warmup
        let start = ContinuousClock.now + .milliseconds(100)
        let countedFrom = start + .seconds(warmup)
        let end = start + .seconds(warmup + seconds)
        let background = BackgroundStats()
        let epoch = Int64(Date().timeIntervalSince1970)

        async let cpu = CPUSample.between(countedFrom, end, server: child.pid)
        async let timers = ServerTimers.between(countedFrom, end, http, child.base)
        async let analyzed: Duration? = Self.analyze(
            analyze, at: max(start + .seconds(1), countedFrom - .seconds(2)), logger: logger)
        await withDiscardingTaskGroup { group in
            for lane in lanes {
                group.addTask {
                    await Self.post(lane, http, child.base, rate: rate, start: start, end: end, stats: background)
                }
            }
            let interval = Duration.nanoseconds(1_000_000_000 / Int64(probesPerSecond))
            for index in 0..<probes {
                try? await Task.sleep(until: start + interval * index, clock: .continuous)
                group.addTask {
                    let ucid = UCID(node: 99, sequence: index % 65_535 + 1, time: epoch + Int64(index / 65_535))
                        .rawValue
                    let body = Self.probeEvent(index: index, ucid: ucid)
                    let counted = index >= firstCounted
                    var request = HTTPClientRequest(url: "\(child.base)/v1/events")
                    request.method = .POST
                    request.headers.add(name: "content-type", value: "application/x-ndjson")
                    request.body = .bytes(ByteBuffer(string: body))
                    let posted = ContinuousClock.now
                    book.posted(ucid, index: index, at: posted, counted: counted)
                    do {
                        let response = try await http.execute(request, timeout: .seconds(30))
                        let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
                        guard response.status == .ok else { throw BenchError("probe POST: \(response.status) \(text)") }
                        book.committed(ucid, at: ContinuousClock.now)
                    } catch {
                        book.failed(ucid, error)
                    }
                }
            }
        }
        let (cpuUsage, timerUsage, analyzeTime, afterLast) = (
            await cpu, await timers, await analyzed, ContinuousClock.now
        )
        // The last offers: up to the timeout after the last probe was posted.
        while book.outstanding > 0, ContinuousClock.now < afterLast + Self.probeTimeout {
            try await Task.sleep(for: .milliseconds(20))
        }
        try await subscriber.close()
        let result = book.result(timeout: Self.probeTimeout)
        if let samples {
            var csv = "probe,posted_ms,counted,commit_ms,offer_ms,failure\n"
            for probe in result.probes {
                csv += String(
                    format: "%d,%.1f,%d,", probe.index, (probe.posted - start).seconds * 1000, probe.counted ? 1 : 0)
                csv += [probe.committed, probe.offered].map { $0.map { String(format: "%.2f", $0) } ?? "" }.joined(
                    separator: ",")
                csv +=
                    "," + (probe.failure.map { "\"" + $0.replacingOccurrences(of: "\"", with: "'") + "\"" } ?? "")
                    + "\n"
            }
            try csv.write(toFile: samples, atomically: true, encoding: .utf8)
        }
        return LatencyResult(
            probes: result, background: background.snapshot, rate: rate,
            window: (end - start).seconds, cpu: cpuUsage, timers: timerUsage, analyzed: analyzeTime)
    }

    /// A Delivered to the probe station on a call of its own: its own link, switch, callID and UCID, so that
    /// nothing in the background traffic joins it.
    static func probeEvent(index: Int, ucid: String) -> String {
        let callID = 1 + index
        return """
            {"source":"bench-probe","switch":"cm-probe","seq":\(index + 1),"time":"\(Timestamp.format(Date()))","monitor":299,\
            "type":"CSTA_DELIVERED","csta":{"connection":{"callID":\(callID),"deviceID":"\(probeStation)","devIDType":"STATIC_ID"},\
            "alertingDevice":"\(probeStation)","callingDevice":{"deviceID":"6135550\(String(format: "%03d", index % 1000))",\
            "deviceIDType":"EXPLICIT_PUBLIC_UNKNOWN","deviceIDStatus":"ID_PROVIDED"},"calledDevice":"8005551234",\
            "lastRedirectionDevice":"","localConnectionInfo":"CS_ALERTING","cause":"EC_NONE"},\
            "att":{"deliveredType":"DELIVERED_TO_STATION","trunkGroup":"10","trunkMember":"5","split":"",\
            "userInfo":{"type":"UUI_NONE","data":""},"reason":"AR_NONE","originalCallInfo":{"reason":"OR_NONE"},"ucid":"\(ucid)"}}
            """
    }

    /// ANALYZEs `database` at `instant`; how long it took, or nil if there was none.
    static func analyze(
        _ database: DatabaseURL?, at instant: ContinuousClock.Instant, logger: Logger
    ) async -> Duration? {
        guard let database else { return nil }
        try? await Task.sleep(until: instant, clock: .continuous)
        let started = ContinuousClock.now
        do {
            _ = try await DatabaseBootstrap.withTemporaryClient(database, logger: logger) { client in
                try await client.query("ANALYZE", logger: logger)
            }
            return ContinuousClock.now - started
        } catch {
            print("(no ANALYZE during the warm-up: \(String(reflecting: error).prefix(120)))")
            return nil
        }
    }

    /// The simulator's realistic mix (answered calls, transfers, conferences, abandons…) over `trafficAgents`
    /// stations, in the order the AES links report it, stamped from now on at a call rate that gives
    /// `eventsPerSecond` once calls are under way. The probes carry the wall clock and the server's journeys run
    /// on event time: traffic stamped days earlier would have the first probe end every open call as silent.
    static func backgroundTraffic(
        count: Int, eventsPerSecond: Int
    ) -> (lines: [String], callsPerSecond: Double, seconds: Double) {
        var options = Traffic.Options()
        options.agents = trafficAgents
        options.seed = 7
        options.calls = 2_000
        var sample = Traffic(options)
        while sample.next() != nil {}
        let perCall = Double(sample.eventsEmitted) / Double(max(sample.callsGenerated, 1))
        options.calls = nil
        options.duration = 1e9  // stopped by `count`
        options.rate = Double(eventsPerSecond) / perCall
        options.start = Date()
        var traffic = Traffic(options)
        var lines: [String] = []
        lines.reserveCapacity(count)
        while lines.count < count, let line = traffic.next() { lines.append(line) }
        return (lines, options.rate, traffic.clock.timeIntervalSince(options.start))
    }

    /// The traffic of one AES link, each line with its place in the whole schedule.
    struct Lane: Sendable {
        var source: String
        var lines: [(slot: Int, line: String)]
    }

    static func lanes(_ lines: [String]) -> [Lane] {
        var lanes: [Lane] = []
        for (slot, line) in lines.enumerated() {
            let source = FeedText.string("source", in: line).map(String.init) ?? ""
            if let index = lanes.firstIndex(where: { $0.source == source }) {
                lanes[index].lines.append((slot, line))
            } else {
                lanes.append(Lane(source: source, lines: [(slot, line)]))
            }
        }
        return lanes
    }

    /// How often a lane posts what has come due: a collector batches what its link reported since its last POST.
    static let tick = Duration.milliseconds(25)

    /// Posts `lane` on the schedule of `rate` events a second from `start` until `end`: every tick, one POST of
    /// everything due by then. A POST slower than a tick makes the next one bigger, not later: the rate holds
    /// for as long as the server keeps up, and the lag says by how much it did not.
    static func post(
        _ lane: Lane, _ http: HTTPClient, _ base: String, rate: Int, start: ContinuousClock.Instant,
        end: ContinuousClock.Instant, stats: BackgroundStats
    ) async {
        let slotLength = 1.0 / Double(rate)
        var cursor = 0
        while cursor < lane.lines.count {
            let now = ContinuousClock.now
            guard now < end else { break }
            let due = Int((now - start).seconds / slotLength)
            var stop = cursor
            while stop < lane.lines.count, lane.lines[stop].slot < due { stop += 1 }
            if stop > cursor {
                let lag = (now - start).seconds - Double(lane.lines[cursor].slot) * slotLength
                var request = HTTPClientRequest(url: "\(base)/v1/events")
                request.method = .POST
                request.headers.add(name: "content-type", value: "application/x-ndjson")
                request.body = .bytes(
                    ByteBuffer(string: lane.lines[cursor..<stop].lazy.map(\.line).joined(separator: "\n")))
                do {
                    let response = try await http.execute(request, timeout: .seconds(30))
                    let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
                    guard response.status == .ok else { throw BenchError("\(response.status) \(text.prefix(200))") }
                    stats.posted(events: stop - cursor, lag: lag)
                } catch {
                    stats.failed(events: stop - cursor, error)
                }
                cursor = stop
            }
            let ticks = Int(((ContinuousClock.now - start) / tick).rounded(.down)) + 1
            try? await Task.sleep(until: start + tick * ticks, clock: .continuous)
        }
    }

    /// Waits for the projector to apply everything stored; returns the lag left if it did not within a minute.
    static func waitForProjection(_ http: HTTPClient, _ base: String, token: String? = nil) async throws -> Int {
        var lag = -1
        for _ in 0..<3_000 {
            var request = HTTPClientRequest(url: "\(base)/v1/projections")
            if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
            let response = try await http.execute(request, timeout: .seconds(10))
            let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
            lag = FeedText.integer("lag", in: text) ?? -1
            if lag == 0 { return 0 }
            try await Task.sleep(for: .milliseconds(20))
        }
        return lag
    }

    struct LatencyResult {
        var probes: ProbeBook.Result
        var background: BackgroundStats.Snapshot
        var rate: Int
        /// Seconds the traffic was scheduled over.
        var window: Double
        var cpu: CPUSample.Usage
        var timers: String
        /// How long the warm-up's ANALYZE took, if there was one.
        var analyzed: Duration?

        func report() {
            let offers = probes.latencies
            let met =
                offers.failures == 0 && !offers.values.isEmpty
                && offers.percentile(99) < FeedBenchCommand.latencyTargetMilliseconds
            print(
                String(
                    format:
                        "offer latency (POST → offer at the subscriber): p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms "
                        + "(%d probes%@)", offers.percentile(50), offers.percentile(90), offers.percentile(99),
                    offers.values.last ?? .nan,
                    offers.values.count, offers.failures > 0 ? ", \(offers.failures) FAILED" : ""))
            print(
                String(
                    format: "  of which the POST until committed: p50 %.2f ms, p99 %.2f ms, max %.2f ms",
                    probes.commits.percentile(50), probes.commits.percentile(99), probes.commits.values.last ?? .nan))
            for error in probes.errors { print("  probe failed: \(error)") }
            if probes.unexpected > 0 {
                print("  \(probes.unexpected) offers for no outstanding probe (sent twice, or after the timeout)")
            }
            print(
                String(
                    format:
                        "background: %d events in %d POSTs, %.0f events/s of %d asked; %d POSTs (%d events) failed; "
                        + "lag behind schedule p99 %.0f ms, max %.0f ms", background.events, background.posts,
                    Double(background.events) / window,
                    rate, background.failedPosts, background.failedEvents, background.lags.percentile(99),
                    background.lags.values.last ?? .nan))
            for error in background.errors { print("  background POST failed: \(error)") }
            print("CPU over the counted seconds: \(cpu)")
            print("server timers over the counted seconds: \(timers)")
            print(
                analyzed.map { String(format: "database ANALYZEd during the warm-up (%.0f ms)", $0.seconds * 1000) }
                    ?? "database not ANALYZEd: planner statistics only from autovacuum (--no-analyze, or it failed)")
            print(
                "target p99 < \(Int(FeedBenchCommand.latencyTargetMilliseconds)) ms with no failure: \(met ? "met" : "NOT MET")"
            )
        }
    }

    // MARK: - Phase 2: memory with idle subscribers

    func measureMemory(_ child: BenchServerChild, logger: Logger) async throws -> MemoryResult {
        var result = MemoryResult()
        result.baseline = ResidentMemory.megabytes(pid: child.pid)
        let ws = child.base.replacingOccurrences(of: "http://", with: "ws://")
        let connections = Mutex<[FeedConnection]>([])
        let failures = BackgroundStats()
        let started = ContinuousClock.now
        try await forEachJob(idle, workers: 100) { index in
            do {
                let connection = try await FeedConnection.open(
                    url: "\(ws)/v1/feed?devices=\(Self.firstIdleStation + index)", logger: logger
                ) { _, _ in }
                connections.withLock { $0.append(connection) }
            } catch {
                failures.failed(events: 1, error)
            }
        }
        result.connectSeconds = (ContinuousClock.now - started).seconds
        let open = connections.withLock { $0 }
        result.live = open.count
        result.failures = failures.snapshot
        result.afterLive = ResidentMemory.megabytes(pid: child.pid)
        let idleFrom = ContinuousClock.now
        result.idleCPU = await CPUSample.between(idleFrom, idleFrom + .seconds(idleSeconds), server: child.pid)
        result.afterIdle = ResidentMemory.megabytes(pid: child.pid)

        let closing = ContinuousClock.now
        try await forEachJob(open.count, workers: 100) { index in try? await open[index].close() }
        result.closeSeconds = (ContinuousClock.now - closing).seconds
        try await Task.sleep(for: .seconds(1))
        result.afterClose = ResidentMemory.megabytes(pid: child.pid)
        return result
    }

    struct MemoryResult {
        var baseline: Double?
        var live = 0
        var failures = BackgroundStats.Snapshot()
        var connectSeconds = 0.0
        var afterLive: Double?
        var idleCPU = CPUSample.Usage()
        var afterIdle: Double?
        var closeSeconds = 0.0
        var afterClose: Double?

        func report(atStart: Double?, subscribers: Int, idleSeconds: Int) {
            func mb(_ value: Double?) -> String { value.map { String(format: "%.1f MB", $0) } ?? "unknown" }
            print(
                String(format: "idle subscribers: %d of %d live in %.1f s", live, subscribers, connectSeconds)
                    + (failures.failedEvents > 0 ? ", \(failures.failedEvents) FAILED" : ""))
            for error in failures.errors { print("  subscriber failed: \(error)") }
            var perSubscriber = ""
            if let baseline, let afterLive, live > 0 {
                perSubscriber = String(format: " (%.1f KB a subscriber)", (afterLive - baseline) * 1024 / Double(live))
            }
            print(
                "server RSS: \(mb(atStart)) at start, \(mb(baseline)) after the traffic (baseline), \(mb(afterLive)) with \(live) live"
                    + "\(perSubscriber), \(mb(afterIdle)) after \(idleSeconds) s idle, \(mb(afterClose)) after closing them "
                    + String(format: "(closed in %.1f s)", closeSeconds))
            print("CPU while they sat idle: \(idleCPU)")
            let peak = [afterLive, afterIdle].compactMap { $0 }.max()
            let met = live == subscribers && peak.map { $0 < FeedBenchCommand.memoryTargetMegabytes } == true
            print(
                "target RSS < \(Int(FeedBenchCommand.memoryTargetMegabytes)) MB with \(subscribers) idle subscribers: \(met ? "met" : "NOT MET")"
            )
        }
    }
}

// MARK: - The pieces

/// One WebSocket connection to the feed, served by a task of its own until either side closes it.
final class FeedConnection: Sendable {
    private let task: Task<Void, Never>
    private let outbound: WebSocketOutboundWriter

    private init(task: Task<Void, Never>, outbound: WebSocketOutboundWriter) {
        self.task = task
        self.outbound = outbound
    }

    /// Connects and returns once the server has said the subscriber is live: only from then on is every new
    /// message sure to reach it. `onMessage` gets every other text message, with the time it was read.
    static func open(
        url: String, logger: Logger, timeout: Duration = .seconds(30),
        onMessage: @escaping @Sendable (String, ContinuousClock.Instant) -> Void
    ) async throws -> FeedConnection {
        let (states, continuation) = AsyncStream.makeStream(of: Result<WebSocketOutboundWriter, any Error>.self)
        let task = Task {
            do {
                try await WebSocketClient.connect(url: url, configuration: .init(maxFrameSize: 1 << 20), logger: logger)
                {
                    inbound, outbound, _ in
                    var live = false
                    for try await message in inbound.messages(maxSize: 1 << 20) {
                        let arrived = ContinuousClock.now
                        guard case .text(let text) = message else { continue }
                        if !live, text.hasPrefix("{\"type\":\"live\"") {
                            live = true
                            continuation.yield(.success(outbound))
                        } else if !live, text.hasPrefix("{\"type\":\"error\"") {
                            continuation.yield(.failure(BenchError("the feed refused \(url): \(text)")))
                        } else {
                            onMessage(text, arrived)
                        }
                    }
                }
                continuation.yield(.failure(BenchError("the feed closed \(url) before it was live")))
            } catch {
                continuation.yield(.failure(error))
            }
            continuation.finish()
        }
        do {
            let first = try await withDeadline(timeout) {
                var iterator = states.makeAsyncIterator()
                return await iterator.next()
            }
            guard let first else { throw BenchError("the feed connection to \(url) ended") }
            return FeedConnection(task: task, outbound: try first.get())
        } catch {
            task.cancel()
            throw error
        }
    }

    /// Closes from the client's side and waits for the server's close, at most 10 s.
    func close() async throws {
        try? await outbound.close(.normalClosure, reason: nil)
        let task = self.task
        do {
            try await withDeadline(.seconds(10)) { await task.value }
        } catch {
            task.cancel()
            throw error
        }
    }
}

/// Runs `body`, or throws once `timeout` has passed (cancelling it).
func withDeadline<T: Sendable>(_ timeout: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T
{
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            throw BenchError("nothing within \(timeout)")
        }
        defer { group.cancelAll() }
        guard let first = try await group.next() else { throw CancellationError() }
        return first
    }
}

/// Fields read straight from JSON text the benchmark knows the shape of: a parser would cost the client CPU
/// that the server needs on the same cores.
enum FeedText {
    static func string(_ name: String, in text: String) -> Substring? {
        guard let range = text.range(of: "\"\(name)\":\"") else { return nil }
        return text[range.upperBound...].prefix { $0 != "\"" }
    }

    static func integer(_ name: String, in text: String) -> Int? {
        guard let range = text.range(of: "\"\(name)\":") else { return nil }
        return Int(text[range.upperBound...].prefix { $0 == "-" || $0.isNumber })
    }
}

/// Every probe by UCID, and what became of it.
final class ProbeBook: Sendable {
    struct Probe: Sendable {
        var index: Int
        var posted: ContinuousClock.Instant
        var counted: Bool
        /// Milliseconds from the POST to its response, and to the offer.
        var committed: Double?
        var offered: Double?
        var failure: String?
    }

    private struct State {
        var probes: [String: Probe] = [:]
        var outstanding = 0
        var unexpected = 0
    }

    struct Result {
        var latencies: Latencies
        var commits: Latencies
        var unexpected: Int
        var errors: [String]
        /// Every probe, in the order they were posted.
        var probes: [Probe]
    }

    private let state = Mutex(State())

    func posted(_ ucid: String, index: Int, at instant: ContinuousClock.Instant, counted: Bool) {
        state.withLock { state in
            state.probes[ucid] = Probe(index: index, posted: instant, counted: counted)
            state.outstanding += 1
        }
    }

    func committed(_ ucid: String, at instant: ContinuousClock.Instant) {
        state.withLock { state in
            guard let posted = state.probes[ucid]?.posted else { return }
            state.probes[ucid]?.committed = (instant - posted).seconds * 1000
        }
    }

    func arrived(_ ucid: String, at instant: ContinuousClock.Instant) {
        state.withLock { state in
            guard let probe = state.probes[ucid], probe.offered == nil, probe.failure == nil else {
                state.unexpected += 1
                return
            }
            state.probes[ucid]?.offered = (instant - probe.posted).seconds * 1000
            state.outstanding -= 1
        }
    }

    func failed(_ ucid: String, _ error: any Error) {
        state.withLock { state in
            guard let probe = state.probes[ucid], probe.offered == nil, probe.failure == nil else { return }
            state.probes[ucid]?.failure = String(describing: error)
            state.outstanding -= 1
        }
    }

    var outstanding: Int { state.withLock { $0.outstanding } }

    /// The figures of the counted probes; one with no offer yet never had it within `timeout`.
    func result(timeout: Duration) -> Result {
        state.withLock { state in
            let probes = state.probes.values.sorted { $0.index < $1.index }
            let counted = probes.filter(\.counted)
            let lost = counted.filter { $0.offered == nil && $0.failure == nil }.count
            var latencies = Latencies(counted.compactMap(\.offered))
            latencies.failures = counted.count - latencies.values.count
            var errors = Array(counted.compactMap(\.failure).prefix(3))
            if lost > 0 { errors.append("\(lost) offers did not come within \(timeout)") }
            return Result(
                latencies: latencies, commits: Latencies(counted.compactMap(\.committed)), unexpected: state.unexpected,
                errors: errors, probes: probes)
        }
    }
}

/// What the background lanes (or the idle subscribers' connections) managed.
final class BackgroundStats: Sendable {
    struct Snapshot {
        var posts = 0
        var events = 0
        var failedPosts = 0
        var failedEvents = 0
        /// How far behind its schedule each POST's oldest event went, in milliseconds.
        var lags = Latencies([])
        var errors: [String] = []
    }

    private struct State {
        var posts = 0
        var events = 0
        var failedPosts = 0
        var failedEvents = 0
        var lags: [Double] = []
        var errors: [String] = []
    }

    private let state = Mutex(State())

    func posted(events: Int, lag: Double) {
        state.withLock { state in
            state.posts += 1
            state.events += events
            state.lags.append(lag * 1000)
        }
    }

    func failed(events: Int, _ error: any Error) {
        state.withLock { state in
            state.failedPosts += 1
            state.failedEvents += events
            if state.errors.count < 3 { state.errors.append(String(describing: error)) }
        }
    }

    var snapshot: Snapshot {
        state.withLock { state in
            Snapshot(
                posts: state.posts, events: state.events, failedPosts: state.failedPosts,
                failedEvents: state.failedEvents,
                lags: Latencies(state.lags), errors: state.errors)
        }
    }
}

/// A process's resident memory, from the kernel's own account of it.
enum ResidentMemory {
    static func megabytes(pid: Int32) -> Double? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) })
        else { return nil }
        return kilobytes / 1024
    }
}

/// CPU time of the server, of the benchmark and of the whole machine, from `/proc`: with 2 cores shared by the
/// server, PostgreSQL and the client, a latency figure means little without where the cores went.
struct CPUSample {
    var server: Double
    var bench: Double
    var busy: Double
    var total: Double
    var at: ContinuousClock.Instant

    struct Usage: CustomStringConvertible {
        /// Percent of one core.
        var server = 0.0
        var bench = 0.0
        var machine = 0.0
        var cores = ProcessInfo.processInfo.activeProcessorCount

        var description: String {
            String(
                format:
                    "server %.0f%%, bench client %.0f%%, whole machine %.0f%% (all processes, PostgreSQL's too) of %d00%%",
                server, bench, machine, cores)
        }
    }

    static func take(server pid: Int32) -> CPUSample {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        func process(_ path: String) -> Double {
            guard let stat = try? String(contentsOfFile: path, encoding: .utf8), let close = stat.lastIndex(of: ")")
            else { return 0 }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            // Fields 14 and 15 of stat(5), utime and stime; `fields` starts at field 3.
            guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
            return (user + system) / ticks
        }
        var busy = 0.0
        var total = 0.0
        if let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let line = stat.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") })
        {
            let values = line.split(separator: " ").dropFirst().compactMap { Double($0) }
            total = values.prefix(8).reduce(0, +) / ticks
            let idle = values.count > 4 ? values[3] + values[4] : 0  // idle and iowait
            busy = total - idle / ticks
        }
        return CPUSample(
            server: process("/proc/\(pid)/stat"), bench: process("/proc/self/stat"), busy: busy, total: total, at: .now)
    }

    /// The use between `from` and `to`, sleeping until each.
    static func between(
        _ from: ContinuousClock.Instant, _ to: ContinuousClock.Instant, server pid: Int32
    ) async -> Usage {
        try? await Task.sleep(until: from, clock: .continuous)
        let first = take(server: pid)
        try? await Task.sleep(until: to, clock: .continuous)
        let second = take(server: pid)
        let wall = (second.at - first.at).seconds
        guard wall > 0 else { return Usage() }
        let cores = Double(ProcessInfo.processInfo.activeProcessorCount)
        let machine = second.total > first.total ? (second.busy - first.busy) / (second.total - first.total) * cores : 0
        return Usage(
            server: (second.server - first.server) / wall * 100, bench: (second.bench - first.bench) / wall * 100,
            machine: machine * 100)
    }
}

/// The server's own timers (Prometheus histograms at `/metrics`) over a window: where an offer's time goes after
/// its POST is committed (the projector's batches, the hub's dispatches).
enum ServerTimers {
    static func read(_ http: HTTPClient, _ base: String) async -> [String: Double] {
        guard let response = try? await http.execute(HTTPClientRequest(url: "\(base)/metrics"), timeout: .seconds(10)),
            let body = try? await response.body.collect(upTo: 16 << 20)
        else { return [:] }
        var values: [String: Double] = [:]
        for line in String(buffer: body).split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            if parts.count == 2, !parts[0].contains("{"), let value = Double(parts[1]) {
                values[String(parts[0])] = value
            }
        }
        return values
    }

    /// The timers between `from` and `to`, sleeping until each, as a line of the report.
    static func between(
        _ from: ContinuousClock.Instant, _ to: ContinuousClock.Instant, _ http: HTTPClient, _ base: String
    ) async -> String {
        try? await Task.sleep(until: from, clock: .continuous)
        let first = await read(http, base)
        try? await Task.sleep(until: to, clock: .continuous)
        let second = await read(http, base)
        func delta(_ name: String) -> Double { (second[name] ?? 0) - (first[name] ?? 0) }
        func timer(_ name: String, _ label: String, per: (counter: String, unit: String)? = nil) -> String {
            let count = delta(name + "_count")
            guard count > 0 else { return "\(label): none recorded" }
            var text = String(format: "%@ %.0f, mean %.1f ms", label, count, delta(name + "_sum") / count * 1000)
            if let per { text += String(format: ", %.0f %@ each", delta(per.counter) / count, per.unit) }
            return text
        }
        return [
            timer("calltrail_append_duration_seconds", "appends"),
            timer(
                "calltrail_projection_batch_seconds", "projector batches",
                per: ("calltrail_projection_events_total", "events")),
            timer(
                "calltrail_feed_dispatch_seconds", "feed dispatches", per: ("calltrail_feed_messages_total", "messages")
            ),
            String(
                format: "projector paused for ingest bursts %.2f s", delta("calltrail_projection_paused_seconds_total")),
        ].joined(separator: "; ")
    }
}

/// The open-file limit: 5,000 subscribers are 5,000 sockets on each side, more than a default soft limit of 1,024.
struct OpenFileLimit: CustomStringConvertible {
    var soft: Int
    var hard: Int
    var needed: Int

    var description: String {
        soft >= needed ? "\(soft)" : "\(soft) (NOT ENOUGH for \(needed); the hard limit is \(hard))"
    }

    /// Raises this process's soft limit (which the server child inherits) to the hard one when `needed` would not
    /// fit under it.
    static func raise(toFit needed: Int) -> OpenFileLimit {
        #if canImport(Glibc)
        var limit = rlimit()
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        guard getrlimit(resource, &limit) == 0 else { return OpenFileLimit(soft: -1, hard: -1, needed: needed) }
        if limit.rlim_cur < rlim_t(needed), limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(resource, &raised) == 0 { limit = raised }
        }
        return OpenFileLimit(soft: Int(clamping: limit.rlim_cur), hard: Int(clamping: limit.rlim_max), needed: needed)
        #else
        return OpenFileLimit(soft: -1, hard: -1, needed: needed)
        #endif
    }
}
