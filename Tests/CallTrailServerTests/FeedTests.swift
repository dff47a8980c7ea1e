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
        try await TestDatabase.with { database in
            let app = try await buildApplication(TestArguments(databaseURL: database.url.urlString, feed: feed))
            try await app.test(.live) { client in try await body(client, try #require(client.port)) }
        }
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
            try await JourneyAPITests.post(client, lines[..<transfer])
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

            try await JourneyAPITests.post(client, lines[transfer...])
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
            let traffic = JourneyAPITests.traffic(calls: 60, seed: 11)
            let first = try await FeedClient.connect(port: port, query: "after=0")
            let posting = Task {
                for chunk in stride(from: 0, to: traffic.count, by: 40) {
                    try await JourneyAPITests.post(client, traffic[chunk..<min(chunk + 40, traffic.count)])
                }
            }
            let before = try await first.waitFor { Self.positions($0).count >= 150 }
            _ = try await first.close()
            let seen = Self.positions(before)
            let resumeAt = try #require(seen.last)
            try await posting.value
            try await JourneyAPITests.waitForProjection(client)
            let head = try await Self.feedHead(client, port: port)
            #expect(head > resumeAt, "traffic went on after the subscriber left")

            let second = try await FeedClient.connect(port: port, query: "after=\(resumeAt)")
            let rest = Self.positions(try await second.waitFor { Self.positions($0).last == head })
            _ = try await second.close()
            let all = seen + rest
            #expect(all == Array(1...head), "every position once, in order")
        }
    }

    // MARK: - Filters

    @Test func filtersPickMessagesByDeviceAgentVDNSplitAndType() async throws {
        try await withApp { client, port in
            try await JourneyAPITests.post(client, try Self.lines("c-consultative-transfer"))
            try await JourneyAPITests.post(
                client,
                try Self.lines("b-abandon-in-queue").map {
                    $0.replacingOccurrences(of: "00001000011795168800", with: "00001000091795168800")
                        .replacingOccurrences(of: "\"callID\":1001", with: "\"callID\":1091")
                        .replacingOccurrences(of: "\"seq\":", with: "\"seq\":50")
                        .replacingOccurrences(of: "\"7001\"", with: "\"7002\"")
                })
            try await JourneyAPITests.waitForProjection(client)
            let head = try await Self.feedHead(client, port: port)
            let all = try await Self.replay(port: port, query: "", head: head)
            #expect(Self.positions(all) == Array(1...head))

            func check(_ query: String, _ wanted: ([String: JSONTree]) -> Bool) async throws {
                let filtered = try await Self.replay(port: port, query: query, head: head)
                let expected = all.filter { message in wanted(Self.members(message)) }
                #expect(!expected.isEmpty, "\(query) matches something")
                #expect(Self.positions(filtered) == Self.positions(expected), "\(query)")
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
                let (error, closeCode) = try await Self.rawWebSocket(port: port, query: query)
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
            try await JourneyAPITests.post(client, try Self.lines("three-agent-conference"))
            let close = try #require(try await slow.closed(within: .seconds(30)))
            #expect(close.closeCode == .policyViolation)
            let reason = try #require(close.reason)
            #expect(reason.contains("too slow: more than 4 messages waiting"), "\(reason)")
            let resumeAt = try #require(reason.split(separator: "after=").last.flatMap { Int64($0) })
            let got = Self.positions(slow.received)
            #expect(got.allSatisfy { $0 <= resumeAt })

            try await JourneyAPITests.waitForProjection(client)
            let head = try await Self.feedHead(client, port: port)
            let rest = try await Self.replay(port: port, query: "after=\(resumeAt)", head: head)
            #expect(Self.positions(rest) == Array((resumeAt + 1)...head))
            #expect(head > 4)
        }
    }

    /// An idle subscriber gets heartbeats that say how far it has got.
    @Test func idleSubscribersGetHeartbeats() async throws {
        try await withApp(feed: FeedPolicy(heartbeatSeconds: 0.2)) { client, port in
            try await JourneyAPITests.post(client, try Self.lines("a-inbound-answered"))
            try await JourneyAPITests.waitForProjection(client)
            let head = try await Self.feedHead(client, port: port)
            let idle = try await FeedClient.connect(port: port, query: "devices=9999")
            let received = try await idle.waitFor { Self.heartbeats(in: $0).count >= 2 }
            let positions = Self.heartbeats(in: received)
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

            try await JourneyAPITests.post(client, lines[transfer...])
            try await JourneyAPITests.waitForProjection(client)
            let replay = try await FeedClient.connect(port: port, query: "devices=5001&after=\(head)")
            let replayed = Self.positions(try await replay.waitFor { $0.contains { $0["type"]?.string == "live" } })
            let last = try #require(replayed.last, "the transfer ends the call at 5001")
            let live = Self.positions(try await desk.waitFor { Self.positions($0).contains(last) })
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
        try await JourneyAPITests.post(client, lines[..<transfer])
        try await JourneyAPITests.waitForProjection(client)
        let head = try await Self.feedHead(client, port: port)
        let desk = try await FeedClient.connect(port: port, query: "devices=5001")
        let first = try await desk.waitFor { $0.contains { $0["type"]?.string == "live" } }
        return (lines, transfer, head, desk, first)
    }

    /// The first text message and the close code of a WebSocket to the feed, over a plain TCP socket: a
    /// WebSocket client library's own close handshake is not what is under test (swift-websocket's client
    /// sometimes never returned from a connection the server closed at once).
    static func rawWebSocket(port: Int, query: String) async throws -> (JSONTree?, UInt16?) {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(
                ByteBuffer(
                    string:
                        "GET /v1/feed?\(query) HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
            var bytes: [UInt8] = []
            var text: JSONTree?
            for try await chunk in inbound {
                bytes += Array(chunk.readableBytesView)
                guard let end = bytes.firstRange(of: Array("\r\n\r\n".utf8))?.upperBound else { continue }
                // Frames from a server are not masked: opcode, length (7 bits or 16), payload.
                var offset = end
                while offset + 2 <= bytes.count {
                    let opcode = bytes[offset] & 0x0f
                    var length = Int(bytes[offset + 1] & 0x7f)
                    var start = offset + 2
                    if length == 126 {
                        guard start + 2 <= bytes.count else { break }
                        length = Int(bytes[start]) << 8 | Int(bytes[start + 1])
                        start += 2
                    }
                    guard start + length <= bytes.count else { break }
                    let payload = Array(bytes[start..<start + length])
                    if opcode == 1 { text = try? JSONTree(parsing: String(decoding: payload, as: UTF8.self)) }
                    if opcode == 8 {
                        return (text, payload.count >= 2 ? UInt16(payload[0]) << 8 | UInt16(payload[1]) : nil)
                    }
                    offset = start + length
                }
            }
            return (text, nil)
        }
    }

    static func heartbeats(in messages: [JSONTree]) -> [Int64?] {
        messages.filter { $0["type"]?.string == "heartbeat" }.map { $0["position"]?.integer }
    }

    static func members(_ tree: JSONTree) -> [String: JSONTree] {
        guard case .object(let members) = tree else { return [:] }
        return Dictionary(members.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
    }

    /// The positions of the feed messages (not heartbeats or acknowledgements), in the order received.
    static func positions(_ messages: [JSONTree]) -> [Int64] {
        messages.filter { $0["eventtype"] != nil && $0["snapshot"] == nil }.compactMap { $0["position"]?.integer }
    }

    /// The feed's last position, as `/v1/projections` gives it. The projector has caught up when this is called,
    /// so the table is complete (this process's hub may not have read it yet).
    static func feedHead(_ client: some TestClientProtocol, port: Int) async throws -> Int64 {
        let status = try JourneyAPITests.json(try await client.execute(uri: "/v1/projections", method: .get))
        return Int64(try #require((status["feed"] as? [String: Any])?["position"] as? Int))
    }

    /// Every message after the query's `after` (or 0) up to `head`.
    static func replay(port: Int, query: String, head: Int64) async throws -> [JSONTree] {
        let full = query.contains("after=") ? query : (query.isEmpty ? "after=0" : query + "&after=0")
        let subscriber = try await FeedClient.connect(port: port, query: full)
        let messages = try await subscriber.waitFor { $0.contains { $0["type"]?.string == "live" } }
        _ = try await subscriber.close()
        #expect(messages.first { $0["type"]?.string == "live" }?["position"]?.integer == head)
        return messages.filter { $0["eventtype"] != nil }
    }
}

/// A feed subscriber over a real WebSocket: it keeps every text message it receives.
final class FeedClient: Sendable {
    private let box: Box
    private let task: Task<WebSocketCloseFrame?, any Error>

    final class Box: Sendable {
        let messages = Mutex<[JSONTree]>([])
        let outbound = Mutex<WebSocketOutboundWriter?>(nil)
    }

    private init(box: Box, task: Task<WebSocketCloseFrame?, any Error>) {
        self.box = box
        self.task = task
    }

    static func connect(port: Int, query: String, path: String = "/v1/feed") async throws -> FeedClient {
        let box = Box()
        let task = Task {
            try await WebSocketClient.connect(
                url: "ws://127.0.0.1:\(port)\(path)?\(query)", logger: Logger(label: "feed-client")
            ) {
                inbound, outbound, _ in
                box.outbound.withLock { $0 = outbound }
                for try await message in inbound.messages(maxSize: 1 << 22) {
                    guard case .text(let text) = message else { continue }
                    let tree = (try? JSONTree(parsing: text)) ?? .string(text)
                    box.messages.withLock { $0.append(tree) }
                }
            }
        }
        let client = FeedClient(box: box, task: task)
        for _ in 0..<500 where box.outbound.withLock({ $0 == nil }) {
            try await Task.sleep(for: .milliseconds(10))
        }
        return client
    }

    var received: [JSONTree] { box.messages.withLock { $0 } }

    /// Waits until `done` holds for everything received so far; fails after `timeout`.
    func waitFor(timeout: Duration = .seconds(30), _ done: ([JSONTree]) -> Bool) async throws -> [JSONTree] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let messages = received
            if done(messages) { return messages }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("the feed did not send what was waited for within \(timeout); got \(received.count) messages")
        throw CancellationError()
    }

    func send(_ text: String) async throws {
        let outbound = try #require(box.outbound.withLock { $0 })
        try await outbound.write(.text(text))
    }

    /// Closes from the client's side; returns the server's close frame.
    func close() async throws -> WebSocketCloseFrame? {
        if let outbound = box.outbound.withLock({ $0 }) { try? await outbound.close(.normalClosure, reason: nil) }
        return try await closed(within: .seconds(15))
    }

    /// The server's close frame, once the connection has ended; fails (and drops the connection) after `timeout`.
    func closed(within timeout: Duration) async throws -> WebSocketCloseFrame? {
        let task = self.task
        return try await withThrowingTaskGroup(of: WebSocketCloseFrame?.self) { group in
            group.addTask {
                try await withTaskCancellationHandler {
                    try await task.value
                } onCancel: {
                    task.cancel()
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                Issue.record("the feed connection did not end within \(timeout)")
                throw CancellationError()
            }
            defer { group.cancelAll() }
            return try await group.next() ?? nil
        }
    }
}
