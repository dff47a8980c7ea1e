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

/// `calltrail-bench link`: the simulator playing AES sends its contact center as fast as it can to one link of a
/// `calltrail serve` process; the figures are the events stored per second (from the first frame to the last
/// one stored) and the server's CPU time per event. Target on 2 cores: 10,000 events/s through the link (a large
/// Communication Manager peaks near 2,000).
struct LinkBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "link",
        abstract: "Events stored per second through one AES link (DMCC from the simulator), and CPU per event.")

    static let target = 10_000.0

    @OptionGroup var database: DatabaseOptions

    @Option(help: "Calls to play: the simulator's default mix on the first site, about 13 frames a call.")
    var calls: Int = 20_000

    @Option(help: "Port of the calltrail serve child.")
    var port: Int = 18_094

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
            }
        }
    }
}
