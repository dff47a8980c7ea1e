import CallTrailServer
import EventStore
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import PostgresNIO
import Projections
import Simulator
import TSAPI
import TestSupport
import Testing

/// The projections end to end: events go in through `POST /v1/events` into a real PostgreSQL, the projector
/// runs as in production, and the answers are read over real sockets.
struct JourneyAPITests {
    static let scenarios = (try? ScenarioFixtures.names) ?? []

    func withApp<Result: Sendable>(
        _ body: @Sendable (any TestClientProtocol, TestDatabase) async throws -> Result
    ) async throws -> Result {
        try await AppHarness.withApp(TestArguments(), body)
    }

    /// The scenario cases below run once per fixture: an empty library would run none, silently.
    @Test func theScenarioLibraryIsThere() throws {
        #expect(try ScenarioFixtures.names.count == 14)
    }

    /// A journey reads as the same text every time, its members (and theirs) in alphabetical order.
    @Test func aJourneysMembersComeInAStableOrder() async throws {
        try await withApp { client, _ in
            try await AppHarness.post(client, try ScenarioFixtures.lines("c-consultative-transfer"))
            try await AppHarness.waitForProjection(client)
            let uri = "/v1/journeys/00001000011795168800"
            let first = String(buffer: try await client.execute(uri: uri, method: .get).body)
            let second = String(buffer: try await client.execute(uri: uri, method: .get).body)
            #expect(first == second)
            func checkSorted(_ tree: JSONTree, _ path: String) {
                switch tree {
                case .object(let members):
                    let keys = members.map(\.key)
                    #expect(keys == keys.sorted(), "\(path): \(keys)")
                    for member in members { checkSorted(member.value, path + "." + member.key) }
                case .array(let items):
                    for (index, item) in items.enumerated() { checkSorted(item, path + "[\(index)]") }
                default: break
                }
            }
            let tree = try JSONTree(parsing: first)
            #expect(tree["offers"] != nil)
            checkSorted(tree, "journey")
        }
    }

    /// Each scenario's journey read over HTTP, as the live projector made it and again after a rebuild.
    @Test(arguments: scenarios)
    func scenarioJourneyOverHTTP(_ name: String) async throws {
        try await withApp { client, database in
            try await AppHarness.post(client, try ScenarioFixtures.lines(name))
            try await AppHarness.waitForProjection(client)
            let expected = try ScenarioFixtures.expectedJourney(name)
            let ucid = try #require(expected["ucid"] as? String)
            let journey = try await AppHarness.get(client, "/v1/journeys/\(ucid)")
            let problems = ScenarioFixtures.mismatches(journey: journey, expected: expected)
            #expect(problems.isEmpty, "\(name) (live):\n\(problems.joined(separator: "\n"))")

            _ = try await database.withClient { pool in
                try await ProjectionRebuilder(
                    store: PostgresJourneyStore(client: pool, logger: database.logger), logger: database.logger
                ).run()
            }
            let rebuilt = try await AppHarness.get(client, "/v1/journeys/\(ucid)")
            let rebuiltProblems = ScenarioFixtures.mismatches(journey: rebuilt, expected: expected)
            #expect(rebuiltProblems.isEmpty, "\(name) (rebuilt):\n\(rebuiltProblems.joined(separator: "\n"))")

            // Every UCID of the journey finds it, and each has a call context pointing at it.
            for other in journey["ucids"] as? [String] ?? [] {
                let found = try await AppHarness.get(client, "/v1/journeys/\(other)")
                #expect(found["id"] as? String == ucid)
                let call = try await AppHarness.get(client, "/v1/calls/\(other)")
                #expect(call["journeyId"] as? String == ucid)
                #expect(call["originalAni"] as? String == expected["originalAni"] as? String)
                #expect(call["ucid"] as? String == other)
            }
        }
    }

    @Test func consultedAgentSeesTheCustomerWhileTheConsultationRings() async throws {
        try await withApp { client, _ in
            let lines = try ScenarioFixtures.lines("c-consultative-transfer")
            // Up to the consultation's Delivered at 5002 (events 11 and 12): the transfer has not happened.
            try await AppHarness.post(client, lines.prefix(12))
            try await AppHarness.waitForProjection(client)
            let atB = try await AppHarness.get(client, "/v1/calls?device=5002")
            let calls = try #require(atB["calls"] as? [[String: Any]])
            #expect(calls.count == 1)
            let consult = try #require(calls.first)
            #expect(consult["ucid"] as? String == "00001000021795168934")
            #expect(consult["consultOf"] as? String == "00001000011795168800")
            #expect(consult["journeyId"] as? String == "00001000011795168800")
            #expect(consult["originalAni"] as? String == "6135555493")
            #expect(consult["originalDnis"] as? String == "8005551234")
            #expect(consult["uui"] as? String == "ACCT=998877;LANG=FR")
            #expect(consult["userEnteredCode"] as? String == "4321")
            #expect(consult["ani"] as? String == "5001", "the consultation's own calling party is the agent")
            let parties = try #require(consult["parties"] as? [[String: Any]])
            #expect(parties.contains { $0["device"] as? String == "5002" && $0["state"] as? String == "alerting" })

            let atA = try #require(
                try await AppHarness.get(client, "/v1/calls?device=5001")["calls"] as? [[String: Any]])
            let states = atA.compactMap { call in
                (call["parties"] as? [[String: Any]])?.first { $0["device"] as? String == "5001" }?["state"] as? String
            }
            #expect(Set(states) == ["held", "connected"], "5001 holds the customer and talks on the consultation")

            let journey = try await AppHarness.get(client, "/v1/journeys/00001000021795168934")
            #expect(journey["state"] as? String == "active")
            #expect(journey["outcome"] is NSNull)

            try await AppHarness.post(client, lines.dropFirst(12))
            try await AppHarness.waitForProjection(client)
            let after = try #require(
                try await AppHarness.get(client, "/v1/calls?device=5002")["calls"] as? [[String: Any]])
            #expect(after.isEmpty, "the call has cleared")
        }
    }

    @Test func badRequestsNameWhatIsWrong() async throws {
        try await withApp { client, _ in
            let cases: [(String, HTTPResponse.Status, String)] = [
                ("/v1/calls/123", .badRequest, "ucid"),
                ("/v1/calls/00001000011795168800", .notFound, ""),
                ("/v1/journeys/abc", .badRequest, "id"),
                ("/v1/journeys/00001000011795168800", .notFound, ""),
                ("/v1/calls", .badRequest, "device"),
                ("/v1/journeys?outcome=lost", .badRequest, "outcome"),
                ("/v1/journeys?from=yesterday", .badRequest, "from"),
                ("/v1/journeys?cursor=xyz", .badRequest, "cursor"),
                ("/v1/journeys?limit=0", .badRequest, "limit"),
            ]
            for (uri, status, field) in cases {
                let response = try await client.execute(uri: uri, method: .get)
                #expect(response.status == status, "\(uri)")
                let error = try #require(try AppHarness.json(response)["error"] as? [String: Any])
                #expect(error["message"] is String)
                if !field.isEmpty { #expect(error["field"] as? String == field, "\(uri)") }
            }
        }
    }

    @Test func searchFiltersPagesAndExportsCSV() async throws {
        try await withApp { client, _ in
            try await AppHarness.post(client, AppHarness.traffic(calls: 80, seed: 7))
            try await AppHarness.waitForProjection(client)

            // Paging with the cursor visits every journey once, in start order.
            var seen: [[String: Any]] = []
            var cursor: String?
            repeat {
                let page = try await AppHarness.get(
                    client, "/v1/journeys?limit=7" + (cursor.map { "&cursor=\($0)" } ?? ""))
                seen += try #require(page["journeys"] as? [[String: Any]])
                cursor = page["nextCursor"] as? String
            } while cursor != nil
            let all = try #require(
                try await AppHarness.get(client, "/v1/journeys?limit=1000")["journeys"] as? [[String: Any]])
            #expect(seen.count == all.count)
            #expect(seen.compactMap { $0["id"] as? String } == all.compactMap { $0["id"] as? String })
            #expect(all.count >= 80, "every call has a journey (consultations join theirs; far sites stitch in)")
            #expect(all.allSatisfy { $0["outcome"] is String }, "every ended journey has an outcome")

            // Each filter returns exactly the journeys that match it.
            let sample = try #require(all.first { ($0["agents"] as? [String])?.isEmpty == false })
            let agent = try #require((sample["agents"] as? [String])?.first)
            let byAgent = try #require(
                try await AppHarness.get(client, "/v1/journeys?agent=\(agent)&limit=1000")["journeys"]
                    as? [[String: Any]])
            #expect(byAgent.count == all.filter { ($0["agents"] as? [String])?.contains(agent) == true }.count)
            let outcome = try #require(sample["outcome"] as? String)
            let byOutcome = try #require(
                try await AppHarness.get(client, "/v1/journeys?outcome=\(outcome)&limit=1000")["journeys"]
                    as? [[String: Any]]
            )
            #expect(byOutcome.count == all.filter { $0["outcome"] as? String == outcome }.count)
            let ani = try #require(sample["originalAni"] as? String)
            let byANI = try #require(
                try await AppHarness.get(client, "/v1/journeys?ani=\(ani)&limit=1000")["journeys"] as? [[String: Any]])
            #expect(byANI.count == all.filter { $0["originalAni"] as? String == ani }.count)
            let linked = all.first { ($0["linkedUcids"] as? [String])?.isEmpty == false }
            if let linked, let consult = (linked["linkedUcids"] as? [String])?.first {
                let byUCID = try #require(
                    try await AppHarness.get(client, "/v1/journeys?ucid=\(consult)")["journeys"] as? [[String: Any]])
                #expect(byUCID.compactMap { $0["id"] as? String } == [linked["id"] as? String].compactMap { $0 })
            }
            struct Started: Decodable {
                struct Times: Decodable { var offered: String }
                var times: Times
            }
            let page = try await client.execute(uri: "/v1/journeys?limit=1000", method: .get)
            struct Page: Decodable { var journeys: [Started] }
            let starts = try JSONDecoder().decode(Page.self, from: Data(String(buffer: page.body).utf8)).journeys.map(
                \.times.offered)
            let middle = starts[starts.count / 2]
            let later = try #require(
                try await AppHarness.get(client, "/v1/journeys?from=\(middle)&limit=1000")["journeys"]
                    as? [[String: Any]])
            #expect(later.count == starts.filter { $0 >= middle }.count)

            // CSV: a header and one row per journey.
            let csv = try await client.execute(uri: "/v1/journeys", method: .get, headers: [.accept: "text/csv"])
            #expect(csv.status == .ok)
            #expect(csv.headers[.contentType]?.hasPrefix("text/csv") == true)
            let rows = String(buffer: csv.body).split(separator: "\r\n")
            #expect(rows.first?.hasPrefix("id,started,answered,ended,outcome") == true)
            #expect(rows.count == all.count + 1)
        }
    }

    /// Dumps the live journey rows as (id → state JSON text).
    static func dump(_ database: TestDatabase) async throws -> [String: String] {
        try await database.withClient { client in
            var rows: [String: String] = [:]
            for try await (id, state) in try await client.query(
                "SELECT id, state::text FROM projection.journeys", logger: database.logger
            ).decode((String, String).self) {
                rows[id] = state
            }
            return rows
        }
    }

    @Test func rebuildEqualsLiveAndSwapsWhileServing() async throws {
        try await withApp { client, database in
            try await AppHarness.post(client, AppHarness.traffic(calls: 120, seed: 11))
            try await AppHarness.waitForProjection(client)
            let live = try await Self.dump(database)
            #expect(live.count >= 120)

            let generationBefore = try await AppHarness.get(client, "/v1/projections")["generation"] as? Int
            let report = try await database.withClient { pool in
                try await ProjectionRebuilder(
                    store: PostgresJourneyStore(client: pool, logger: database.logger), logger: database.logger,
                    flushEvery: 300
                ).run()
            }
            #expect(report.journeys == live.count)
            let rebuilt = try await Self.dump(database)
            #expect(rebuilt == live, "a replay from position 0 gives exactly the live tables")
            let generation = try await AppHarness.get(client, "/v1/projections")["generation"] as? Int
            #expect(generation == generationBefore.map { $0 + 1 }, "the swap is a new generation")

            // The service's projector carries on from the swapped-in tables.
            try await AppHarness.post(
                client,
                AppHarness.traffic(calls: 10, seed: 12).map {
                    $0.replacingOccurrences(of: "\"source\":\"aes", with: "\"source\":\"bes")
                })
            try await AppHarness.waitForProjection(client)
            #expect(try await Self.dump(database).count > live.count)
        }
    }

    @Test func batchSizesAndResendsGiveTheSameReadModels() async throws {
        let lines = AppHarness.traffic(calls: 40, seed: 5)
        var dumps: [[String: String]] = []
        for batch in [1, 13, 400] {
            let dump = try await withApp { client, database in
                for start in stride(from: 0, to: lines.count, by: batch) {
                    try await AppHarness.post(client, lines[start..<min(start + batch, lines.count)])
                }
                if batch == 13 {
                    // Everything again: all duplicates, nothing projected twice.
                    for start in stride(from: 0, to: lines.count, by: 97) {
                        try await AppHarness.post(client, lines[start..<min(start + 97, lines.count)])
                    }
                }
                try await AppHarness.waitForProjection(client)
                return try await Self.dump(database)
            }
            dumps.append(dump)
        }
        #expect(dumps.count == 3)
        #expect(dumps[0].count >= 40)
        #expect(dumps[0] == dumps[1])
        #expect(dumps[1] == dumps[2])
    }
}

/// Several CallTrail processes on one database: each serves, one projects (docs/operations.md).
struct SharedDatabaseTests {
    @Test func twoServersShareOneProjector() async throws {
        try await TestDatabase.with { database in
            let first = try await buildApplication(TestArguments(databaseURL: database.url.urlString))
            let second = try await buildApplication(TestArguments(databaseURL: database.url.urlString))
            try await first.test(.live) { one in
                try await second.test(.live) { two in
                    try await AppHarness.post(one, AppHarness.traffic(calls: 30, seed: 3))
                    try await AppHarness.waitForProjection(two)
                    let page = try await AppHarness.get(two, "/v1/journeys?limit=1000")
                    #expect((page["journeys"] as? [[String: Any]])?.count == 30)
                    let holders = try await database.withClient(asOwner: true) { client in
                        var count = 0
                        for try await _ in try await client.query(
                            """
                            SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
                              AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                            """, logger: database.logger
                        ).decode(Int.self) {
                            count += 1
                        }
                        return count
                    }
                    #expect(holders == 1, "one projector holds the lock; the other waits")
                }
            }
        }
    }
}
