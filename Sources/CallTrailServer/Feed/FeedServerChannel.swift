import EventStore
import Foundation
import HTTPTypes
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOSSL
import NIOWebSocket

/// The server's connections: HTTP/1 for the API, and WebSocket upgrades of `GET /v1/feed`, which go to the feed as
/// `FeedSocket`s.
///
/// It sets up the same HTTP/1 pipeline as Hummingbird's own channels, with NIO's WebSocket upgrader in front. An
/// upgrade elsewhere than `/v1/feed` is refused with an empty 400, as hummingbird-websocket does.
///
/// Each connection also starts with a receive buffer of `initialReceiveBytes` instead of NIO's 2 KB. NIO keeps one
/// pooled receive buffer per connection for as long as it is open, sized by the adaptive allocator from its last
/// reads; an idle subscriber reads its upgrade request and then nothing for hours, so with 5,000 of them NIO's
/// 2,048 bytes were about 10 MB. The allocator still doubles the buffer (up to 64 KB) whenever a read fills it,
/// so a connection that posts events reads as before.
///
/// With `tls`, every connection starts with a TLS handshake (HTTPS and WSS on the same port), using the
/// certificate current when it is accepted, so a reload on SIGHUP serves new connections with the new one.
struct FeedServerChannel: ServerChildChannel, HTTPChannelHandler {
    /// Serves an upgraded connection; `caller` is who access control admitted.
    typealias FeedHandler = @Sendable (FeedSocket, _ uri: String, _ caller: Caller, Logger) async -> Void

    enum Negotiated: Sendable {
        case http(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        /// An upgrade that is not made: malformed, or (with a refusal) its token does not admit it to the feed.
        case refusedUpgrade(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, AccessRefusal?)
        case feed(FeedSocket, uri: String, caller: Caller)
    }

    struct Value: ServerChildChannelValue {
        let negotiated: EventLoopFuture<Negotiated>
        let channel: any Channel
    }

    struct Configuration: Sendable {
        var http1 = HTTP1Channel.Configuration()
        /// Largest frame a client may send.
        var maxFrameBytes = 1 << 16
        /// Largest message a client may send, fragments together.
        var maxMessageBytes = 1 << 16
        /// How long a client may take to answer the feed's close frame.
        var closeTimeout: Duration = .seconds(15)
        var initialReceiveBytes = 512
        var limits = RequestLimits()
        /// Whether an upgrade's token admits it to the feed (`AccessControl.feedAdmission`): who it admits, or why
        /// not. `certificate` is the subject of the client's TLS certificate (mutual TLS).
        var admission:
            @Sendable (
                _ uri: String, _ authorization: String?, _ protocols: String?, _ remote: SocketAddress?,
                _ certificate: String?
            ) -> Result<Caller, AccessRefusal> = { _, _, _, _, _ in .success(.open) }
        /// HTTPS and WSS (`--tls-cert`); nil serves plain HTTP.
        var tls: ServerTLS?
    }

    static let feedPath = "/v1/feed"

    let responder: HTTPChannelHandler.Responder
    let configuration: Configuration
    let feed: FeedHandler

    init(responder: @escaping HTTPChannelHandler.Responder, configuration: Configuration, feed: @escaping FeedHandler) {
        self.responder = configuration.limits.enforcing(Self.refusingLateUpgrades(responder))
        self.configuration = configuration
        self.feed = feed
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let configuration = self.configuration
            if let tls = configuration.tls {
                try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.current))
            }
            try channel.syncOptions?.setOption(
                ChannelOptions.recvAllocator,
                value: AdaptiveRecvByteBufferAllocator(
                    minimum: 64, initial: configuration.initialReceiveBytes, maximum: 65_536))
            try channel.pipeline.syncOperations.addHandler(
                LingeringCloseHandler(limit: configuration.limits.lingeringBytes))
            let upgradeAttempted = NIOLoopBoundBox(false, eventLoop: channel.eventLoop)
            let accessRefused = NIOLoopBoundBox(AccessRefusal?.none, eventLoop: channel.eventLoop)
            let admittedBy = NIOLoopBoundBox(Caller.open, eventLoop: channel.eventLoop)
            let upgrader = NIOTypedWebSocketServerUpgrader<Negotiated>(
                maxFrameSize: configuration.maxFrameBytes,
                shouldUpgrade: { channel, head in
                    upgradeAttempted.value = true
                    let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
                    // An oversized request is not upgraded: the HTTP path answers it with 414 or 431.
                    let fits =
                        head.uri.utf8.count <= configuration.limits.maxTargetBytes
                        && head.headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 }
                            <= configuration.limits.maxHeaderBytes
                    let protocols = head.headers["Sec-WebSocket-Protocol"].joined(separator: ",")
                    guard path == Self.feedPath, fits else { return channel.eventLoop.makeSucceededFuture(nil) }
                    let certificate =
                        configuration.tls?.requiresClientCertificates == true
                        ? (try? channel.pipeline.syncOperations.handler(type: NIOSSLHandler.self).peerCertificate)
                            .flatMap(ServerTLS.subject(of:)) : nil
                    switch configuration.admission(
                        head.uri, head.headers["Authorization"].first, protocols.isEmpty ? nil : protocols,
                        channel.remoteAddress, certificate)
                    {
                    case .success(let caller):
                        admittedBy.value = caller
                    case .failure(let refusal):
                        accessRefused.value = refusal
                        return channel.eventLoop.makeSucceededFuture(nil)
                    }
                    // A browser that sends its token as a subprotocol (`bearer.TOKEN`) offers `calltrail` beside it,
                    // and must be answered with one it offered: `calltrail`, never the token.
                    var headers = HTTPHeaders()
                    if protocols.split(separator: ",").contains(where: {
                        $0.trimmingCharacters(in: .whitespaces) == "calltrail"
                    }) {
                        headers.add(name: "Sec-WebSocket-Protocol", value: "calltrail")
                    }
                    return channel.eventLoop.makeSucceededFuture(headers)
                },
                upgradePipelineHandler: { channel, head in
                    channel.eventLoop.makeCompletedFuture {
                        let socket = FeedSocket(channel: channel, closeTimeout: configuration.closeTimeout)
                        try channel.pipeline.syncOperations.addHandler(
                            socket.makeHandler(maxMessageBytes: configuration.maxMessageBytes))
                        return .feed(socket, uri: head.uri, caller: admittedBy.value)
                    }
                })
            let upgrades = NIOTypedHTTPServerUpgradeConfiguration<Negotiated>(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            HTTP1ToHTTPServerCodec(secure: configuration.tls != nil))
                        try channel.pipeline.syncOperations.addHandlers(configuration.http1.additionalChannelHandlers())
                        try channel.pipeline.syncOperations.addHandler(
                            HTTPConnectionStateHandler(
                                idleTimeout: configuration.http1.idleTimeout.map { .init($0) }, logger: logger))
                        let http = try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(
                            wrappingChannelSynchronously: channel,
                            configuration: .init(isOutboundHalfClosureEnabled: true))
                        return upgradeAttempted.value ? .refusedUpgrade(http, accessRefused.value) : .http(http)
                    }
                })
            var pipeline = NIOUpgradableHTTPServerPipelineConfiguration<Negotiated>(upgradeConfiguration: upgrades)
            pipeline.enablePipelining = false  // NIOAsyncChannel pipelines HTTP
            pipeline.enableErrorHandling = false  // Hummingbird answers errors
            pipeline.enableResponseHeaderValidation = false  // HTTPTypes validates them
            pipeline.decoderConfiguration.maxHeaderFieldSize = configuration.limits.parserHeadBytes
            pipeline.decoderConfiguration.maxHeaderListSize = configuration.limits.parserHeadBytes
            pipeline.decoderConfiguration.maxHeaderFieldCount = configuration.http1.httpDecoder.maxHeaderFieldCount
            let negotiated = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(
                configuration: pipeline)
            return Value(negotiated: negotiated, channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.negotiated.get() {
            case .http(let http):
                // With mutual TLS, the routes learn who the client is from its certificate (once per connection).
                var subject: String?
                if configuration.tls?.requiresClientCertificates == true,
                    let certificate = try? await value.channel.nioSSL_peerCertificate().get()
                {
                    subject = ServerTLS.subject(of: certificate)
                }
                await ConnectionPeer.$certificateSubject.withValue(subject) {
                    await handleHTTP(asyncChannel: http, logger: logger)
                }
            case .refusedUpgrade(let http, let refusal):
                try await http.executeThenClose { _, outbound in
                    guard let refusal else {
                        try await outbound.write(contentsOf: [
                            .head(
                                HTTPResponse(
                                    status: .badRequest, headerFields: [.connection: "close", .contentLength: "0"])),
                            .end(nil),
                        ])
                        return
                    }
                    // The error object every route answers with, and for a missing token the challenge; slowly for an
                    // address that keeps failing.
                    if refusal.delay > .zero { try? await Task.sleep(for: refusal.delay) }
                    let body = ByteBuffer(string: APIError(refusal.status, refusal.message).bodyText)
                    var fields: HTTPFields = [
                        .connection: "close", .contentType: "application/json", .contentLength: "\(body.readableBytes)",
                    ]
                    if refusal.status == .unauthorized { fields[.wwwAuthenticate] = "Bearer realm=\"calltrail\"" }
                    if let retryAfter = refusal.retryAfter { fields[.retryAfter] = "\(retryAfter)" }
                    try await outbound.write(contentsOf: [
                        .head(HTTPResponse(status: refusal.status, headerFields: fields)), .body(body), .end(nil),
                    ])
                }
            case .feed(let socket, let uri, let caller):
                await feed(socket, uri, caller, logger)
            }
        } catch let error as ChannelError where error == .inputClosed {
            logger.trace("the connection closed before its first request")
        } catch {
            // A request NIO could not parse (its head over `RequestLimits.parserHeadBytes`, or malformed) before the
            // HTTP handling began: nobody else will close the connection.
            logger.debug("connection ended", metadata: ["error": "\(LoggedError(error))"])
            try? await value.channel.close()
        }
    }

    /// NIO negotiates an upgrade only on a connection's first request. A later request asking for one is sent
    /// back to the same URI on a new connection, where the upgrade can happen (as hummingbird-websocket does).
    static func refusingLateUpgrades(
        _ responder: @escaping HTTPChannelHandler.Responder
    ) -> HTTPChannelHandler.Responder {
        struct RedirectedToNewConnection: Error {}
        return { request, writer, channel in
            guard request.headers[.upgrade]?.lowercased() == "websocket" else {
                return try await responder(request, writer, channel)
            }
            var location = request.uri.path
            if let query = request.uri.query { location += "?\(query)" }
            try await writer.writeResponse(
                HTTPResponse(status: .temporaryRedirect, headerFields: [.connection: "close", .location: location]))
            throw RedirectedToNewConnection()
        }
    }
}
