import CallModel
import CallTrailServer
import EventStore
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Projections
import TSAPI
import TestSupport
import Testing

/// `format=ctisvr` over a real socket: ctiSVR's event shapes with `custdata` from user data, and its requests
/// answered on the same socket; and the feed served by a process that does not project.
struct FeedCtiSvrAndProcessesTests {
    static let customer = "00001000011795168800"

    /// Waits for the response to request `id`.
    static func response(_ client: FeedClient, id: Int) async throws -> JSONTree {
        let messages = try await client.waitFor {
            $0.contains { $0["msgtype"]?.string == "response" && $0["id"]?.integer == Int64(id) }
        }
        return try #require(messages.last { $0["msgtype"]?.string == "response" && $0["id"]?.integer == Int64(id) })
    }

    @Test func ctiSvrEventsAndRequests() async throws {
        try await AppHarness.withFeedApp { client, port in
            let lines = try ScenarioFixtures.lines("c-consultative-transfer")
            let consultation = try #require(lines.firstIndex { $0.contains("CSTA_ORIGINATED") })
            let answered = try #require(lines.firstIndex { $0.contains("CSTA_ESTABLISHED") && $0.contains("\"5002\"") })
            let transfer = try #require(lines.firstIndex { $0.contains("CSTA_TRANSFERRED") })

            let desk = try await FeedClient.connect(port: port, query: "format=ctisvr")
            try await desk.send(#"{"id": 1, "request": "startmonitor", "extension": "5002"}"#)
            let started = try await Self.response(desk, id: 1)
            #expect(started["result"]?.string == "success")
            let reference = try #require(started["referenceid"]?.integer)

            // The IVR attached the account to the customer's call before agent 5001 consulted 5002.
            try await AppHarness.post(client, lines[..<consultation])
            try await AppHarness.waitForProjection(client)
            let set = try await client.execute(
                uri: "/v1/userdata", method: .post, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"data": {"account": "998877"}, "ucid": "\#(Self.customer)"}"#))
            #expect(set.status == .created)
            try await AppHarness.post(client, lines[consultation..<answered])

            let events = try await desk.waitFor { $0.contains { $0["eventtype"]?.string == "offer" } }
            let offer = try #require(events.first { $0["eventtype"]?.string == "offer" })
            #expect(offer["msgtype"]?.string == "event")
            #expect(offer["referenceid"]?.integer == reference)
            #expect(offer["alerting"]?.string == "5002")
            #expect(offer["calling"]?.string == "5001")
            #expect(offer["origcalling"]?.string == "6135555493", "the customer, not the consulting agent")
            #expect(offer["origcalled"]?.string == "8005551234")
            #expect(offer["custdata"]?.string == #"{"account":"998877"}"#)
            #expect(offer["callid"]?.integer == 1002)
            #expect(offer["time"]?.integer != nil)

            // alert: the call ringing at the extension now, with the customer and the data.
            try await desk.send(#"{"id": "a", "request": "userdata", "type": "alert", "extension": "5002"}"#)
            let alerting = try #require(
                try await desk.waitFor { $0.contains { $0["id"]?.string == "a" } }.last { $0["id"]?.string == "a" })
            #expect(alerting["result"]?.string == "success")
            #expect(alerting["alerting"]?.string == "5002")
            #expect(alerting["cli"]?.string == "6135555493")
            #expect(alerting["dnis"]?.string == "8005551234")
            #expect(alerting["userdata"]?.string == #"{"account":"998877"}"#)
            #expect(alerting["callid"]?.integer == 1002)

            // set, get, update, get: the key service behind uuiSVR's requests.
            try await desk.send(
                #"{"id": 2, "request": "userdata", "type": "set", "extension": "5002", "data": "case=42"}"#)
            let key = try #require(try await Self.response(desk, id: 2)["uui"]?.string)
            #expect((try? UserDataKey(validating: key)) != nil, "\(key) is a CallTrail key")
            try await desk.send(
                #"{"id": 3, "request": "userdata", "type": "get", "extension": "5002", "uui": "\#(key)"}"#)
            #expect(try await Self.response(desk, id: 3)["data"]?.string == "case=42")
            try await desk.send(
                #"{"id": 4, "request": "userdata", "type": "update", "extension": "5002", "uui": "\#(key)", "data": "case=43"}"#
            )
            #expect(try await Self.response(desk, id: 4)["result"]?.string == "success")
            try await desk.send(
                #"{"id": 5, "request": "userdata", "type": "get", "extension": "5002", "uui": "ACCT=1;CT=\#(key)"}"#)
            #expect(try await Self.response(desk, id: 5)["data"]?.string == "case=43")
            // The key was set on the call at 5002: the REST API sees its origin.
            let record = try await client.execute(uri: "/v1/userdata/\(key)", method: .get)
            #expect(String(buffer: record.body).contains("\"originalAni\":\"6135555493\""))

            // The rest of the call: connect, transfer, and the customer's hang-up.
            try await AppHarness.post(client, lines[answered...])
            let all = try await desk.waitFor { $0.contains { $0["eventtype"]?.string == "disconnect" } }
            let kinds = all.compactMap { $0["eventtype"]?.string }
            #expect(kinds.contains("connect") && kinds.contains("transfer"), "\(kinds)")
            let transferred = try #require(all.first { $0["eventtype"]?.string == "transfer" })
            #expect(transferred["transferring"]?.string == "5001")
            #expect(transferred["primarycallid"]?.integer == 1001)
            #expect(transferred["secondarycallid"]?.integer == 1002)
            #expect(
                all.filter { $0["msgtype"]?.string == "event" }.allSatisfy { $0["referenceid"]?.integer == reference })
            _ = transfer

            try await desk.send(#"{"id": 6, "request": "userdata", "type": "hangup", "extension": "5002"}"#)
            let hangup = try await Self.response(desk, id: 6)
            #expect(hangup["result"]?.string == "success")
            #expect(hangup["ucid"]?.string == Self.customer)
            #expect(hangup["callid"]?.integer == 1002)
            #expect(hangup["releasing"]?.string?.isEmpty == false)

            // What the feed does not do, and bad requests: ctiSVR's failure shape, naming the problem.
            try await desk.send(#"{"id": 7, "request": "makecall", "extension": "5002", "destination": "5003"}"#)
            let refused = try await Self.response(desk, id: 7)
            #expect(refused["result"]?.string == "fail")
            #expect(refused["error"]?.string?.contains("makecall") == true)
            try await desk.send(
                #"{"id": 8, "request": "userdata", "type": "get", "extension": "5002", "uui": "nothing here"}"#)
            #expect(try await Self.response(desk, id: 8)["error"]?.string?.contains("no CallTrail key") == true)
            try await desk.send(#"{"id": 9, "request": "userdata", "type": "alert", "extension": "5002"}"#)
            #expect(try await Self.response(desk, id: 9)["error"]?.string?.contains("no call is alerting") == true)
            try await desk.send(#"{"id": 10, "request": "stopmonitor", "extension": "5002"}"#)
            #expect(try await Self.response(desk, id: 10)["result"]?.string == "success")
            try await desk.send(#"{"id": 11, "request": "stopmonitor", "extension": "5002"}"#)
            #expect(try await Self.response(desk, id: 11)["result"]?.string == "fail")
            try await desk.send(#"{"id": 12, "request": "#)
            let malformed = try await desk.waitFor {
                $0.contains { $0["result"]?.string == "fail" && $0["error"]?.string?.contains("JSON") == true }
            }
            #expect(!malformed.isEmpty)
            _ = try await desk.close()
        }
    }

    /// Two `calltrail serve` processes on one PostgreSQL: events posted to the first reach a subscriber of the
    /// second, whichever of them projects.
    @Test func eventsIngestedInOneProcessReachSubscribersOfAnother() async throws {
        try await TestDatabase.with { database in
            let first = try await buildApplication(TestArguments(databaseURL: database.url.urlString))
            let second = try await buildApplication(TestArguments(databaseURL: database.url.urlString))
            try await first.test(.live) { one in
                try await second.test(.live) { two in
                    let port = try #require(two.port)
                    let desk = try await FeedClient.connect(port: port, query: "devices=5001&events=offer,connect")
                    _ = try await desk.waitFor { $0.contains { $0["type"]?.string == "live" } }
                    try await AppHarness.post(one, try ScenarioFixtures.lines("a-inbound-answered"))
                    let messages = try await desk.waitFor { $0.contains { $0["eventtype"]?.string == "connect" } }
                    let kinds = messages.compactMap { $0["eventtype"]?.string }
                    #expect(kinds == ["offer", "connect"])
                    #expect(messages.allSatisfy { $0["eventtype"] == nil || $0["device"]?.string == "5001" })
                    // And the other way round, on the first process's feed.
                    let other = try await FeedClient.connect(
                        port: try #require(one.port), query: "after=0&devices=5001&events=offer,connect")
                    let replayed = try await other.waitFor { $0.contains { $0["type"]?.string == "live" } }
                    #expect(FeedHarness.positions(replayed) == FeedHarness.positions(messages))
                    _ = try await other.close()
                    _ = try await desk.close()
                }
            }
        }
    }
}

/// A rebuild swapped in while events flow: the feed goes on without a gap or a repeat, and holds exactly the
/// messages the reducer makes from the whole log.
struct FeedAcrossRebuildTests {
    @Test func aRebuildWhileTrafficFlowsNeitherDropsNorRepeatsMessages() async throws {
        try await AppHarness.withApp { client, database in
            let traffic = AppHarness.traffic(calls: 80, seed: 21)
            let half = traffic.count / 2
            try await AppHarness.post(client, traffic[..<half])
            try await AppHarness.waitForProjection(client)
            let posting = Task {
                for chunk in stride(from: half, to: traffic.count, by: 25) {
                    try await AppHarness.post(client, traffic[chunk..<min(chunk + 25, traffic.count)])
                }
            }
            _ = try await database.withClient { pool in
                // Ranges of 7 event positions at the swap: the live feed, going on meanwhile, may stand inside one.
                try await ProjectionRebuilder(
                    store: PostgresJourneyStore(client: pool, logger: database.logger), logger: database.logger,
                    readSize: 50,
                    feedEventsPerAppend: 7
                ).run()
            }
            try await posting.value
            try await AppHarness.waitForProjection(client)

            // What the feed holds, replayed from the start.
            let port = try #require(client.port)
            let head = try await FeedHarness.feedHead(client, port: port)
            let feed = try await FeedHarness.replay(port: port, query: "", head: head)
            #expect(FeedHarness.positions(feed) == Array(1...head))

            // What the reducer makes from the log, read back in position order.
            let stored = try await database.withClient { pool in
                let store = PostgresJourneyStore(client: pool, logger: database.logger)
                var events: [(position: Int64, body: String?)] = []
                while true {
                    let page = try await store.events(after: events.last?.position ?? 0, limit: 1_000)
                    if page.isEmpty { return events }
                    events += page
                }
            }
            var tracker = JourneyTracker()
            let decoder = JSONDecoder()
            for case (let position, let body?) in stored {
                tracker.apply(
                    CallEvent(position: position, event: try decoder.decode(TSAPIEvent.self, from: Data(body.utf8))))
            }
            func key(_ kind: String?, _ device: String?, _ party: String?, _ ucid: String?, _ time: String?) -> String {
                [kind, device, party, ucid, time].map { $0 ?? "-" }.joined(separator: "|")
            }
            let expected = tracker.takeFeed().map {
                key($0.kind.rawValue, $0.device, $0.party, $0.ucid?.rawValue, Timestamp.format($0.time))
            }
            let got = feed.map {
                key(
                    $0["eventtype"]?.string, $0["device"]?.string, $0["party"]?.string, $0["ucid"]?.string,
                    $0["time"]?.string)
            }
            #expect(got.count == expected.count)
            #expect(got == expected, "the feed is the reducer's output over the whole log, in order")
        }
    }

    /// With no service running, the live feed never moved: the rebuild makes the messages of the whole log. It stages
    /// them and the swap appends them a few event positions at a time (here 7, so that many events' messages fall
    /// at a boundary); each comes once, in the reducer's order.
    @Test func aRebuildFarAheadOfTheFeedAppendsItsWholeTailInRanges() async throws {
        try await TestDatabase.with { database in
            try await database.withClient { pool in
                let events = PostgresEventStore(client: pool, logger: database.logger)
                let traffic = AppHarness.traffic(calls: 60, seed: 33)
                for chunk in stride(from: 0, to: traffic.count, by: 40) {
                    let body = traffic[chunk..<min(chunk + 40, traffic.count)].joined(separator: "\n")
                    _ = try await events.append([try IngestBatchParser.parse(Array(body.utf8))])
                }
                let journeys = PostgresJourneyStore(client: pool, logger: database.logger)
                let report = try await ProjectionRebuilder(
                    store: journeys, logger: database.logger, readSize: 50, feedEventsPerAppend: 7
                ).run()

                var tracker = JourneyTracker()
                let decoder = JSONDecoder()
                for case (let position, let body?) in try await journeys.events(after: 0, limit: 100_000) {
                    tracker.apply(
                        CallEvent(position: position, event: try decoder.decode(TSAPIEvent.self, from: Data(body.utf8)))
                    )
                }
                let expected = tracker.takeFeed()
                let feed = PostgresFeedStore(client: pool, logger: database.logger)
                let page = try await feed.page(after: 0, limit: 100_000)
                #expect(expected.count > 100)
                #expect(
                    page.messages.map(\.position) == Array(1...Int64(page.messages.count)), "gapless positions from 1")
                func key(_ message: FeedMessage) -> String {
                    "\(message.eventPosition)|\(message.kind.rawValue)|\(message.device)|\(message.storedJSON)"
                }
                let got = page.messages.map { key($0.message) }, want = expected.map(key)
                #expect(got.count == want.count, "every message once")
                if let index = zip(got, want).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
                    Issue.record(
                        "in the reducer's order: message \(index + 1) is\n\(got[index])\nwhere the reducer made\n\(want[index])"
                    )
                }
                #expect(try await feed.head().eventPosition == report.position)
            }
        }
    }
}
