import CallModel
import EventStore
import Foundation
import Logging
import Metrics
import PostgresNIO
import Projections
import ServiceLifecycle
import Synchronization
import TSAPI

/// The feed of this process: it follows `feed_messages` and hands each new message to the live
/// subscribers whose filter takes it.
///
/// Any process serves the feed, whichever holds the projector: the table is the truth and a `calltrail_feed`
/// notification only wakes the hub, which also looks every second in case a notification was lost. Messages are
/// handed out in position order, and `dispatched` says how far: a subscriber replaying from the table goes live
/// only once it has reached that point, so nothing is missed or sent twice at the switch. A live subscriber's
/// cursor is not moved for messages that went to others (that would touch every subscriber on every page); the
/// hub's `dispatched` is its position while it is live.
final class FeedHub: Service, Sendable {
    let store: PostgresFeedStore
    let userData: PostgresUserDataStore
    let client: PostgresClient
    let logger: Logger
    /// How often idle live subscribers hear from the hub.
    let heartbeat: Duration
    /// Most messages read at once.
    let pageSize = 500
    private let newMessages = Doorbell()

    private struct State {
        /// The last position handed to the live subscribers; nil until the hub has started.
        var dispatched: Int64?
        var live: [Int: FeedSubscriber] = [:]
        /// Live subscribers by the devices their filter names; the others see every message.
        var byDevice: [String: Set<Int>] = [:]
        var anyDevice: Set<Int> = []
        /// The devices each live subscriber is indexed under, so removing one touches only its own.
        var indexed: [Int: Set<String>] = [:]
        /// Moves whenever a subscriber may take messages it did not before (it went live, its filter changed).
        var generation = 0
        var nextID = 1
    }

    private let state = Mutex(State())

    init(
        store: PostgresFeedStore, userData: PostgresUserDataStore, client: PostgresClient, heartbeat: Duration,
        logger: Logger
    ) {
        self.store = store
        self.userData = userData
        self.client = client
        self.heartbeat = heartbeat
        self.logger = logger
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.listen() }
                group.addTask { await self.follow() }
                group.addTask { await self.beat() }
            }
        }
        let (subscribers, position) = state.withLock { state in (Array(state.live.values), state.dispatched ?? 0) }
        for subscriber in subscribers { subscriber.close(.shuttingDown) }
        logger.info("feed stopped", metadata: ["position": "\(position)", "subscribers": "\(subscribers.count)"])
    }

    /// This process's projector stored new messages.
    func messagesStored() { newMessages.ring() }

    /// Rings `newMessages` on every `calltrail_feed` notification, reconnecting after a failure.
    private func listen() async {
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: PostgresFeedStore.channel) { notifications in
                        self.newMessages.ring()  // anything committed while not listening
                        // The payload is the last position stored: none to read if it was handed out already.
                        for try await notification in notifications
                        where Int64(notification.payload).map({ $0 > (self.state.withLock { $0.dispatched } ?? 0) })
                            ?? true
                        {
                            self.newMessages.ring()
                        }
                    }
                }
            } catch  where !Task.isCancelled {
                logger.warning("feed not listening; retrying", metadata: ["error": "\(LoggedError(error))"])
                try? await Task.sleep(for: .seconds(1))
            } catch {
                return
            }
        }
    }

    private func follow() async {
        while !Task.isCancelled {
            do {
                if state.withLock({ $0.dispatched }) == nil {
                    let head = try await bounded { try await self.store.head().position }
                    state.withLock { $0.dispatched = head }
                }
                try await pump()
            } catch  where !Task.isCancelled {
                logger.error("feed read failed; retrying", metadata: ["error": "\(LoggedError(error))"])
                try? await Task.sleep(for: .seconds(1))
            } catch {
                return
            }
            await newMessages.wait(timeout: .seconds(1))
        }
    }

    /// One timer for every subscriber (a task each would cost memory per connection): an idle live subscriber
    /// gets `{"type":"heartbeat","position":P}`, P being where it would resume. ctiSVR clients know no such
    /// message: they get a WebSocket ping.
    private func beat() async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: heartbeat)
            } catch {
                return
            }
            let now = Date()
            state.withLock { state in
                guard let position = state.dispatched else { return }
                for subscriber in state.live.values where subscriber.queued == 0 {
                    switch subscriber.format {
                    case .native: subscriber.heartbeat(position: position, now: now)
                    case .ctisvr: subscriber.ping()
                    }
                }
            }
        }
    }

    /// Hands out every message stored after `dispatched`.
    private func pump() async throws {
        // With nobody live, there is nobody to read for: move to the head (a subscriber that goes live meanwhile
        // holds the lock first, and the usual path hands it what follows).
        if state.withLock({ $0.live.isEmpty }) {
            let head = try await bounded { try await self.store.head().position }
            state.withLock { state in
                if state.live.isEmpty, let dispatched = state.dispatched { state.dispatched = max(dispatched, head) }
            }
        }
        while let from = state.withLock({ $0.dispatched }) {
            let read = try await bounded { try await self.store.page(after: from, limit: self.pageSize) }
            if read.trimmedThrough > from {
                // Retention passed the hub itself (it stood still for longer than the feed keeps messages): the
                // live subscribers missed messages, and are closed with where to resume.
                logger.error(
                    "feed retention passed the hub", metadata: ["hub": "\(from)", "trimmed": "\(read.trimmedThrough)"])
                state.withLock { state in
                    for subscriber in state.live.values {
                        subscriber.close(.trimmed(after: from, through: read.trimmedThrough))
                    }
                    state.dispatched = max(state.dispatched ?? 0, read.trimmedThrough)
                }
                continue
            }
            let page = read.messages
            guard let last = page.last?.position else { return }
            // User data is read only for messages some live subscriber may take. Should the subscribers change
            // meanwhile (one went live, a filter changed), the whole page is prepared instead: none may miss one.
            let (wanted, generation) = state.withLock { state in
                (page.filter { !state.anyDevice.isEmpty || state.byDevice[$0.message.device] != nil }, state.generation)
            }
            var deliveries = try await bounded { try await self.prepare(wanted) }
            let now = ContinuousClock.now
            if !state.withLock({ deliver(deliveries, through: last, ifStill: generation, in: &$0) }) {
                deliveries = try await bounded { try await self.prepare(page) }
                _ = state.withLock { deliver(deliveries, through: last, ifStill: nil, in: &$0) }
            }
            Counter(label: "calltrail_feed_messages_total").increment(by: page.count)
            Timer(label: "calltrail_feed_dispatch_seconds").recordNanoseconds(
                (ContinuousClock.now - now).totalNanoseconds)
            if page.count < pageSize { return }
        }
    }

    /// Hands `deliveries` to the live subscribers and moves `dispatched` to `last`, unless the subscribers changed
    /// since `generation`.
    private func deliver(
        _ deliveries: [FeedDelivery], through last: Int64, ifStill generation: Int?, in state: inout State
    ) -> Bool {
        if let generation, generation != state.generation { return false }
        for delivery in deliveries {
            for id in state.anyDevice { state.live[id]?.deliver(delivery) }
            for id in state.byDevice[delivery.message.device] ?? [] { state.live[id]?.deliver(delivery) }
        }
        state.dispatched = last
        return true
    }

    /// One of the hub's queries, bounded: one that a restart of PostgreSQL left waiting for ever must not stop the
    /// feed. Each is a read, so one abandoned at its deadline changes nothing.
    private func bounded<Result: Sendable>(
        _ query: @escaping @Sendable () async throws -> Result
    ) async throws -> Result {
        try await withDatabaseTimeout(.seconds(30), query)
    }

    /// Stored messages with the user data their contacts have now, read once for the whole page.
    func prepare(_ page: [(position: Int64, message: FeedMessage)]) async throws -> [FeedDelivery] {
        var keys = Set<String>()
        var ucids = Set<String>()
        for (_, message) in page {
            for carried in message.userDataKeys { keys.insert(carried.key.rawValue) }
            for ucid in message.journeyUcids { ucids.insert(ucid.rawValue) }
        }
        let records = try await userData.records(ids: Array(keys), ucids: Array(ucids))
        let now = Date()
        return page.map { position, message in
            let data =
                records.isEmpty
                ? nil
                : JourneyUserData(
                    carried: message.userDataKeys, ucids: message.journeyUcids, records: records, now: now)
            let userData = data?.entries.isEmpty == false ? data : nil
            return FeedDelivery(
                position: position, message: message, userData: userData,
                json: message.json(position: position, userData: userData))
        }
    }

    // MARK: - Subscribers

    /// The last position handed out live; nil until the hub has read the feed's head.
    var dispatched: Int64? { state.withLock { $0.dispatched } }

    func makeSubscriber(
        format: FeedSubscriber.Format, filter: FeedFilter, cursor: Int64, capacity: Int
    ) -> FeedSubscriber {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        return FeedSubscriber(id: id, format: format, filter: filter, cursor: cursor, capacity: capacity)
    }

    /// Makes `subscriber` live if it has caught up with what was handed out; false if it must read more first.
    /// A live subscriber is told so (`{"type": "live", "position": P}`) before any live message.
    func goLive(_ subscriber: FeedSubscriber) -> Bool {
        state.withLock { state in
            guard let dispatched = state.dispatched, subscriber.cursor >= dispatched else { return false }
            state.live[subscriber.id] = subscriber
            index(subscriber, in: &state)
            if subscriber.format == .native {
                subscriber.send(FeedControlMessage.live(position: subscriber.cursor).text, position: subscriber.cursor)
            }
            Gauge(label: "calltrail_feed_subscribers").record(state.live.count)
            return true
        }
    }

    /// Indexes a live subscriber again after its filter changed.
    func filterChanged(_ subscriber: FeedSubscriber) {
        state.withLock { state in
            guard state.live[subscriber.id] != nil else { return }
            unindex(subscriber.id, in: &state)
            index(subscriber, in: &state)
        }
    }

    /// Takes a subscriber out of live delivery; its cursor says how far the hub had handed messages out.
    func remove(_ subscriber: FeedSubscriber) {
        state.withLock { state in
            guard state.live.removeValue(forKey: subscriber.id) != nil else { return }
            if let dispatched = state.dispatched { subscriber.pass(through: dispatched) }
            unindex(subscriber.id, in: &state)
            Gauge(label: "calltrail_feed_subscribers").record(state.live.count)
        }
    }

    private func index(_ subscriber: FeedSubscriber, in state: inout State) {
        state.generation += 1
        if let devices = subscriber.filter.devices {
            for device in devices { state.byDevice[device, default: []].insert(subscriber.id) }
            state.indexed[subscriber.id] = devices
        } else {
            state.anyDevice.insert(subscriber.id)
        }
    }

    private func unindex(_ id: Int, in state: inout State) {
        state.anyDevice.remove(id)
        for device in state.indexed.removeValue(forKey: id) ?? [] {
            state.byDevice[device]?.remove(id)
            if state.byDevice[device]?.isEmpty == true { state.byDevice[device] = nil }
        }
    }
}
