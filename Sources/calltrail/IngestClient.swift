import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// The client `calltrail simulate --url` posts its batches with: one kept-alive HTTP/1.1 connection, one request
/// at a time, written on NIO directly so the shipped binary carries no HTTP client library for a tool this small.
/// Plain `http://` only: the simulator posts to a CallTrail on the same host or network.
struct IngestConnection {
    private let authority: String
    private let path: String
    private var inbound: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>

    /// Runs `body` with a connection to `url` (`http://host:port`, with or without `/v1/events`), closed after.
    static func with<Result: Sendable>(
        _ url: String, _ body: (inout IngestConnection) async throws -> Result
    ) async throws -> Result {
        guard let components = URLComponents(string: url), components.scheme == "http", let host = components.host
        else {
            throw IngestClientError("--url must be an http:// address such as http://127.0.0.1:8080; got \(url)")
        }
        let port = components.port ?? 80
        let base = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        let path = base.hasSuffix("v1/events") ? "/" + base : "/" + (base.isEmpty ? "" : base + "/") + "v1/events"
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    // A server that stops answering must not hang the tool: no byte for 60 s closes the
                    // connection, and the batch is sent again on a new one.
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: .seconds(60)))
                    try channel.pipeline.syncOperations.addHandler(CloseWhenIdle())
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                        wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var connection = IngestConnection(
                authority: "\(host):\(port)", path: path, inbound: inbound.makeAsyncIterator(), outbound: outbound)
            return try await body(&connection)
        }
    }

    /// Posts one NDJSON batch; returns the status and the body of the answer. A connection the server closed
    /// (between batches sent slowly, or a restart) is an `IngestClientError` with `closed` set; the caller
    /// connects again and sends the batch anew: ingest is idempotent.
    mutating func post(_ body: String) async throws -> (status: Int, body: String) {
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path)
        head.headers.add(name: "Host", value: authority)
        head.headers.add(name: "Content-Type", value: "application/x-ndjson")
        head.headers.add(name: "Content-Length", value: "\(body.utf8.count)")
        try await outbound.write(contentsOf: [.head(head), .body(.byteBuffer(ByteBuffer(string: body))), .end(nil)])
        var status = 0
        var answer = ByteBuffer()
        while let part = try await inbound.next() {
            switch part {
            case .head(let response): status = Int(response.status.code)
            case .body(var chunk): answer.writeBuffer(&chunk)
            case .end: return (status, String(buffer: answer))
            }
        }
        throw IngestClientError("CallTrail closed the connection before it answered", closed: true)
    }
}

struct IngestClientError: Error, CustomStringConvertible {
    var description: String
    /// The connection was closed: connecting again may succeed.
    var closed = false
    init(_ description: String, closed: Bool = false) {
        self.description = description
        self.closed = closed
    }
}

/// Closes the connection when `IdleStateHandler` says nothing was read for its timeout.
private final class CloseWhenIdle: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}
