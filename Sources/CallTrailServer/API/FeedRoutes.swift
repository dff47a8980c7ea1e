import CallModel
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOWebSocket
import Projections
import ServiceLifecycle
import TSAPI

/// How the feed treats its subscribers; `calltrail serve` sets these from flags.
package struct FeedPolicy: Sendable {
    /// Seconds between heartbeats on an idle connection.
    package var heartbeatSeconds: Double
    /// Most messages waiting for one subscriber before it is closed as too slow.
    package var queueCapacity: Int
    /// Days feed messages are kept (by their event's time), for subscribers resuming with `after`; 0 keeps them
    /// for ever.
    package var retentionDays: Double

    package init(heartbeatSeconds: Double = 15, queueCapacity: Int = 1_000, retentionDays: Double = 7) {
        self.heartbeatSeconds = heartbeatSeconds
        self.queueCapacity = queueCapacity
        self.retentionDays = retentionDays
    }
}

/// `GET /v1/feed` (docs/feed.md): a WebSocket of enriched call events.
///
/// Query: `devices`, `agents`, `vdns`, `splits`, `events` (comma-separated), `after` (a feed position) and
/// `format` (`native` or `ctisvr`). A bad parameter gets an error message naming it, and the socket is closed:
/// a refused upgrade could only be an empty 400, which names nothing. `FeedServerChannel` does the upgrade and
/// hands the socket to `serve`.
struct FeedRoutes: Sendable {
    let hub: FeedHub
    let journeys: PostgresJourneyStore
    let feed: PostgresFeedStore
    let userData: UserDataService
    let policy: FeedPolicy
    let access: AccessControl
    let logger: Logger

    /// What the URL asks for.
    struct Subscription: Sendable {
        var format: FeedSubscriber.Format
        var filter: FeedFilter
        var after: Int64?

        init(_ parameters: Parameters) throws {
            let format = parameters["format"] ?? "native"
            guard let known = FeedSubscriber.Format(rawValue: format) else {
                throw APIError(.badRequest, "format must be native or ctisvr; got \(format)", field: "format")
            }
            self.format = known
            do throws(CallModelError) {
                filter = try FeedFilter(query: { parameters[$0] })
            } catch {
                throw APIError(.badRequest, error.message, field: error.field)
            }
            if let text = parameters["after"] {
                guard let position = Int64(text), position >= 0 else {
                    throw APIError(
                        .badRequest, "after must be a feed position, a whole number from 0; got \(text)", field: "after"
                    )
                }
                after = position
            }
        }

        typealias Parameters = [String: String]
    }

    static func parameters(_ uri: URI) -> Subscription.Parameters {
        var parameters: Subscription.Parameters = [:]
        for (name, value) in uri.queryParameters { parameters[String(name)] = String(value) }
        return parameters
    }

    /// Serves one subscriber's socket until it closes; on the server's graceful shutdown, closes it with 1001.
    /// Serves one feed connection; one admitted by a token is closed (`policyViolation`, with the reason) when the
    /// token is revoked or expires.
    func serve(_ socket: FeedSocket, uri: String, caller: Caller) async {
        let watched = access.watch(caller) { reason in
            Task { try? await socket.close(.policyViolation, reason: reason) }
        }
        defer { access.unwatch(watched) }
        let subscription: Subscription
        do {
            subscription = try Subscription(Self.parameters(URI(uri)))
        } catch {
            let error = error as? APIError ?? APIError(.badRequest, "\(error)")
            try? await socket.send(FeedControlMessage.error(field: error.field, message: error.message).text)
            try? await socket.close(.normalClosure)
            return
        }
        let subscriber = hub.makeSubscriber(
            format: subscription.format,
            filter: subscription.format == .ctisvr ? FeedFilter(devices: []) : subscription.filter,
            cursor: subscription.after ?? 0, capacity: policy.queueCapacity)
        if subscription.format == .ctisvr {
            for device in (subscription.filter.devices ?? []).sorted() { _ = subscriber.startMonitor(device) }
        }
        let session = FeedSession(
            hub: hub, subscriber: subscriber, journeys: journeys, feed: feed, userData: userData, caller: caller,
            allows: { [access] scope in access.allows(caller, scope) }, logger: logger)
        await withGracefulShutdownHandler {
            await session.run(socket, after: subscription.after)
        } onGracefulShutdown: {
            Task { try? await socket.close(.goingAway, reason: "the server is shutting down") }
        }
    }

    /// The same path without an upgrade gets a 426 that says what to do, not a 404; with a bad parameter, the 400
    /// that names it.
    static func registerPlainHTTP(on router: Router<some RequestContext>) {
        router.get("/v1/feed") { request, _ -> Response in
            _ = try Subscription(parameters(request.uri))
            throw APIError(
                .upgradeRequired,
                "/v1/feed is a WebSocket: connect with a WebSocket client, e.g. calltrail feed --url http://host:port --devices 5001"
            )
        }
    }
}
