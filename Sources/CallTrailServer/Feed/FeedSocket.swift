import Logging
import NIOCore
import NIOWebSocket
import Synchronization

/// One feed subscriber's WebSocket, served by NIO's frame codec and a handler on the connection's event loop.
///
/// An idle subscriber is the feed's common case: a desktop connects at the start of a shift and hears nothing
/// between calls. Served by a WebSocket library's async handler, such a connection kept about 19 KB of task memory
/// (a task keeps the slabs of its deepest calls until it ends, and that stack held the upgrade, the library's
/// handler and task group, and its message assembly). Here the frames are handled on the event loop; the
/// connection's task only waits for the next whole message, a few frames deep.
///
/// What it does of the protocol (RFC 6455): text messages, whole or in fragments, up to `maxMessageBytes`; pongs
/// for pings; the close handshake either way. Binary messages are read and ignored (the feed's requests are text).
final class FeedSocket: Sendable {
    let channel: any Channel
    /// The client's text messages, in order; finishes when the connection ends.
    let messages: AsyncStream<String>
    /// How long a client may take to answer the server's close frame before the connection is dropped.
    let closeTimeout: Duration
    private let incoming: AsyncStream<String>.Continuation
    /// Set once the server has sent its close frame: the client's answering close ends the connection.
    private let closeSent = Atomic<Bool>(false)

    /// Client messages may wait unanswered: a client that sends more than this while the feed answers is closed
    /// (1008), not buffered without bound.
    static let maxWaitingMessages = 64

    init(channel: any Channel, closeTimeout: Duration) {
        self.channel = channel
        self.closeTimeout = closeTimeout
        (messages, incoming) = AsyncStream.makeStream(
            of: String.self, bufferingPolicy: .bufferingOldest(Self.maxWaitingMessages))
    }

    /// The handler to put in the pipeline after NIO's WebSocket codec.
    func makeHandler(maxMessageBytes: Int) -> FrameHandler {
        FrameHandler(socket: self, maxMessageBytes: maxMessageBytes)
    }

    /// Sends one text message; returns once NIO has written it (so a writer awaiting each send is paced by the
    /// client's reading).
    func send(_ text: String) async throws {
        try await channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(string: text))).get()
    }

    func ping() async throws {
        try await channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .ping, data: ByteBuffer())).get()
    }

    /// Starts the close handshake with `code` and `reason`; a client that does not answer within `closeTimeout`
    /// is disconnected.
    func close(_ code: WebSocketErrorCode, reason: String? = nil) async throws {
        guard !closeSent.exchange(true, ordering: .relaxed) else { return }
        let channel = channel
        channel.eventLoop.scheduleTask(in: TimeAmount(closeTimeout)) { channel.close(promise: nil) }
        try await channel.writeAndFlush(Self.closeFrame(code, reason: reason, allocator: channel.allocator)).get()
    }

    /// A close frame: the code, then the reason, cut to the 123 bytes a control frame leaves for it.
    static func closeFrame(
        _ code: WebSocketErrorCode, reason: String?, allocator: ByteBufferAllocator
    ) -> WebSocketFrame {
        var data = allocator.buffer(capacity: 2 + (reason?.utf8.count ?? 0))
        data.write(webSocketErrorCode: code)
        if let reason { data.writeString(String(decoding: reason.utf8.prefix(123), as: UTF8.self)) }
        return WebSocketFrame(fin: true, opcode: .connectionClose, data: data)
    }

    /// Turns frames into messages on the event loop, and answers pings and closes there.
    final class FrameHandler: ChannelInboundHandler {
        typealias InboundIn = WebSocketFrame
        typealias OutboundOut = WebSocketFrame

        private let socket: FeedSocket
        private let maxMessageBytes: Int
        /// The message being assembled from fragments, and whether it is text.
        private var partial: (buffer: ByteBuffer, isText: Bool)?

        init(socket: FeedSocket, maxMessageBytes: Int) {
            self.socket = socket
            self.maxMessageBytes = maxMessageBytes
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            switch frame.opcode {
            case .text, .binary:
                guard partial == nil else {
                    return fail(context, .protocolError, "a new message began before the last one ended")
                }
                let isText = frame.opcode == .text
                if frame.fin {
                    deliver(frame.unmaskedData, isText: isText, context: context)
                } else {
                    partial = (frame.unmaskedData, isText)
                    checkSize(context)
                }
            case .continuation:
                guard var message = partial else {
                    return fail(context, .protocolError, "a continuation frame without a message")
                }
                partial = nil
                var more = frame.unmaskedData
                message.buffer.writeBuffer(&more)
                if frame.fin {
                    deliver(message.buffer, isText: message.isText, context: context)
                } else {
                    partial = message
                    checkSize(context)
                }
            case .ping:
                context.writeAndFlush(
                    wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
            case .connectionClose:
                if socket.closeSent.exchange(true, ordering: .relaxed) {
                    // The client answered the server's close.
                    context.close(promise: nil)
                } else {
                    // The client closes: answer with its code, then end the connection.
                    var data = frame.unmaskedData
                    closeAfterWriting(
                        context,
                        FeedSocket.closeFrame(
                            data.readWebSocketErrorCode() ?? .normalClosure, reason: nil,
                            allocator: context.channel.allocator))
                }
            default:
                break
            }
        }

        private func deliver(_ buffer: ByteBuffer, isText: Bool, context: ChannelHandlerContext) {
            guard buffer.readableBytes <= maxMessageBytes else {
                return fail(context, .messageTooLarge, "messages are at most \(maxMessageBytes) bytes")
            }
            guard isText else { return }
            if case .dropped = socket.incoming.yield(String(buffer: buffer)) {
                fail(
                    context, .policyViolation, "more than \(FeedSocket.maxWaitingMessages) messages wait for an answer")
            }
        }

        private func checkSize(_ context: ChannelHandlerContext) {
            if let partial, partial.buffer.readableBytes > maxMessageBytes {
                self.partial = nil
                fail(context, .messageTooLarge, "messages are at most \(maxMessageBytes) bytes")
            }
        }

        /// Closes with `code` and `reason` (the client is told why), and stops reading.
        private func fail(_ context: ChannelHandlerContext, _ code: WebSocketErrorCode, _ reason: String) {
            socket.incoming.finish()
            guard !socket.closeSent.exchange(true, ordering: .relaxed) else { return }
            closeAfterWriting(
                context, FeedSocket.closeFrame(code, reason: reason, allocator: context.channel.allocator))
        }

        /// Sends `close` and ends the connection once it is written.
        private func closeAfterWriting(_ context: ChannelHandlerContext, _ close: WebSocketFrame) {
            context.writeAndFlush(wrapOutboundOut(close)).whenComplete { [channel = context.channel] _ in
                channel.close(promise: nil)
            }
        }

        /// The client's side of the connection closed (Hummingbird's server channels allow half-closure): it
        /// will send nothing more, and a WebSocket has no use for the other half.
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let event = event as? ChannelEvent, event == .inputClosed {
                socket.incoming.finish()
                context.close(promise: nil)
            }
            context.fireUserInboundEventTriggered(event)
        }

        func channelInactive(context: ChannelHandlerContext) {
            socket.incoming.finish()
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            socket.incoming.finish()
            context.close(promise: nil)
        }
    }
}
