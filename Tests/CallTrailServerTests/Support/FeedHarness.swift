import CallTrailServer
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import NIOWebSocket
import Synchronization
import TSAPI
import TestSupport
import Testing
import WSClient

/// What the feed suites share: a subscriber over a real WebSocket, a raw socket for close codes, and reading
/// the feed's head and replays.
enum FeedHarness {
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
        let status = try AppHarness.json(try await client.execute(uri: "/v1/projections", method: .get))
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

    /// Connects to the feed; with `tls`, over WSS to `localhost` (the name the test certificates hold).
    static func connect(
        port: Int, query: String, path: String = "/v1/feed", tls: TLSConfiguration? = nil, headers: HTTPFields = [:]
    ) async throws -> FeedClient {
        let box = Box()
        let url = tls == nil ? "ws://127.0.0.1:\(port)\(path)?\(query)" : "wss://localhost:\(port)\(path)?\(query)"
        let task = Task {
            try await WebSocketClient.connect(
                url: url, configuration: WebSocketClientConfiguration(additionalHeaders: headers),
                tlsConfiguration: tls, logger: Logger(label: "feed-client")
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
