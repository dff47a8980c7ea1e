import CallTrailServer
import EventStore
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOPosix
import NIOWebSocket
import Synchronization
import TSAPI
import TestSupport
import Testing
import WSClient

/// The WebSocket feed (docs/feed.md) over real sockets, with a real PostgreSQL and the projector as in
/// production.
struct FeedTests {
    func withApp(
        feed: FeedPolicy = FeedPolicy(), _ body: @Sendable (any TestClientProtocol, Int) async throws -> Void
    ) async throws {
        try await AppHarness.withFeedApp(TestArguments(feed: feed), body)
    }

    static func lines(_ name: String) throws -> [String] { try ScenarioFixtures.lines(name) }

    // MARK: - The acceptance case

    /// A consultative transfer: the consulted agent's desktop pops with the customer's numbers while the
    /// transferring agent still holds the customer, before the transfer completes.
    @Test func theConsultedAgentPopsWithTheCustomerBeforeTheTransfer() async throws {
        try await withApp { client, port in
            let desk = try await FeedClient.connect(port: port, query: "devices=5002")
            _ = try await desk.waitFor { $0.contains { $0["type"]?.string == "live" } }
            let lines = try Self.lines("c-consultative-transfer")
            let transfer = try #require(lines.firstIndex { $0.contains("CSTA_TRANSFERRED") })
            try await AppHarness.post(client, lines[..<transfer])
            let events = try await desk.waitFor { $0.contains { $0["eventtype"]?.string == "offer" } }.filter {
                $0["eventtype"] != nil
            }
            let offer = try #require(events.first)
            #expect(offer["eventtype"]?.string == "offer")
            #expect(offer["device"]?.string == "5002")
            #expect(offer["calling"]?.string == "5001", "the consultation's caller is the agent")
            #expect(offer["originalAni"]?.string == "6135555493")
            #expect(offer["originalDnis"]?.string == "8005551234")
            #expect(offer["vdn"]?.string == "7001")
            #expect(offer["uui"]?.string == "ACCT=998877;LANG=FR")
            #expect(offer["journeyId"]?.string == "00001000011795168800")
            #expect(offer["previousAgents"] == .array([.string("5001")]))
            #expect(!events.contains { $0["eventtype"]?.string == "transfer" }, "nothing was transferred yet")

            try await AppHarness.post(client, lines[transfer...])
            let after = try await desk.waitFor { $0.contains { $0["eventtype"]?.string == "transfer" } }
            let kinds = after.compactMap { $0["eventtype"]?.string }
            #expect(kinds.starts(with: ["offer", "connect", "transfer"]), "\(kinds)")
            _ = try await desk.close()
        }
    }

    // MARK: - Resume

    /// A subscriber that drops mid-traffic and resumes with `after` ends with every message once, in order.
    @Test func aSubscriberThatResumesGetsEveryMessageExactlyOnce() async throws {
        try await withApp { client, port in
            let traffic = AppHarness.traffic(calls: 60, seed: 11)
            let first = try await FeedClient.connect(port: port, query: "after=0")
            let posting = Task {
                for chunk in stride(from: 0, to: traffic.count, by: 40) {
                    try await AppHarness.post(client, traffic[chunk..<min(chunk + 40, traffic.count)])
                }
            }
            let before = try await first.waitFor { FeedHarness.positions($0).count >= 150 }
            _ = try await first.close()
            let seen = FeedHarness.positions(before)
            let resumeAt = try #require(seen.last)
            try await posting.value
            try await AppHarness.waitForProjection(client)
            let head = try await FeedHarness.feedHead(client, port: port)
            #expect(head > resumeAt, "traffic went on after the subscriber left")

            let second = try await FeedClient.connect(port: port, query: "after=\(resumeAt)")
            let rest = FeedHarness.positions(try await second.waitFor { FeedHarness.positions($0).last == head })
            _ = try await second.close()
            let all = seen + rest
            #expect(all == Array(1...head), "every position once, in order")
        }
    }

    // MARK: - Filters

    @Test func filtersPickMessagesByDeviceAgentVDNSplitAndType() async throws {
        try await withApp { client, port in
            try await AppHarness.post(client, try Self.lines("c-consultative-transfer"))
            try await AppHarness.post(
                client,
                try Self.lines("b-abandon-in-queue").map {
                    $0.replacingOccurrences(of: "00001000011795168800", with: "00001000091795168800")
                        .replacingOccurrences(of: "\"callID\":1001", with: "\"callID\":1091")
                        .replacingOccurrences(of: "\"seq\":", with: "\"seq\":50")
                        .replacingOccurrences(of: "\"7001\"", with: "\"7002\"")
                })
            try await AppHarness.waitForProjection(client)
            let head = try await FeedHarness.feedHead(client, port: port)
            let all = try await FeedHarness.replay(port: port, query: "", head: head)
            #expect(FeedHarness.positions(all) == Array(1...head))

            func check(_ query: String, _ wanted: ([String: JSONTree]) -> Bool) async throws {
                let filtered = try await FeedHarness.replay(port: port, query: query, head: head)
                let expected = all.filter { message in wanted(FeedHarness.members(message)) }
                #expect(!expected.isEmpty, "\(query) matches something")
                #expect(FeedHarness.positions(filtered) == FeedHarness.positions(expected), "\(query)")
            }
            try await check("devices=5002") { $0["device"]?.string == "5002" }
            try await check("devices=5001,5002&events=offer") {
                ["5001", "5002"].contains($0["device"]?.string ?? "") && $0["eventtype"]?.string == "offer"
            }
            try await check("events=transfer,disconnect") {
                ["transfer", "disconnect"].contains($0["eventtype"]?.string ?? "")
            }
            try await check("vdns=7002") { $0["vdn"]?.string == "7002" }
            try await check("splits=3001&events=offer") {
                $0["split"]?.string == "3001" && $0["eventtype"]?.string == "offer"
            }
            // Agent 5001 answered the customer: the consulted agent's messages follow it.
            try await check("agents=5001") { message in
                message["device"]?.string == "5001"
                    || message["previousAgents"].map { $0.text.contains("\"5001\"") } == true
                    || (message["eventtype"]?.string == "connect" && message["party"]?.string == "5001")
            }

            // A subscribe message changes the filter on an open connection.
            let open = try await FeedClient.connect(port: port, query: "after=0&devices=nobody")
            _ = try await open.waitFor { $0.contains { $0["type"]?.string == "live" } }
            try await open.send(#"{"subscribe": {"devices": ["5002"], "events": "offer", "after": 0}}"#)
            let resubscribed = try await open.waitFor { messages in
                messages.contains { $0["eventtype"]?.string == "offer" }
            }
            let offers = resubscribed.filter { $0["eventtype"] != nil }
            #expect(offers.count == 1 && offers.first?["device"]?.string == "5002")
            try await open.send(#"{"subscribe": {"events": ["ring"]}}"#)
            let error = try await open.waitFor { $0.contains { $0["type"]?.string == "error" } }.last {
                $0["type"]?.string == "error"
            }
            #expect(error?["field"]?.string == "events")
            #expect(error?["message"]?.string?.contains("\"ring\"") == true)
            _ = try await open.close()
        }
    }

    /// A bad parameter is named: a WebSocket client gets an error message and the socket closes; over plain HTTP,
    /// a 400. A good URL without a WebSocket gets 426.
    @Test func badParametersGetAnErrorThatNamesThem() async throws {
        try await withApp { client, port in
            for (query, field) in [("events=offer,ring", "events"), ("after=-3", "after"), ("format=xml", "format")] {
                let (error, closeCode) = try await FeedHarness.rawWebSocket(port: port, query: query)
                #expect(error?["type"]?.string == "error", "\(query)")
                #expect(error?["field"]?.string == field, "\(query)")
                #expect(closeCode == 1000, "\(query)")
                let plain = try await client.execute(uri: "/v1/feed?\(query)", method: .get)
                #expect(plain.status == .badRequest, "\(query)")
                #expect(String(buffer: plain.body).contains("\"field\":\"\(field)\""), "\(query)")
            }
            let plain = try await client.execute(uri: "/v1/feed?devices=5001", method: .get)
            #expect(plain.status == .upgradeRequired)
            #expect(String(buffer: plain.body).contains("WebSocket"))
        }
    }

    // MARK: - Slow subscribers

    /// A subscriber whose queue overflows is closed with a reason that says where to resume; resuming there
    /// gives the rest, with nothing lost or repeated.
    @Test func aSubscriberThatFallsBehindIsClosedAndResumes() async throws {
        try await withApp(feed: FeedPolicy(heartbeatSeconds: 60, queueCapacity: 4)) { client, port in
            let slow = try await FeedClient.connect(port: port, query: "")
            _ = try await slow.waitFor { $0.contains { $0["type"]?.string == "live" } }
            try await AppHarness.post(client, try Self.lines("three-agent-conference"))
            let close = try #require(try await slow.closed(within: .seconds(30)))
            #expect(close.closeCode == .policyViolation)
            let reason = try #require(close.reason)
            #expect(reason.contains("too slow: more than 4 messages waiting"), "\(reason)")
            let resumeAt = try #require(reason.split(separator: "after=").last.flatMap { Int64($0) })
            let got = FeedHarness.positions(slow.received)
            #expect(got.allSatisfy { $0 <= resumeAt })

            try await AppHarness.waitForProjection(client)
            let head = try await FeedHarness.feedHead(client, port: port)
            let rest = try await FeedHarness.replay(port: port, query: "after=\(resumeAt)", head: head)
            #expect(FeedHarness.positions(rest) == Array((resumeAt + 1)...head))
            #expect(head > 4)
        }
    }

    /// An idle subscriber gets heartbeats that say how far it has got.
    @Test func idleSubscribersGetHeartbeats() async throws {
        try await withApp(feed: FeedPolicy(heartbeatSeconds: 0.2)) { client, port in
            try await AppHarness.post(client, try Self.lines("a-inbound-answered"))
            try await AppHarness.waitForProjection(client)
            let head = try await FeedHarness.feedHead(client, port: port)
            let idle = try await FeedClient.connect(port: port, query: "devices=9999")
            let received = try await idle.waitFor { FeedHarness.heartbeats(in: $0).count >= 2 }
            let positions = FeedHarness.heartbeats(in: received)
            #expect(positions.allSatisfy { $0 == head })
            _ = try await idle.close()
        }
    }

    /// A desktop that connects mid-call gets the calls now at its device first.
    @Test func aDesktopThatConnectsMidCallGetsItsCurrentCalls() async throws {
        try await withApp { client, port in
            let (_, _, _, desk, first) = try await Self.connectDuringConsultation(client, port: port)
            let snapshot = first.filter { $0["snapshot"] == .bool(true) }
            // 5001 holds the customer and talks to 5002 on the consultation.
            #expect(Set(snapshot.compactMap { $0["eventtype"]?.string }) == ["hold", "connect"])
            #expect(snapshot.allSatisfy { $0["originalAni"]?.string == "6135555493" })
            _ = try await desk.close()
        }
    }

    /// The snapshot stands at a feed position, and the feed carries on from it: what the desktop then gets is
    /// exactly what a replay from that position gives, none of it twice.
    @Test func theFeedCarriesOnFromWhereTheSnapshotStands() async throws {
        try await withApp { client, port in
            let (lines, transfer, head, desk, first) = try await Self.connectDuringConsultation(client, port: port)
            let snapshot = first.filter { $0["snapshot"] == .bool(true) }
            #expect(!snapshot.isEmpty)
            #expect(snapshot.allSatisfy { $0["position"]?.integer == head })
            #expect(first.first { $0["type"]?.string == "live" }?["position"]?.integer == head)

            try await AppHarness.post(client, lines[transfer...])
            try await AppHarness.waitForProjection(client)
            let replay = try await FeedClient.connect(port: port, query: "devices=5001&after=\(head)")
            let replayed = FeedHarness.positions(
                try await replay.waitFor { $0.contains { $0["type"]?.string == "live" } })
            let last = try #require(replayed.last, "the transfer ends the call at 5001")
            let live = FeedHarness.positions(try await desk.waitFor { FeedHarness.positions($0).contains(last) })
            #expect(live == replayed)
            _ = try await replay.close()
            _ = try await desk.close()
        }
    }

    // MARK: - Helpers

    /// Posts the consultative transfer up to the transfer itself (5001 holds the customer and consults 5002),
    /// waits for its projection, then connects a desktop at 5001 and waits until it is live. Returns the
    /// scenario's lines, the transfer's index in them, the feed head before the desktop connected, the desktop,
    /// and what it got until live.
    static func connectDuringConsultation(
        _ client: some TestClientProtocol, port: Int
    ) async throws -> (lines: [String], transfer: Int, head: Int64, desk: FeedClient, first: [JSONTree]) {
        let lines = try Self.lines("c-consultative-transfer")
        let transfer = try #require(lines.firstIndex { $0.contains("CSTA_TRANSFERRED") })
        try await AppHarness.post(client, lines[..<transfer])
        try await AppHarness.waitForProjection(client)
        let head = try await FeedHarness.feedHead(client, port: port)
        let desk = try await FeedClient.connect(port: port, query: "devices=5001")
        let first = try await desk.waitFor { $0.contains { $0["type"]?.string == "live" } }
        return (lines, transfer, head, desk, first)
    }

}
