import AESSimulator
import ArgumentParser
import AsyncHTTPClient
import CommandSupport
import EventStore
import Foundation
import Logging
import NIOCore
import PostgresNIO
import Simulator
import Synchronization
import TSAPI

/// `calltrail-bench link`: the simulator playing AES, in the benchmark's process, and one link of a
/// `calltrail serve` child.
///
/// Phase 1, throughput: the simulator sends its contact center as fast as it can; the figures are the events
/// stored per second (from the first frame to the last one stored) and the server's CPU time per event. Target
/// on 2 cores: 10,000 events/s through the link (a large Communication Manager peaks near 2,000).
///
/// Phase 2, offer latency: the simulator sends at `--rate` events a second, paced as a switch reports them, while
/// one feed subscriber follows every agent station; each latency runs from the instant the XML frame of a
/// Delivered to a station is due to leave the simulator to the arrival of its `offer` at the subscriber, so it holds the
/// whole real path (frame, link, appender, projector, feed). Every such Delivered is a probe. Target: p99 under
/// 25 ms at 2,000 events/s. The counted seconds are the traffic's first ones: simulated calls last minutes, so
/// calls are mostly starting (offers, answers) and few have ended; a longer `--warmup` comes nearer a steady mix.
struct LinkBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "link",
        abstract:
            "Events stored per second through one AES link (DMCC from the simulator), CPU per event, and offer latency from the frame."
    )

    static let target = 10_000.0
    static let latencyTargetMilliseconds = 25.0

    @OptionGroup var database: DatabaseOptions

    @Option(help: "Calls to play in the throughput phase: the default mix on the first site, about 13 frames a call.")
    var calls: Int = 20_000

    @Option(help: "Frames per second of the latency phase; 0 skips the phase.")
    var rate = 2_000

    @Option(help: "Seconds of counted offers in the latency phase.")
    var seconds = 30

    @Option(help: "Seconds of paced traffic before the counted ones.")
    var warmup = 5

    @Option(help: "Port of the calltrail serve child.")
    var port: Int = 18_094

    func validate() throws {
        guard calls > 0, rate >= 0, seconds > 0, warmup >= 0 else {
            throw ValidationError("--calls and --seconds must be positive; --rate and --warmup not negative")
        }
    }

    func run() async throws {
        let logger = benchLogger()
        let (server, embedded) = try EmbeddedPostgres.locate(
            databaseURL: database.databaseURL, dataDirectory: database.dataDirectory, logger: logger)
        defer { embedded?.stop() }

        // The traffic, built before any clock starts: the first site's events only, the one the link monitors.
        var options = Traffic.Options()
        options.calls = calls
        options.rate = 20
        options.agents = 200
        var traffic = Traffic(options)
        let sites = traffic.sites
        var firstSite: [SwitchEvent] = []
        while let event = traffic.nextSwitchEvent() {
            if event.site == 0 { firstSite.append(event) }
        }
        let events = firstSite
        let frames = events.reduce(0) { $0 + $1.recipients.count }
        print("bench link: \(events.count) switch events, \(frames) DMCC frames to one link; \(benchMachine())")

        var aesOptions = AESSimulatorServer.Options()
        aesOptions.sites = sites
        let aes = try await AESSimulatorServer.start(aesOptions, logger: logger)
        defer { Task { await aes.close() } }
        let site = sites[0]
        let vdns = site.vdns.keys.sorted()
        let stations = Set(site.monitors.keys).subtracting(vdns).sorted()
        let linksFile = FileManager.default.temporaryDirectory.appendingPathComponent("calltrail-bench-links.yaml")
        try """
        links:
          - name: aes1
            switch: cm1
            url: tcp://127.0.0.1:\(aes.port)
            username: calltrail
            password: calltrail
            switchName: CM1
            stations: [\(stations.map { "\"\($0)\"" }.joined(separator: ", "))]
            vdns: [\(vdns.map { "\"\($0)\"" }.joined(separator: ", "))]
        """.write(to: linksFile, atomically: true, encoding: .utf8)

        let command = self
        try await withScratchDatabase(
            server, name: "calltrail_bench_link_\(Int(Date().timeIntervalSince1970))", logger: logger
        ) { scratch in
            try await benchCheckpoint(server, logger: logger)
            try await withServerChild(
                databaseURL: scratch.urlString, migrationsDirectory: database.migrationsDirectory, port: port,
                extraArguments: ["--links", linksFile.path], logger: logger
            ) { http, child in
                func json(_ path: String) async throws -> [String: Any] {
                    let response = try await http.execute(
                        HTTPClientRequest(url: child.base + path), timeout: .seconds(10))
                    let body = try await response.body.collect(upTo: 1 << 24)
                    return try JSONSerialization.jsonObject(with: Data(String(buffer: body).utf8)) as? [String: Any]
                        ?? [:]
                }
                var up = false
                for _ in 0..<300 where !up {
                    let links = try await json("/v1/links")["links"] as? [[String: Any]] ?? []
                    up = links.first?["state"] as? String == "up"
                    if !up { try await Task.sleep(for: .milliseconds(100)) }
                }
                guard up else { throw BenchError("the link did not come up") }
                let stored = { () async throws -> Int in try await json("/v1/projections")["head"] as? Int ?? 0 }
                // The XML is written before the clock starts: the figure is the link's, not the simulator's writer's.
                let rendered = aes.render(events)
                let before = try await stored()
                let cpuBefore = CPUSample.take(server: child.pid)
                let start = ContinuousClock.now
                await aes.send(rendered)
                let sent = ContinuousClock.now
                var head = before
                while head < before + frames {
                    try await Task.sleep(for: .milliseconds(20))
                    head = try await stored()
                    if ContinuousClock.now - start > .seconds(600) {
                        throw BenchError("only \(head - before) of \(frames) stored in 600 s")
                    }
                }
                let done = ContinuousClock.now
                let cpuAfter = CPUSample.take(server: child.pid)
                let seconds = (done - start).seconds
                let rate = Double(frames) / seconds
                let cpuPerEvent = (cpuAfter.server - cpuBefore.server) / Double(frames) * 1_000_000
                print(
                    String(
                        format: "sent:    %d frames in %.2f s (%.0f frames/s from the simulator)", frames,
                        (sent - start).seconds, Double(frames) / (sent - start).seconds))
                print(
                    String(
                        format: "stored:  %.0f events/s through the link, first frame to last stored (%.2f s)", rate,
                        seconds))
                print(
                    String(format: "server CPU: %.1f µs an event (link, appender and projector together)", cpuPerEvent))
                print(rate >= Self.target ? "target met (>= 10,000 events/s)" : "TARGET MISSED (>= 10,000 events/s)")

                guard command.rate > 0 else { return }
                // The projector's backlog from the first phase must not fall into the second.
                while try await json("/v1/projections")["lag"] as? Int != 0 {
                    try await Task.sleep(for: .milliseconds(50))
                }
                // The fresh database has its planner statistics from here on, as a production one would.
                _ = try await DatabaseBootstrap.withTemporaryClient(scratch, logger: logger) { client in
                    try await client.query("ANALYZE", logger: logger)
                }
                let latency = try await command.measureLatency(aes, stations: stations, child)
                latency.report()
            }
        }
    }

    // MARK: - Phase 2: offer latency from the frame

    /// Plays fresh traffic of the first site at `rate` frames a second and times every offer from its frame.
    func measureLatency(
        _ aes: AESSimulatorServer, stations: [String], _ child: BenchServerChild
    ) async throws -> LatencyResult {
        let logger = benchLogger()
        let planned = Self.pacedTraffic(frames: rate * (warmup + seconds), framesPerSecond: rate)
        let stationSet = Set(stations)
        // Each switch event rendered on its own, with the instant its frames are due and the offer it should cause.
        var schedule: [(due: Double, rendered: AESSimulatorServer.Rendered, offer: String?)] = []
        var framesBefore = 0
        for event in planned {
            let offer = Self.offerKey(event, stations: stationSet)
            schedule.append((Double(framesBefore) / Double(rate), aes.render([event]), offer))
            framesBefore += event.recipients.count
        }
        print(
            "latency: \(planned.count) switch events, \(framesBefore) frames at \(rate) frames/s for \(warmup) s warm-up "
                + "+ \(seconds) s; \(schedule.filter { $0.offer != nil }.count) offers to time")

        let book = OfferBook()
        let ws = child.base.replacingOccurrences(of: "http://", with: "ws://")
        let subscriber = try await FeedConnection.open(
            url: "\(ws)/v1/feed?devices=\(stations.joined(separator: ","))&events=offer", logger: logger
        ) { text, arrived in
            guard FeedText.string("eventtype", in: text) == "offer", let ucid = FeedText.string("ucid", in: text),
                let device = FeedText.string("device", in: text)
            else { return }
            book.arrived("\(ucid)|\(device)", at: arrived)
        }
        let start = ContinuousClock.now + .milliseconds(100)
        let countedFrom = start + .seconds(warmup)
        let end = start + .seconds(warmup + seconds)
        async let cpu = CPUSample.between(countedFrom, end, server: child.pid)
        // Every tick, the frames due by then in one write. Each offer is timed from the instant its frame was due,
        // so a send the server held back (its socket full) counts against the server, not for it.
        var cursor = 0
        var lateness: [Double] = []
        while cursor < schedule.count {
            try? await Task.sleep(until: start + Self.tick * (Int(((ContinuousClock.now - start) / Self.tick)) + 1))
            let elapsed = (ContinuousClock.now - start).seconds
            var stop = cursor
            while stop < schedule.count, schedule[stop].due <= elapsed { stop += 1 }
            guard stop > cursor else { continue }
            lateness.append((elapsed - schedule[cursor].due) * 1000)
            for item in schedule[cursor..<stop] {
                let due = start + .nanoseconds(Int64(item.due * 1e9))
                if let offer = item.offer { book.sent(offer, at: due, counted: due >= countedFrom) }
            }
            await aes.send(AESSimulatorServer.Rendered(joining: schedule[cursor..<stop].map(\.rendered)))
            cursor = stop
        }
        let cpuUsage = await cpu
        let last = ContinuousClock.now
        while book.outstanding > 0, ContinuousClock.now < last + .seconds(5) {
            try await Task.sleep(for: .milliseconds(20))
        }
        try await subscriber.close()
        return LatencyResult(
            offers: book.result(), cpu: cpuUsage, lateness: Latencies(lateness), frames: framesBefore,
            window: (last - start).seconds)
    }

    /// How often the paced sender writes what has come due: offers are timed from when they were due, so the
    /// tick is short enough to add little.
    static let tick = Duration.milliseconds(1)

    /// The first site's switch events of the default mix, `frames` frames' worth, with calls started at the rate
    /// that gives `framesPerSecond` once calls are under way: sent at that pace, the calls overlap as they would
    /// on the switch.
    static func pacedTraffic(frames: Int, framesPerSecond: Int) -> [SwitchEvent] {
        var options = Traffic.Options()
        options.agents = 200
        options.seed = 7
        options.calls = 2_000
        var sample = Traffic(options)
        var sampleFrames = 0
        while let event = sample.nextSwitchEvent() {
            if event.site == 0 { sampleFrames += event.recipients.count }
        }
        let framesPerCall = Double(sampleFrames) / Double(max(sample.callsGenerated, 1))
        options.calls = nil
        options.duration = 1e9  // stopped by `frames`
        options.rate = Double(framesPerSecond) / framesPerCall
        options.start = Date()
        var traffic = Traffic(options)
        var events: [SwitchEvent] = []
        var total = 0
        while total < frames, let event = traffic.nextSwitchEvent() {
            guard event.site == 0 else { continue }
            events.append(event)
            total += event.recipients.count
        }
        return events
    }

    /// `ucid|station` of the offer a switch event should cause at a feed subscriber: a Delivered alerting one of
    /// the link's stations. Nil for every other event.
    static func offerKey(_ event: SwitchEvent, stations: Set<String>) -> String? {
        guard event.type == .delivered,
            let alerting = event.csta.first(where: { $0.key == "alertingDevice" })?.value,
            let device = alerting.string ?? alerting["deviceID"]?.string, stations.contains(device),
            let ucid = event.att?["ucid"]?.string
        else { return nil }
        return "\(ucid)|\(device)"
    }

    struct LatencyResult {
        var offers: OfferBook.Result
        var cpu: CPUSample.Usage
        /// How late the paced sender's writes were against their schedule: the simulator's own lag.
        var lateness: Latencies
        var frames: Int
        var window: Double

        func report() {
            let values = offers.latencies
            print(
                String(
                    format:
                        "offer latency (frame due → offer at the subscriber): p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, "
                        + "max %.2f ms (%d offers%@)", values.percentile(50), values.percentile(90),
                    values.percentile(99), values.values.last ?? .nan, values.values.count,
                    values.failures > 0 ? ", \(values.failures) never came" : ""))
            if offers.unexpected > 0 { print("  \(offers.unexpected) offers no Delivered was timed for") }
            print(
                String(
                    format: "sender: %.0f frames/s over %.1f s; writes late by p50 %.2f ms, p99 %.2f ms",
                    Double(frames) / window, window, lateness.percentile(50), lateness.percentile(99)))
            print("counted seconds: \(cpu)")
            let met =
                values.failures == 0 && !values.values.isEmpty
                && values.percentile(99) < LinkBenchCommand.latencyTargetMilliseconds
            print(met ? "target met (offer p99 < 25 ms)" : "TARGET MISSED (offer p99 < 25 ms, every offer)")
        }
    }
}

/// Every timed offer by `ucid|station`, and when its frame left; a key seen twice (a call offered to the same
/// agent again) is matched first in, first out.
final class OfferBook: Sendable {
    struct Result {
        var latencies: Latencies
        var unexpected: Int
    }

    private struct State {
        var waiting: [String: [(sent: ContinuousClock.Instant, counted: Bool)]] = [:]
        var outstanding = 0
        var counted: [Double] = []
        var countedSent = 0
        var unexpected = 0
    }

    private let state = Mutex(State())

    func sent(_ key: String, at instant: ContinuousClock.Instant, counted: Bool) {
        state.withLock { state in
            state.waiting[key, default: []].append((instant, counted))
            state.outstanding += 1
            if counted { state.countedSent += 1 }
        }
    }

    func arrived(_ key: String, at instant: ContinuousClock.Instant) {
        state.withLock { state in
            guard var queue = state.waiting[key], !queue.isEmpty else {
                state.unexpected += 1
                return
            }
            let first = queue.removeFirst()
            state.waiting[key] = queue.isEmpty ? nil : queue
            state.outstanding -= 1
            if first.counted { state.counted.append((instant - first.sent).seconds * 1000) }
        }
    }

    var outstanding: Int { state.withLock { $0.outstanding } }

    func result() -> Result {
        state.withLock { state in
            var latencies = Latencies(state.counted)
            latencies.failures = state.countedSent - state.counted.count
            return Result(latencies: latencies, unexpected: state.unexpected)
        }
    }
}
