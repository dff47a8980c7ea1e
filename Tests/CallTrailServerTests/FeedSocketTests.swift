import CallTrailServer
import Foundation
import NIOCore
import NIOPosix
import TSAPI
import TestSupport
import Testing

/// `FeedServerChannel` and `FeedSocket` on the wire: the WebSocket protocol the feed speaks itself (RFC 6455),
/// checked byte for byte with a raw client over a real socket.
struct FeedSocketTests {
    @Test func pingsAreAnsweredAndFragmentsMakeOneMessage() async throws {
        try await AppHarness.withFeedApp { _, port in
            try await RawWebSocket.with(port: port, path: "/v1/feed?devices=5001") { socket in
                let (status, _) = try await socket.handshake()
                #expect(status.hasPrefix("HTTP/1.1 101"))
                #expect(try await socket.nextFrame(skippingHeartbeats: true).opcode == 0x1)  // the "live" message

                try await socket.send(opcode: 0x9, Array("are you there".utf8))
                let pong = try await socket.nextFrame(skippingHeartbeats: true)
                #expect(pong.opcode == 0xA)
                #expect(String(decoding: pong.payload, as: UTF8.self) == "are you there")

                // One subscribe message in three frames: text, continuation, continuation (fin).
                let message = Array(#"{"subscribe":{"devices":["5002","5003"]}}"#.utf8)
                try await socket.send(opcode: 0x1, Array(message[0..<10]), fin: false)
                try await socket.send(opcode: 0x0, Array(message[10..<25]), fin: false)
                try await socket.send(opcode: 0x0, Array(message[25...]), fin: true)
                let answer = try await socket.nextFrame(skippingHeartbeats: true)
                let text = String(decoding: answer.payload, as: UTF8.self)
                #expect(try JSONTree(parsing: text)["type"]?.string == "subscribed")
                #expect(text.contains("\"5002\"") && text.contains("\"5003\""), "\(text)")

                // The client closes: the server answers with the same code and ends the connection.
                try await socket.send(opcode: 0x8, [0x03, 0xE8])
                let close = try await socket.nextFrame(skippingHeartbeats: true)
                #expect(close.opcode == 0x8)
                #expect(close.payload.prefix(2) == [0x03, 0xE8])
                #expect(try await socket.endsWithoutMoreFrames())
            }
        }
    }

    @Test func aMessageOverTheLimitClosesWith1009AndAStrayContinuationWith1002() async throws {
        try await AppHarness.withFeedApp { _, port in
            try await RawWebSocket.with(port: port, path: "/v1/feed?devices=5001") { socket in
                _ = try await socket.handshake()
                let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 40_000)
                try await socket.send(opcode: 0x1, chunk, fin: false)
                try await socket.send(opcode: 0x0, chunk, fin: false)
                let close = try await socket.nextFrame(skippingHeartbeats: true, skippingText: true)
                #expect(close.opcode == 0x8)
                #expect(close.payload.prefix(2) == [0x03, 0xF1])  // 1009
                #expect(String(decoding: close.payload.dropFirst(2), as: UTF8.self).contains("at most 65536 bytes"))
                #expect(try await socket.endsWithoutMoreFrames())
            }
            try await RawWebSocket.with(port: port, path: "/v1/feed?devices=5001") { socket in
                _ = try await socket.handshake()
                try await socket.send(opcode: 0x0, Array("stray".utf8), fin: true)
                let close = try await socket.nextFrame(skippingHeartbeats: true, skippingText: true)
                #expect(close.opcode == 0x8)
                #expect(close.payload.prefix(2) == [0x03, 0xEA])  // 1002
                #expect(try await socket.endsWithoutMoreFrames())
            }
        }
    }

    /// A client that goes away without a close frame (its side of TCP closed) ends its subscription at once,
    /// not at the next heartbeat or never.
    @Test func aClientThatClosesItsSideEndsTheConnection() async throws {
        try await AppHarness.withFeedApp { _, port in
            // The deadline covers the handshake and the first message too, which take seconds when the whole suite runs.
            try await RawWebSocket.with(port: port, path: "/v1/feed?devices=5001", timeout: .seconds(30)) { socket in
                _ = try await socket.handshake()
                #expect(try await socket.nextFrame(skippingHeartbeats: true).opcode == 0x1)  // the "live" message
                try await socket.closeOutput()
                #expect(try await socket.endsWithoutMoreFrames())
                #expect(!socket.timedOut, "the server kept the connection until the client's deadline")
            }
        }
    }

    @Test func anUpgradeElsewhereThanTheFeedIsRefused() async throws {
        try await AppHarness.withFeedApp { _, port in
            try await RawWebSocket.with(port: port, path: "/v1/journeys") { socket in
                let (status, _) = try await socket.handshake()
                #expect(status.hasPrefix("HTTP/1.1 400"))
            }
        }
    }
}

/// A WebSocket client written out by hand: masked frames out, frames in, and nothing the server did not send.
struct RawWebSocket {
    struct Frame {
        var fin: Bool
        var opcode: UInt8
        var payload: [UInt8]
    }

    let path: String
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    /// Bytes read and not yet parsed.
    final class Pending: @unchecked Sendable {
        var bytes: [UInt8] = []
        var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator?
        /// The deadline closed the connection.
        var timedOut = false
        init(_ iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator?) { self.iterator = iterator }
    }
    let pending: Pending

    var timedOut: Bool { pending.timedOut }

    /// Closes the client's sending side (a TCP FIN), as a client that goes away without a close frame does.
    func closeOutput() async throws {
        outbound.finish()
    }

    static func with(
        port: Int, path: String, timeout: Duration = .seconds(20), _ body: (RawWebSocket) async throws -> Void
    ) async throws {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                        wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
                }
            }
        // A server that never answers fails the test instead of hanging it: the connection ends at the deadline.
        let pending = Pending(nil)
        let deadline = channel.channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) { [channel = channel.channel] in
            pending.timedOut = true
            channel.close(promise: nil)
        }
        defer { deadline.cancel() }
        try await channel.executeThenClose { inbound, outbound in
            pending.iterator = inbound.makeAsyncIterator()
            try await body(RawWebSocket(path: path, outbound: outbound, pending: pending))
        }
    }

    /// Sends the upgrade request; returns the response's status line and headers.
    func handshake() async throws -> (status: String, head: String) {
        try await outbound.write(
            ByteBuffer(
                string:
                    "GET \(path) HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
        while true {
            if let end = pending.bytes.firstRange(of: Array("\r\n\r\n".utf8))?.upperBound {
                let head = String(decoding: pending.bytes[..<end], as: UTF8.self)
                pending.bytes.removeFirst(end)
                return (head.components(separatedBy: "\r\n").first ?? "", head)
            }
            guard try await readMore() else { throw RawWebSocketError("the connection ended during the handshake") }
        }
    }

    /// Sends one frame, masked as a client must.
    func send(opcode: UInt8, _ payload: [UInt8], fin: Bool = true) async throws {
        var frame: [UInt8] = [(fin ? 0x80 : 0) | opcode]
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            frame.append(0x80 | 127)
            frame += (0..<8).reversed().map { UInt8((payload.count >> ($0 * 8)) & 0xFF) }
        }
        let mask: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]
        frame += mask
        frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        try await outbound.write(ByteBuffer(bytes: frame))
    }

    /// The next frame from the server, passing over heartbeats (and, if asked, any text message).
    func nextFrame(skippingHeartbeats: Bool, skippingText: Bool = false) async throws -> Frame {
        while true {
            guard let frame = try await readFrame() else {
                throw RawWebSocketError("the connection ended before a frame")
            }
            if frame.opcode == 0x1 {
                let text = String(decoding: frame.payload, as: UTF8.self)
                if skippingText || (skippingHeartbeats && text.contains("\"type\":\"heartbeat\"")) { continue }
            }
            return frame
        }
    }

    /// True when the server ends the connection with no frame after the last one read.
    func endsWithoutMoreFrames() async throws -> Bool {
        try await readFrame() == nil
    }

    private func readFrame() async throws -> Frame? {
        while true {
            let bytes = pending.bytes
            if bytes.count >= 2 {
                var length = Int(bytes[1] & 0x7F)
                var start = 2
                if length == 126, bytes.count >= 4 {
                    length = Int(bytes[2]) << 8 | Int(bytes[3])
                    start = 4
                } else if length == 127, bytes.count >= 10 {
                    length = bytes[2..<10].reduce(0) { $0 << 8 | Int($1) }
                    start = 10
                }
                if length < 126 || start > 2, start + length <= bytes.count {
                    pending.bytes.removeFirst(start + length)
                    return Frame(
                        fin: bytes[0] & 0x80 != 0, opcode: bytes[0] & 0x0F,
                        payload: Array(bytes[start..<start + length]))
                }
            }
            guard try await readMore() else {
                #expect(pending.bytes.isEmpty, "the connection ended in the middle of a frame")
                return nil
            }
        }
    }

    private func readMore() async throws -> Bool {
        guard let chunk = try await pending.iterator?.next() else { return false }
        pending.bytes += Array(chunk.readableBytesView)
        return true
    }
}

struct RawWebSocketError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
