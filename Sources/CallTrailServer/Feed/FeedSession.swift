import CallModel
import EventStore
import Foundation
import HTTPTypes
import Logging
import NIOCore
import NIOWebSocket
import Projections
import Synchronization
import TSAPI

/// One WebSocket connection to the feed: it replays what the subscriber missed, goes live, answers the client's
/// messages (a new `subscribe`; ctiSVR's requests), and beats while idle.
///
/// An idle connection holds one task, the connection's own, waiting for the client's next message (`FeedSocket`
/// assembles them on the event loop). A task keeps the memory of the deepest calls it ever made until it ends
/// (Swift's task allocator keeps its slabs), and with 5,000 idle subscribers that memory is most of the server's.
/// So whatever goes deeper runs in a task that ends when it is done: the writer, started when something waits
/// to be sent (`FeedSubscriber.startWriting`), and the answer to each client message. The hub beats for every
/// live subscriber. A replay runs in a task of its own, replaced when the client subscribes again with `after`,
/// and dropped once live.
final class FeedSession: Sendable {
    let hub: FeedHub
    let subscriber: FeedSubscriber
    let journeys: PostgresJourneyStore
    let feed: PostgresFeedStore
    let userData: UserDataService
    /// Who access control admitted: what user data set through this connection records as `by`.
    let caller: Caller
    /// Whether the caller holds a scope now: a `feed` token alone does not read or write user data.
    let allows: @Sendable (Scope) -> Bool
    let logger: Logger
    private let replay = Mutex<Task<Void, Never>?>(nil)
    /// The writer now sending, if any, and how many have started (a writer lets go of itself only if it is still
    /// the last).
    private let writer = Mutex<(started: Int, task: Task<Void, Never>?)>((0, nil))

    init(
        hub: FeedHub, subscriber: FeedSubscriber, journeys: PostgresJourneyStore, feed: PostgresFeedStore,
        userData: UserDataService, caller: Caller, allows: @escaping @Sendable (Scope) -> Bool, logger: Logger
    ) {
        self.caller = caller
        self.allows = allows
        self.hub = hub
        self.subscriber = subscriber
        self.journeys = journeys
        self.feed = feed
        self.userData = userData
        self.logger = logger
    }

    /// Serves the connection until either side closes it. `after` nil means from now, with the current calls at
    /// the subscribed devices first.
    func run(_ socket: FeedSocket, after: Int64?) async {
        subscriber.startWriting { self.startWriter(socket) }
        await start(after: after, snapshot: after == nil)
        await read(socket.messages)
        subscriber.close(.clientLeft)
        subscriber.stopWriting()
        if let writer = writer.withLock({ $0.task }) {
            writer.cancel()
            await writer.value
        }
        replay.withLock { $0 }?.cancel()
        hub.remove(subscriber)
    }

    // MARK: - Replay, then live

    /// Replays from `after` (or from now) in a task of its own, once any replay under way has stopped: two
    /// replays moving one cursor could skip messages.
    private func start(filter: FeedFilter? = nil, after: Int64?, snapshot: Bool) async {
        let previous = replay.withLock { $0 }
        previous?.cancel()
        await previous?.value
        hub.remove(subscriber)
        if let filter { subscriber.resubscribe(filter, cursor: nil) }
        let task = Task {
            // Positioned: the cursor says where to carry on, so a retry after a database outage only catches up.
            var positioned = false
            while true {
                do {
                    if !positioned {
                        try await self.position(after: after, snapshot: snapshot)
                        positioned = true
                    }
                    try await self.catchUp()
                    // Live: the task is done, and its memory need not stay with the subscriber.
                    self.replay.withLock { $0 = nil }
                    return
                } catch is CancellationError {
                    return
                } catch  where DatabaseAvailability.isOutage(error) && !Task.isCancelled {
                    // The subscriber stays connected and is served once the database is back.
                    self.logger.warning(
                        "feed replay waits for the database", metadata: ["error": "\(LoggedError(error))"])
                    guard (try? await Task.sleep(for: .seconds(1))) != nil else { return }
                } catch {
                    self.logger.error("feed replay failed", metadata: ["error": "\(LoggedError(error))"])
                    self.subscriber.close(.failed)
                    return
                }
            }
        }
        replay.withLock { $0 = task }
    }

    /// Sets the subscriber's cursor: at the snapshot of its devices' current calls (sent first), at `after`, or at
    /// the hub's position.
    private func position(after: Int64?, snapshot: Bool) async throws {
        let devices = subscriber.filter.devices ?? []
        if snapshot, !devices.isEmpty {
            // The feed carries on from the position the snapshot stands at: what changed after it comes from the
            // table, once. Once the hub has started, that position is at or past what it handed out, so the
            // subscriber goes live at once and skips what it already has.
            _ = try await now()
            let (position, current) = try await journeys.currentCalls(devices: devices)
            let texts = try await currentCallTexts(position: position, devices: devices, journeys: current)
            subscriber.resubscribe(subscriber.filter, cursor: position)
            for text in texts { subscriber.send(text) }
        } else {
            let cursor: Int64
            if let after { cursor = after } else { cursor = try await now() }
            subscriber.resubscribe(subscriber.filter, cursor: cursor)
        }
    }

    /// The hub's position, once it has one.
    private func now() async throws -> Int64 {
        while true {
            if let position = hub.dispatched { return position }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Reads the table from the subscriber's cursor until it has reached what the hub handed out, then goes live.
    private func catchUp() async throws {
        let pageSize = max(1, min(hub.pageSize, subscriber.capacity / 2))
        while true {
            try Task.checkCancellation()
            if hub.goLive(subscriber) { return }
            let cursor = subscriber.cursor
            let read = try await feed.page(after: cursor, limit: pageSize)
            if read.trimmedThrough > cursor {
                // Retention removed messages this subscriber has not had: say so, rather than skip them.
                let closing = Closing.trimmed(after: cursor, through: read.trimmedThrough)
                if subscriber.format == .native {
                    subscriber.send(
                        FeedControlMessage.error(field: "after", message: closing.reason(sent: cursor)).text)
                }
                subscriber.close(closing)
                return
            }
            let page = read.messages
            guard let last = page.last?.position else { continue }
            // User data is read for the messages this subscriber takes, not for the whole page.
            let filter = subscriber.filter
            for delivery in try await hub.prepare(page.filter { filter.matches($0.message) }) {
                subscriber.deliver(delivery)
            }
            subscriber.pass(through: last)
            await subscriber.waitForRoom()
        }
    }

    /// The calls now at `device`, as the messages that put them there.
    private func currentMessages(at device: String) async throws -> [FeedMessage] {
        try await journeys.openJourneys(device: device).flatMap { $0.currentMessages(at: device) }
    }

    /// The calls now at `devices` (the open `journeys` read for them), as snapshot messages at `position`, for a
    /// desktop that connects mid-call.
    private func currentCallTexts(
        position: Int64, devices: Set<String>, journeys current: [Journey]
    ) async throws -> [String] {
        var texts: [String] = []
        for device in devices.sorted() {
            let messages = current.filter { $0.devices.contains(device) }.flatMap { $0.currentMessages(at: device) }
            for delivery in try await hub.prepare(messages.map { (position, $0) }) {
                switch subscriber.format {
                case .native:
                    texts.append(delivery.message.json(position: position, userData: delivery.userData, snapshot: true))
                case .ctisvr:
                    texts.append(
                        CtiSvr.event(
                            delivery.message, referenceID: subscriber.referenceID(of: device) ?? 0,
                            userData: delivery.userData))
                }
            }
        }
        return texts
    }

    /// The calls now at an extension monitored mid-stream. Its messages wait meanwhile
    /// (`FeedSubscriber.startMonitor(_:holding:)`); the snapshot and its position are read together, so a change
    /// goes out in the snapshot or after it, never both.
    private func sendSnapshot(of device: String) async {
        do {
            let (position, current) = try await journeys.currentCalls(devices: [device])
            let texts = try await currentCallTexts(position: position, devices: [device], journeys: current)
            subscriber.finishSnapshot(of: device, at: position, texts: texts)
        } catch {
            logger.warning(
                "no snapshot for a monitored extension",
                metadata: ["device": "\(device)", "error": "\(LoggedError(error))"])
            subscriber.finishSnapshot(of: device, at: nil, texts: [])
        }
    }

    // MARK: - Writing and reading

    /// Starts a writer; the subscriber calls this when something waits and no writer is running. A task of its
    /// own that ends with the queue, so an idle connection keeps none of the write path's memory; the session
    /// holds it to wait for it when the connection ends.
    private func startWriter(_ socket: FeedSocket) {
        // Made and kept under one lock: the next writer can start only once this one has run, so the one kept is
        // the last started.
        writer.withLock { writer in
            writer.started += 1
            let number = writer.started
            writer.task = Task {
                await self.write(to: socket)
                // A finished task keeps the memory of its calls for as long as it is referenced.
                self.writer.withLock { writer in
                    if writer.started == number { writer.task = nil }
                }
            }
        }
    }

    /// Sends what is queued until the queue is empty, then ends; closes with the reason when there is one.
    private func write(to socket: FeedSocket) async {
        do {
            while true {
                let (items, closing) = subscriber.take()
                if items.isEmpty, closing == nil { return }
                var sent: Int64?
                for item in items {
                    if item.isPing {
                        try await socket.ping()
                        continue
                    }
                    try await socket.send(item.text)
                    if let position = item.position { sent = max(sent ?? position, position) }
                }
                if let sent { subscriber.markSent(through: sent) }
                if case .clientLeft = closing { return }
                if let closing {
                    let resume = subscriber.sentThrough
                    logger.info("feed subscriber closed", metadata: ["reason": "\(closing)", "position": "\(resume)"])
                    // The connection ends with the client's answer, or after the socket's close timeout.
                    try await socket.close(closing.code, reason: closing.reason(sent: resume))
                    return
                }
            }
        } catch {
            logger.debug("feed write ended", metadata: ["error": "\(LoggedError(error))"])
        }
    }

    /// Reads the client's messages on the connection's own task until the client closes (or the connection ends).
    /// Each answer runs in a child task: the database reads behind it go deeper than waiting for a message.
    private func read(_ messages: AsyncStream<String>) async {
        for await text in messages {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    switch self.subscriber.format {
                    case .native: await self.handleNative(text)
                    case .ctisvr: await self.handleCtiSvr(text)
                    }
                }
            }
        }
    }

    // MARK: - The client's messages

    /// `{"subscribe": {"devices": [...], ..., "after": P}}`: a new filter from now on, or from `after`.
    private func handleNative(_ text: String) async {
        do {
            let tree: JSONTree
            do {
                tree = try JSONTree(parsing: text)
            } catch {
                throw CallModelError.feedFilter(field: nil, "the message is not JSON: \(error)")
            }
            guard let object = tree["subscribe"], object.isObject else {
                throw CallModelError.feedFilter(
                    field: "subscribe",

                    "the feed takes one message: {\"subscribe\": {\"devices\": [...], \"events\": [...], \"after\": P}}"
                )
            }
            let filter = try FeedFilter(subscribe: object)
            var after: Int64?
            if let value = object["after"], value != .null {
                guard let position = value.integer, position >= 0 else {
                    throw CallModelError.feedFilter(
                        field: "after",
                        "after must be a feed position, a whole number from 0; got \(value.text)")
                }
                after = position
            }
            if let after {
                await start(filter: filter, after: after, snapshot: false)
            } else {
                subscriber.resubscribe(filter, cursor: nil)
                hub.filterChanged(subscriber)
            }
            subscriber.send(FeedControlMessage.subscribed(filter: filter, after: after).text)
        } catch let error as CallModelError {
            subscriber.send(
                FeedControlMessage.error(field: error.field, message: error.message).text)
        } catch {
            subscriber.send(FeedControlMessage.error(field: nil, message: String(describing: error)).text)
        }
    }

    private func handleCtiSvr(_ text: String) async {
        let request: CtiSvrRequest
        do {
            request = try CtiSvrRequest(text: text)
        } catch {
            subscriber.send(CtiSvr.failure(id: error.id ?? "null", error: error.message))
            return
        }
        do {
            if let response = try await answer(request) { subscriber.send(response) }
        } catch let error as APIError {
            subscriber.send(CtiSvr.failure(id: request.id, error: error.message))
        } catch let error as ProjectionsError where APIError(error) != nil {
            subscriber.send(CtiSvr.failure(id: request.id, error: error.message))
        } catch {
            logger.error(
                "ctiSVR request failed",
                metadata: ["request": "\(request.request)", "error": "\(LoggedError(error))"])
            subscriber.send(CtiSvr.failure(id: request.id, error: "internal error; the server log has the details"))
        }
    }

    /// ctiSVR's requests that are about events and user data; the others act on the switch, which CallTrail
    /// only listens to. Nil when the answer was sent already (a `startmonitor`, whose snapshot follows it).
    private func answer(_ request: CtiSvrRequest) async throws -> String? {
        func required(_ value: String?, _ name: String) throws -> String {
            guard let value, !value.isEmpty else {
                throw APIError(.unprocessableContent, "\(request.request) needs \(name)", field: name)
            }
            return value
        }
        switch request.request {
        case "startmonitor":
            let device = try required(request.extension, "extension")
            let (reference, isNew) = subscriber.startMonitor(device, holding: true)
            hub.filterChanged(subscriber)
            let response = CtiSvr.response(id: request.id, fields: [("referenceid", String(reference))])
            // Monitored already: its calls went out then, and its messages flow.
            guard isNew else { return response }
            subscriber.send(response)
            await sendSnapshot(of: device)
            return nil
        case "stopmonitor":
            let device = try required(request.extension, "extension")
            guard subscriber.stopMonitor(device) else {
                throw APIError(.unprocessableContent, "extension \(device) is not monitored on this connection")
            }
            hub.filterChanged(subscriber)
            return CtiSvr.response(id: request.id, fields: [])
        case "userdata":
            return try await answerUserData(request, required: required)
        default:
            throw APIError(
                .unprocessableContent,
                "CallTrail's feed answers startmonitor, stopmonitor and userdata (set, get, update, alert, hangup); "
                    + "\(request.request) acts on the switch, which CallTrail only listens to")
        }
    }

    private func answerUserData(
        _ request: CtiSvrRequest, required: (String?, String) throws -> String
    ) async throws -> String {
        let actor = caller.actor(name: "ctisvr:\(request.extension ?? "")", userAgent: nil)
        func key() throws -> UserDataKey {
            let uui = try required(request.uui, "uui")
            guard let key = UserDataKey.find(inText: uui).first else {
                throw APIError(.badRequest, "uui holds no CallTrail key: \(uui)", field: "uui")
            }
            return key
        }
        func data() throws -> JSONTree {
            guard let data = request.data else {
                throw APIError(.unprocessableContent, "userdata \(request.type ?? "") needs data", field: "data")
            }
            return data
        }
        // `set` and `update` write user data, `get` reads it: a token needs those scopes beside `feed` (a desktop
        // admitted by its address, as ctiSVR's were, may). `alert` and `hangup` repeat what the feed sends.
        let needed: Scope? =
            switch request.type {
            case "set", "update": .userdataWrite
            case "get": .userdataRead
            default: nil
            }
        if let needed, !allows(needed) {
            throw APIError(
                .forbidden, "userdata \(request.type ?? "") needs a token with the scope \(needed.rawValue)",
                field: "type")
        }
        switch request.type {
        case "set":
            let device = try required(request.extension, "extension")
            let data = try data()
            let record: UserDataRecord
            do {
                record = try await userData.create(data: data, ucid: nil, device: device, ttl: nil, actor: actor)
            } catch let error as ProjectionsError where error.code == .noCallNow {
                // No call at the extension now: the data is kept under a key all the same, for the app to send.
                record = try await userData.create(data: data, ucid: nil, device: nil, ttl: nil, actor: actor)
            }
            return CtiSvr.response(id: request.id, fields: [("uui", JSONWriter.quote(record.key?.rawValue))])
        case "get":
            let record = try await userData.read(try key())
            // ctiSVR's data is text: a JSON string goes back as itself, other JSON as its text.
            let text = record.data.string ?? record.data.text
            return CtiSvr.response(id: request.id, fields: [("data", JSONWriter.quote(text))])
        case "update":
            _ = try await userData.replace(try key(), data: try data(), ttl: nil, actor: actor)
            return CtiSvr.response(id: request.id, fields: [])
        case "alert":
            let device = try required(request.extension, "extension")
            let offers = try await currentMessages(at: device)
                .filter { $0.kind == .offer }.sorted { $0.time < $1.time }
            guard let offer = offers.last else {
                throw APIError(.notFound, "no call is alerting at extension \(device)")
            }
            let delivery = try await hub.prepare([(subscriber.cursor, offer)])[0]
            return CtiSvr.alertResponse(id: request.id, message: offer, userData: delivery.userData)
        case "hangup":
            let device = try required(request.extension, "extension")
            guard let (position, message) = try await feed.latest(.disconnect, device: device) else {
                throw APIError(.notFound, "no call has left extension \(device)")
            }
            let delivery = try await hub.prepare([(position, message)])[0]
            return CtiSvr.hangupResponse(id: request.id, message: message, userData: delivery.userData)
        default:
            throw APIError(
                .unprocessableContent,
                "userdata type must be set, get, update, alert or hangup; got \(request.type ?? "none")",
                field: "type")
        }
    }
}
