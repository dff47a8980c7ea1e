import Foundation
import HTTPTypes
import HummingbirdCore
import NIOCore
import TSAPI

/// The bounds every request meets before any route sees it, and how an oversized one is answered, so that no client
/// is left waiting: a clear JSON error at once, and the connection closed in a way the client can read it.
struct RequestLimits: Sendable {
    /// The longest request target (path and query), in bytes; longer ones get `414`. A feed subscription naming a
    /// thousand extensions fits in 8 KB.
    var maxTargetBytes = 16_384
    /// The most bytes of header fields, names and values together; more get `431`.
    var maxHeaderBytes = 32_768
    /// What NIO's parser itself accepts, above the bounds above so that it is CallTrail that answers, with a
    /// message; a request head beyond it gets an empty `400` and is closed.
    var parserHeadBytes = 1 << 20
    /// After the last response of a connection, how much of a body the client is still sending is read and
    /// dropped before the connection is closed under it.
    var lingeringBytes = 64 << 20

    /// `414` or `431` for a request whose head is over the bounds, nil for any other.
    func refusal(_ request: Request) -> APIError? {
        let target = request.head.path?.utf8.count ?? 0
        if target > maxTargetBytes {
            return APIError(
                .uriTooLong,
                "the request target is \(target) bytes, more than the limit of \(maxTargetBytes): name fewer devices, or send "
                    + "the feed's filter as a {\"subscribe\": ...} message")
        }
        if let refusal = Self.nulRefusal(request.uri) { return refusal }
        let headers = request.headers.reduce(0) { $0 + $1.name.rawName.utf8.count + $1.value.utf8.count + 4 }
        if headers > maxHeaderBytes {
            return APIError(
                .requestHeaderFieldsTooLarge,
                "the header fields are \(headers) bytes, more than the limit of \(maxHeaderBytes)")
        }
        return nil
    }

    /// `400` for a path or query parameter that holds a NUL character (`%00`), naming the parameter. Nothing CallTrail
    /// names or stores may hold one: PostgreSQL's text cannot, and a search for it could only fail. Refused here, once,
    /// rather than in every route that reads a parameter.
    static func nulRefusal(_ uri: URI) -> APIError? {
        // A NUL can only come percent-encoded (the HTTP parser refuses a raw one): nearly every request is passed at
        // the cost of one scan of its target, without decoding anything.
        guard uri.description.contains("%00") else { return nil }
        if uri.path.removingPercentEncoding?.contains("\u{0}") == true {
            return APIError(.badRequest, "the path contains a NUL character (%00)", field: "path")
        }
        for (name, value) in uri.queryParameters where name.contains("\u{0}") || value.contains("\u{0}") {
            let field = String(name).replacingOccurrences(of: "\u{0}", with: "")
            return APIError(.badRequest, "the query parameter \(field) contains a NUL character (%00)", field: field)
        }
        return nil
    }

    /// Answers a request over the bounds with its error and `Connection: close`; passes the others on. The server then
    /// reads what is left of the request, as after any answer, so the client can read the refusal before it closes.
    func enforcing(_ responder: @escaping HTTPChannelHandler.Responder) -> HTTPChannelHandler.Responder {
        { request, writer, channel in
            guard let refusal = refusal(request) else { return try await responder(request, writer, channel) }
            let body = ByteBuffer(bytes: try JSONCoding.data(refusal.body))
            var head = HTTPResponse(status: refusal.status)
            head.headerFields = [
                .contentType: "application/json; charset=utf-8", .contentLength: "\(body.readableBytes)",
                .connection: "close",
            ]
            try await writer.write(response: head, body: ResponseBody(byteBuffer: body))
        }
    }
}

/// Keeps reading, and dropping, what a client still sends once the server has sent its last response and closed its
/// side of the connection; past `limit` bytes, or when the client closes, the connection closes.
///
/// Why: a client that sends its whole body before it reads (Python's urllib, many SDKs) and was answered early (a
/// `413` for a body over the limit, sent before the body was read) blocks on a full socket buffer if the server stops
/// reading, and never sees the answer waiting for it. Reading on lets it finish sending and read the `413`.
final class LingeringCloseHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let limit: Int
    private var lingering = false
    private var dropped = 0

    init(limit: Int) {
        self.limit = limit
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode == .output, !lingering {
            lingering = true
            context.read()
        }
        context.close(mode: mode, promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard lingering else { return context.fireChannelRead(data) }
        dropped += unwrapInboundIn(data).readableBytes
        if dropped > limit { context.close(promise: nil) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard lingering else { return context.fireChannelReadComplete() }
        context.read()
    }
}
