import CallModel
import EventStore
import Foundation
import NIOWebSocket
import Synchronization
import TSAPI

/// A stored feed message ready to send: its position, the user data it has now, and its JSON in the native
/// format (made once, shared by every subscriber it goes to).
struct FeedDelivery: Sendable {
    let position: Int64
    let message: FeedMessage
    let userData: JourneyUserData?
    let json: String
}

/// One WebSocket subscriber's side of the feed: what it asked for, how far it has got, and its bounded queue.
///
/// The hub (live messages) and the session (replay, responses, heartbeats) put text in the queue; the session's
/// writer takes it out and sends it. There is a writer only while something waits: the first text put in an empty
/// queue starts one (`startWriting`), and it ends when it finds the queue empty. A subscriber whose queue passes
/// `capacity` is closed rather than let to hold the hub back or grow without bound; it resumes with `after`.
final class FeedSubscriber: Sendable {
    enum Format: String, Sendable {
        case native
        /// ctiSVR's event and response JSON (shared/reference/ctisvr-websocket.md).
        case ctisvr
    }

    struct Item: Sendable {
        var text: String
        /// The feed position the text carries (a message, or a heartbeat), for the resume point in a close reason.
        var position: Int64?
        /// A WebSocket ping rather than text.
        var isPing = false
    }

    private struct State {
        var filter: FeedFilter
        /// ctiSVR monitors: the `referenceid` of each monitored extension.
        var monitors: [String: Int] = [:]
        var nextReferenceID = 1
        /// Extensions monitored mid-stream whose current calls are being read: their messages wait here, so that
        /// none goes out before the snapshot that may already hold it.
        var held: [String: [Item]] = [:]
        /// Where each such extension's snapshot stands: its messages at or before it are in the snapshot.
        var snapshotAt: [String: Int64] = [:]
        /// Every message up to here has been put in the queue or passed over.
        var cursor: Int64
        /// The furthest position a writer has sent (or where the subscriber started): where to resume after a close.
        var sent: Int64
        var queue: [Item] = []
        /// Why the subscriber must be closed, once it is.
        var closing: Closing?
        /// A writer is sending, or has been started: nobody starts another (two would race to send).
        var writing = false
        /// Starts a writer; nil until the session has a socket to write to.
        var startWriter: (@Sendable () -> Void)?

        /// A subscriber that lets more than `capacity` messages wait is closed, its queue dropped.
        mutating func closeIfOverCapacity(_ capacity: Int) {
            guard queue.count > capacity else { return }
            closing = .tooSlow(capacity: capacity)
            queue = []
        }

        /// Marks a writer as started if one is needed and none is; the caller starts it, outside the lock.
        mutating func writerToStart() -> (@Sendable () -> Void)? {
            guard !writing, !queue.isEmpty || closing != nil, let startWriter else { return nil }
            writing = true
            return startWriter
        }
    }

    let id: Int
    let format: Format
    let capacity: Int
    private let state: Mutex<State>
    /// Rung by the writer when the queue has room again (a replay waits on it).
    let room = Doorbell()

    init(id: Int, format: Format, filter: FeedFilter, cursor: Int64, capacity: Int) {
        self.id = id
        self.format = format
        self.capacity = capacity
        self.state = Mutex(State(filter: filter, cursor: cursor, sent: cursor))
    }

    var cursor: Int64 { state.withLock { $0.cursor } }
    var filter: FeedFilter { state.withLock { $0.filter } }

    /// From now on, `start` is called whenever something waits to be sent and no writer is running (at once, if
    /// something already waits).
    func startWriting(_ start: @escaping @Sendable () -> Void) {
        state.withLock { state in
            state.startWriter = start
            return state.writerToStart()
        }?()
    }

    /// No writer starts any more (the connection has ended); the session is let go.
    func stopWriting() {
        state.withLock { state in state.startWriter = nil }
    }

    /// Puts `delivery` in the queue if it is past the cursor and the filter takes it; moves the cursor past it.
    func deliver(_ delivery: FeedDelivery) {
        state.withLock { state -> (@Sendable () -> Void)? in
            guard delivery.position > state.cursor, state.closing == nil else { return nil }
            state.cursor = delivery.position
            guard state.filter.matches(delivery.message) else { return nil }
            let device = delivery.message.device
            if let at = state.snapshotAt[device], delivery.position <= at { return nil }
            let text: String
            switch format {
            case .native: text = delivery.json
            case .ctisvr:
                text = CtiSvr.event(
                    delivery.message, referenceID: state.monitors[delivery.message.device] ?? 0,
                    userData: delivery.userData)
            }
            if state.held[device] != nil {
                state.held[device]?.append(Item(text: text, position: delivery.position))
                return nil
            }
            state.queue.append(Item(text: text, position: delivery.position))
            state.closeIfOverCapacity(capacity)
            return state.writerToStart()
        }?()
    }

    /// Moves the cursor past messages this subscriber did not take (a replay page, or what the hub handed out
    /// while it was live).
    func pass(through position: Int64) {
        state.withLock { state in state.cursor = max(state.cursor, position) }
    }

    /// Sends text that is not a feed message (a response, an acknowledgement): never dropped, never counted.
    func send(_ text: String, position: Int64? = nil) {
        state.withLock { state in
            state.queue.append(Item(text: text, position: position))
            return state.writerToStart()
        }?()
    }

    /// A heartbeat: how far the subscriber has got, so an idle one knows its resume point too.
    func heartbeat(position: Int64, now: Date) {
        send(FeedControlMessage.heartbeat(position: position, time: now).text, position: position)
    }

    /// A WebSocket ping, for clients that get no heartbeat text (ctiSVR's): proxies see traffic, and a dead
    /// peer shows when the write fails.
    func ping() {
        state.withLock { state in
            state.queue.append(Item(text: "", position: nil, isPing: true))
            return state.writerToStart()
        }?()
    }

    /// Closes the subscriber with `reason` once what is queued has gone. A client that left needs no writer.
    func close(_ reason: Closing) {
        state.withLock { state -> (@Sendable () -> Void)? in
            state.closing = state.closing ?? reason
            if case .clientLeft = reason { return nil }
            return state.writerToStart()
        }?()
    }

    /// What the writer sends next: everything queued, then the reason to close, if there is one. Nothing at all
    /// means the writer is done: the next text starts another.
    func take() -> (items: [Item], closing: Closing?) {
        let taken = state.withLock { state in
            defer { state.queue = [] }
            if state.queue.isEmpty, state.closing == nil { state.writing = false }
            return (state.queue, state.closing)
        }
        room.ring()
        return taken
    }

    var queued: Int { state.withLock { $0.queue.count } }

    /// A writer has sent the text that carries `position`.
    func markSent(through position: Int64) {
        state.withLock { state in state.sent = max(state.sent, position) }
    }

    /// Where the client resumes, should the feed close it now.
    var sentThrough: Int64 { state.withLock { $0.sent } }

    /// Waits until the queue is at most half full (a replay fills it no faster than the socket drains it).
    func waitForRoom() async {
        while queued > capacity / 2, !Task.isCancelled {
            await room.wait(timeout: .milliseconds(200))
        }
    }

    /// A new subscription: a new filter, and a new cursor when the client gave `after`.
    func resubscribe(_ filter: FeedFilter, cursor: Int64?) {
        state.withLock { state in
            state.filter = filter
            if let cursor { state.cursor = cursor }
        }
    }

    /// ctiSVR `startmonitor`: the extension's events from now on, under a new `referenceid` (the one it has, if
    /// it is monitored already: `isNew` false). With `holding`, its messages wait until `finishSnapshot`.
    func startMonitor(_ device: String, holding: Bool = false) -> (referenceID: Int, isNew: Bool) {
        state.withLock { state in
            if let existing = state.monitors[device] { return (existing, false) }
            let id = state.nextReferenceID
            state.nextReferenceID += 1
            state.monitors[device] = id
            state.filter.devices = Set(state.monitors.keys)
            if holding { state.held[device] = [] }
            return (id, true)
        }
    }

    /// The current calls at an extension monitored with `holding`, read at feed position `at`: `texts` go out,
    /// then the messages that waited, but only those after `at` (the snapshot holds the rest). Later messages at
    /// or before `at` (a subscriber still catching up) are passed over too. `at` nil, when the read failed: the
    /// messages that waited go out, and nothing is passed over.
    func finishSnapshot(of device: String, at position: Int64?, texts: [String]) {
        state.withLock { state -> (@Sendable () -> Void)? in
            guard let held = state.held.removeValue(forKey: device), state.closing == nil else { return nil }
            if let position { state.snapshotAt[device] = position }
            state.queue += texts.map { Item(text: $0, position: nil) }
            state.queue += held.filter { item in position.map { item.position ?? .max > $0 } ?? true }
            state.closeIfOverCapacity(capacity)
            return state.writerToStart()
        }?()
    }

    /// ctiSVR `stopmonitor`; false when the extension was not monitored.
    func stopMonitor(_ device: String) -> Bool {
        state.withLock { state in
            guard state.monitors.removeValue(forKey: device) != nil else { return false }
            state.filter.devices = Set(state.monitors.keys)
            state.held[device] = nil
            state.snapshotAt[device] = nil
            return true
        }
    }

    func referenceID(of device: String) -> Int? { state.withLock { $0.monitors[device] } }
}

/// Why the feed closes a subscriber; the close frame's reason adds where to resume.
enum Closing: Sendable, CustomStringConvertible {
    case tooSlow(capacity: Int)
    case shuttingDown
    case failed
    /// The messages after the subscriber's position were removed by the feed's retention, through `through`.
    case trimmed(after: Int64, through: Int64)
    /// The client closed the connection: nothing more to send.
    case clientLeft

    var code: WebSocketErrorCode {
        switch self {
        case .tooSlow, .trimmed: .policyViolation
        case .shuttingDown: .goingAway
        case .failed: .unexpectedServerError
        case .clientLeft: .normalClosure
        }
    }

    var description: String {
        switch self {
        case .tooSlow(let capacity): "too slow: more than \(capacity) messages waiting"
        case .shuttingDown: "the server is shutting down"
        case .failed: "the feed failed; the server log has the details"
        case .trimmed(let after, let through):
            "the feed no longer keeps the messages after \(after): retention removed them through \(through)"
        case .clientLeft: "the client closed the connection"
        }
    }

    /// The close frame's reason: why, and where the client can resume (`sent`: how far it got).
    func reason(sent: Int64) -> String {
        switch self {
        case .trimmed(_, let through): "\(self); resume with after=\(through)"
        default: "\(self); resume with after=\(sent)"
        }
    }
}
