import CallTrailServer
import EventStore
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Simulator
import Synchronization
import TSAPI
import TestSupport
import Testing

/// Drills: PostgreSQL stopped and started under ingest and under an open feed. CallTrail must answer `503` with
/// `Retry-After` while the database is away, say so on `/ready`, come back by itself within seconds of the
/// database, lose nothing it acknowledged, and resume its feed subscribers without a gap or a repeat.
///
/// Each drill runs its own PostgreSQL (the embedded server, in a folder of its own) so it can stop and start it.
@Suite(.serialized)
struct DatabaseOutageTests {
    /// What a connector saw: each chunk's answers in order.
    final class Log: Sendable {
        struct Entry: Sendable {
            var at: ContinuousClock.Instant
            var status: Int
            var retryAfter: String?
        }

        let entries = Mutex<[Entry]>([])
        func record(_ entry: Entry) { entries.withLock { $0.append(entry) } }
        var all: [Entry] { entries.withLock { $0 } }
    }

    static func privatePostgres() async throws -> (EmbeddedPostgres, DatabaseURL, URL) {
        let folder = URL(fileURLWithPath: "/tmp/calltrail-drill-\(UUID().uuidString.prefix(8))")
        var logger = Logger(label: "drill-postgres")
        logger.logLevel = .warning
        let postgres = EmbeddedPostgres(dataDirectory: folder, logger: logger)
        return (postgres, try await EmbeddedPostgres.offPool { try postgres.start() }, folder)
    }

    @Test func ingestAndTheFeedRideThroughAPostgreSQLRestart() async throws {
        let (postgres, url, folder) = try await Self.privatePostgres()
        defer {
            postgres.stop()
            try? FileManager.default.removeItem(at: folder)
        }
        var options = Traffic.Options()
        options.calls = 150
        options.rate = 2
        options.agents = 10
        options.seed = 17
        let lines = Array(Traffic(options))
        let chunks = stride(from: 0, to: lines.count, by: 10).map {
            lines[$0..<min($0 + 10, lines.count)].joined(separator: "\n")
        }

        var feed = FeedPolicy()
        feed.heartbeatSeconds = 0.5
        let app = try await buildApplication(TestArguments(databaseURL: url.urlString, feed: feed))
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let desk = try await FeedClient.connect(port: port, query: "")
            _ = try await desk.waitFor { $0.contains { $0["type"]?.string == "live" } }

            // The connector: each chunk in order, sent again until it is acknowledged, as an AES link's would be.
            let log = Log()
            let connector = Task {
                for chunk in chunks {
                    while true {
                        let response = try await client.execute(
                            uri: "/v1/events", method: .post, headers: [.contentType: "application/x-ndjson"],
                            body: ByteBuffer(string: chunk))
                        log.record(
                            .init(
                                at: .now, status: Int(response.status.code), retryAfter: response.headers[.retryAfter]))
                        if response.status == .ok { break }
                        try await Task.sleep(for: .milliseconds(100))
                    }
                    try await Task.sleep(for: .milliseconds(25))
                }
            }

            try await Task.sleep(for: .seconds(1))
            try await EmbeddedPostgres.offPool { postgres.stop() }
            let stoppedAt = ContinuousClock.now
            try await Task.sleep(for: .seconds(1))
            let ready = try await client.execute(uri: "/ready", method: .get)
            #expect(ready.status == .serviceUnavailable)
            #expect(String(buffer: ready.body).contains(#""database":"unavailable""#), "\(String(buffer: ready.body))")
            #expect(ready.headers[.retryAfter] != nil)
            let read = try await client.execute(uri: "/v1/journeys?limit=1", method: .get)
            #expect(read.status == .serviceUnavailable)
            #expect(read.headers[.retryAfter] != nil)
            let messagesBefore = desk.received.count
            try await Task.sleep(for: .seconds(2))
            #expect(
                desk.received.dropFirst(messagesBefore).contains { $0["type"]?.string == "heartbeat" },
                "the subscriber hears heartbeats while the database is away")

            _ = try await EmbeddedPostgres.offPool { try postgres.start() }
            let restartedAt = ContinuousClock.now
            let messagesAtRestart = desk.received.filter { $0["eventtype"] != nil }.count
            var firstMessageAfter: Duration?
            while firstMessageAfter == nil, ContinuousClock.now - restartedAt < .seconds(30) {
                if desk.received.filter({ $0["eventtype"] != nil }).count > messagesAtRestart {
                    firstMessageAfter = .now - restartedAt
                }
                try await Task.sleep(for: .milliseconds(5))
            }
            try await connector.value

            let entries = log.all
            let refused = entries.filter { $0.at > stoppedAt && $0.at < restartedAt }
            // While away: 503 with Retry-After (a 200 for a commit made just before the stop may still arrive).
            #expect(refused.contains { $0.status == 503 }, "\(refused.map(\.status))")
            #expect(
                refused.allSatisfy { $0.status == 200 || ($0.status == 503 && $0.retryAfter != nil) },
                "\(refused.map(\.status))")
            let firstPostAfter =
                try #require(entries.first { $0.at > restartedAt && $0.status == 200 }).at - restartedAt
            #expect(firstPostAfter < .seconds(30), "ingest comes back by itself once the database is back")
            print(
                "outage drill: first POST acknowledged \(firstPostAfter) after PostgreSQL was back; first feed message after \(firstMessageAfter.map { "\($0)" } ?? "none")"
            )

            // Every event stored once, at gapless positions.
            let sent = try IngestBatchParser.parse(Array(lines.joined(separator: "\n").utf8))
            var positions: [Int] = []
            var after = 0
            while true {
                let page = try AppHarness.json(
                    try await client.execute(uri: "/v1/events?after=\(after)&limit=1000", method: .get))
                let events = try #require(page["events"] as? [[String: Any]])
                guard !events.isEmpty else { break }
                positions += events.compactMap { $0["position"] as? Int }
                after = try #require(page["nextAfter"] as? Int)
            }
            #expect(positions == Array(1...positions.count), "positions are gapless")
            #expect(positions.count >= sent.count, "every event is stored (and the links CallTrail adds)")

            // The feed: what the subscriber got live is exactly what a replay from the start gets, in order.
            try await AppHarness.waitForProjection(client)
            let head = try #require(
                (try AppHarness.json(try await client.execute(uri: "/v1/projections", method: .get))["feed"]
                    as? [String: Any])?["position"] as? Int)
            let live = try await desk.waitFor { $0.compactMap { $0["position"]?.integer }.last == Int64(head) }
                .filter { $0["eventtype"] != nil }.compactMap { $0["position"]?.integer }
            let replay = try await FeedClient.connect(port: port, query: "after=0")
            let replayed = try await replay.waitFor { $0.contains { $0["type"]?.string == "live" } }
                .filter { $0["eventtype"] != nil }.compactMap { $0["position"]?.integer }
            #expect(!live.isEmpty)
            // The desk subscribed before the first event, so it must have had everything, each once.
            #expect(live == replayed, "no gap and no repeat")
            _ = try await replay.close()
            _ = try await desk.close()
        }
    }
}
