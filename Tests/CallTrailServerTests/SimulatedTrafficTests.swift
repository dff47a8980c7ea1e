import CallTrailServer
import EventStore
import Foundation
import Hummingbird
import HummingbirdTesting
import Simulator
import TSAPI
import TestSupport
import Testing

/// Simulated contact-center traffic through the real HTTP API into a real PostgreSQL: everything sent is stored
/// once, every event finds its call, and each call reads back by UCID.
struct SimulatedTrafficTests {
    @Test func simulatedTrafficIsStoredAndReadsBackByUCID() async throws {
        var options = Traffic.Options()
        options.calls = 60
        options.rate = 0.5
        options.agents = 10
        options.seed = 42
        let lines = Array(Traffic(options))
        let sent = try IngestBatchParser.parse(Array(lines.joined(separator: "\n").utf8))
        let ucids = Set(sent.compactMap(\.ucid))

        try await TestDatabase.with { database in
            let app = try await buildApplication(TestArguments(databaseURL: database.url.urlString))
            try await app.test(.live) { client in
                for start in stride(from: 0, to: lines.count, by: 150) {
                    let body = lines[start..<min(start + 150, lines.count)].joined(separator: "\n")
                    let response = try await client.execute(
                        uri: "/v1/events", method: .post, headers: [.contentType: "application/x-ndjson"],
                        body: ByteBuffer(string: body))
                    #expect(response.status == .ok)
                }
                // Sending it all again stores nothing more.
                let again = try await client.execute(
                    uri: "/v1/events", method: .post, headers: [.contentType: "application/x-ndjson"],
                    body: ByteBuffer(string: lines.prefix(150).joined(separator: "\n")))
                #expect(String(buffer: again.body).contains("\"duplicates\":150"))

                var stored: [[String: Any]] = []
                var after = 0
                while true {
                    let page = try await client.execute(uri: "/v1/events?after=\(after)&limit=1000", method: .get)
                    let json = try #require(
                        JSONSerialization.jsonObject(with: Data(String(buffer: page.body).utf8)) as? [String: Any])
                    let events = try #require(json["events"] as? [[String: Any]])
                    guard !events.isEmpty else { break }
                    stored += events
                    after = try #require(json["nextAfter"] as? Int)
                }
                #expect(stored.count == sent.count, "every event stored once")
                #expect(stored.allSatisfy { $0["ucid"] is String }, "every simulated event resolves to its call's UCID")

                var total = 0
                for ucid in ucids {
                    let response = try await client.execute(uri: "/v1/calls/\(ucid)/events", method: .get)
                    #expect(response.status == .ok)
                    let json = try #require(
                        JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8)) as? [String: Any])
                    let events = try #require(json["events"] as? [[String: Any]])
                    #expect(events.map { $0["streamVersion"] as? Int } == Array(1...events.count).map { $0 })
                    total += events.count
                }
                #expect(total == sent.count, "the calls' streams partition the log")
            }
        }
    }
}
