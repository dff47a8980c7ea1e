import Foundation
import TSAPI

/// The projection's reducer: feeds each stored event to the journey it belongs to.
///
/// It finds the journey by the rules in docs/architecture.md: by `(switch, callID)` while the call lives, by UCID
/// when a call appears under a new callID or on another switch, and by the station's held call when an agent
/// starts a consultation. Everything it knows is inside the journeys it holds, so `init(restoring:)` with the rows of
/// the open journeys gives back the same tracker after a restart.
///
/// Ended journeys stay findable for `linkGrace` of event time, because late monitor copies and far-site legs
/// can still arrive; the check is made on each lookup (not when memory is freed), so results never depend on
/// how the events were batched.
package struct JourneyTracker: Sendable {
    package static let defaultLinkGrace: TimeInterval = 15 * 60
    /// An open journey with no event for this long of event time is ended: its CallCleared was lost (a link
    /// down, a monitor stopped), and an open journey would otherwise stay open, and in memory, for ever.
    package static let silenceLimit: TimeInterval = 4 * 3600

    package let linkGrace: TimeInterval
    /// The journeys held, by id. A copy: for tests and tools, not for the projector's loop.
    package var journeys: [String: Journey] { table.mapValues(\.journey) }
    /// The journeys held, each in a box: a table of inline journeys (several hundred bytes each) would cost that
    /// much for each of its empty slots too, and a table sized for 10,000 journeys was 14 MB.
    private var table: [String: JourneyBox] = [:]
    /// The last position applied.
    package private(set) var position: Int64
    /// The latest event time seen: the tracker's notion of "now".
    package private(set) var clock: Date
    /// Events that belonged to no call the tracker could find (for example, the middle of a call that began
    /// before the store did).
    package private(set) var unattributedEvents = 0

    private var byCall: [CallKey: String] = [:]
    private var byUCID: [UCID: String] = [:]
    private var open: Set<String> = []
    /// Which journeys have a party on hold at each station: where a consultation from that station belongs.
    private var holding: [HeldDevice: Set<String>] = [:]
    private var heldByJourney: [String: Set<HeldDevice>] = [:]
    /// Ended journeys by end time, so memory can be freed once they are past `linkGrace`.
    private var endedOrder: [(Date, String)] = []
    private var endedOrderStart = 0
    private var changed: Set<String> = []
    private var removed: Set<String> = []
    /// Feed messages of the events applied since the last `takeFeed()`, in event order.
    private var feed: [FeedMessage] = []
    /// False where nobody reads the feed (benchmarks of the journeys alone).
    package var emitsFeed = true
    /// When silent journeys are next looked for: at the first event of each minute of event time, a point that
    /// depends on the events alone (not on how they were batched), and that `clock` gives back after a restart.
    private var nextSilenceCheck: Date = .distantPast

    package init(linkGrace: TimeInterval = Self.defaultLinkGrace) {
        self.linkGrace = linkGrace
        self.position = 0
        self.clock = .distantPast
    }

    /// A tracker that carries on from stored journeys: the open ones and those ended within `linkGrace`.
    package init(
        restoring stored: [Journey], position: Int64, clock: Date, linkGrace: TimeInterval = Self.defaultLinkGrace
    ) {
        self.init(linkGrace: linkGrace)
        self.position = position
        self.clock = clock
        for journey in stored.sorted(by: { $0.lastPosition < $1.lastPosition }) {
            index(journey, restoring: true)
        }
        endedOrder.sort { $0.0 < $1.0 }
        changed = []
        nextSilenceCheck = Self.minuteAfter(clock)
    }

    private static func minuteAfter(_ time: Date) -> Date {
        Date(timeIntervalSince1970: (time.timeIntervalSince1970 / 60).rounded(.down) * 60 + 60)
    }

    /// Ends the open journeys that have been silent for `silenceLimit`.
    private mutating func endSilentJourneys() {
        let horizon = clock.addingTimeInterval(-Self.silenceLimit)
        for id in open.sorted() where table[id].map({ $0.journey.lastEventAt < horizon }) ?? false {
            var journey = take(id)
            journey.endSilent()
            store(journey)
        }
    }

    /// The journeys changed and removed since the last call, for the runner to write.
    package mutating func takeChanges() -> (changed: [Journey], removed: [String]) {
        let changedJourneys = changed.compactMap { table[$0]?.journey }
        let removedIDs = removed.subtracting(changed)
        changed = []
        removed = []
        return (changedJourneys, Array(removedIDs))
    }

    /// The feed messages made since the last call, for the runner to store with the journeys.
    package mutating func takeFeed() -> [FeedMessage] {
        defer { feed = [] }
        return feed
    }

    /// Frees the memory of journeys ended more than `linkGrace` before the clock; they can no longer change.
    package mutating func evictExpired() {
        let horizon = clock.addingTimeInterval(-linkGrace)
        while endedOrderStart < endedOrder.count, endedOrder[endedOrderStart].0 < horizon {
            let (endedAt, id) = endedOrder[endedOrderStart]
            endedOrderStart += 1
            guard let journey = table[id]?.journey, journey.endedAt == endedAt else { continue }
            if changed.contains(id) {
                // Not written yet: free it at the next call.
                endedOrder.append((endedAt, id))
                break
            }
            unindex(journey)
        }
        if endedOrderStart > 4096, endedOrderStart * 2 > endedOrder.count {
            endedOrder.removeFirst(endedOrderStart)
            endedOrderStart = 0
        }
    }

    /// The journey of a UCID, while the tracker holds it.
    package func journey(ucid: UCID) -> Journey? {
        byUCID[ucid].flatMap { table[$0]?.journey }
    }

    /// Moves the position past events the tracker did not need (unknown types, undecodable bodies).
    package mutating func advance(to position: Int64) {
        self.position = max(self.position, position)
    }

    // MARK: - Applying one event

    package mutating func apply(_ event: CallEvent) {
        position = max(position, event.position)
        // The user-data service's and access control's events are stamped with the server's clock, not the
        // switch's: letting them move the event-time clock would end every journey whose switch clock lags as
        // "silent".
        if event.event.eventType?.isStampedByServer == true { return }
        clock = max(clock, event.time)
        if clock >= nextSilenceCheck {
            endSilentJourneys()
            nextSilenceCheck = Self.minuteAfter(clock)
        }
        if let snapshot = event.event.snapshot {
            resynchronise(with: snapshot, event: event)
            return
        }
        guard let kind = event.event.eventType, let key = event.callKey else { return }
        switch locate(event, kind: kind, key: key) {
        case .ignore:
            return
        case .unattributed:
            unattributedEvents += 1
        case .found(let id, let leg):
            var journey = take(id)
            let stepKey = event.switchEventKey
            guard !journey.recentEventKeys.contains(stepKey) else {
                store(journey)
                return
            }
            journey.recentEventKeys.append(stepKey)
            if journey.recentEventKeys.count > 24 { journey.recentEventKeys.removeFirst() }
            // Only a CallCleared's messages need the devices on the call before it (it empties the leg).
            var partiesBefore: [String] = []
            if emitsFeed, case .callCleared = event.event.csta {
                partiesBefore = journey.legs[leg].parties.map(\.device)
            }
            var applied = leg
            if case .transferred(let merged) = event.event.csta {
                applied = journey.merge(merged, event, into: leg, conference: false)
            } else if case .conferenced(let merged) = event.event.csta {
                applied = journey.merge(merged, event, into: leg, conference: true)
            } else {
                journey.apply(event, kind: kind, leg: leg)
            }
            let messages = emitsFeed ? journey.feedMessages(for: event, leg: applied, partiesBefore: partiesBefore) : []
            let id = store(journey)
            for var message in messages {
                // A journey known until now by a provisional id takes its first UCID as it is stored.
                message.journeyID = id
                feed.append(message)
            }
        }
    }

    // MARK: - After a gap in a link's events

    /// A `LINK_SNAPSHOT` (see `Journey.resynchronise`): ends the calls at the device the snapshot no longer holds,
    /// updates those it holds, and starts journeys for the calls it holds that no journey knew.
    private mutating func resynchronise(with snapshot: LinkSnapshot, event: CallEvent) {
        let switchID = event.switchID
        for id in open.sorted() {
            guard let journey = table[id]?.journey,
                journey.legs.indices.contains(where: { journey.isLeg($0, at: snapshot, switchID: switchID) })
            else { continue }
            var changing = take(id)
            let (changed, messages) = changing.resynchronise(with: snapshot, switchID: switchID, event: event)
            guard changed else {
                park(changing)
                continue
            }
            let stored = store(changing)
            if emitsFeed {
                for var message in messages {
                    message.journeyID = stored
                    feed.append(message)
                }
            }
        }
        for call in snapshot.calls {
            let key = CallKey(switchID: switchID, callID: call.callID)
            if let id = visible(byCall[key]),
                let binding = table[id]?.journey.calls.first(where: { $0.key == key && $0.state == .live })
            {
                var journey = take(id)
                if journey.join(call, at: snapshot, leg: binding.leg, event: event) {
                    store(journey)
                } else {
                    park(journey)
                }
                continue
            }
            let journey = Journey(adopting: call, from: snapshot, key: key, event: event)
            let id = store(journey)
            if emitsFeed, snapshot.kind == .station {
                for var message in journey.currentMessages(at: snapshot.device) {
                    message.journeyID = id
                    feed.append(message)
                }
            }
        }
    }

    private enum Location {
        /// The journey is in `journeys` under this id (new ones too), to be taken and changed.
        case found(String, leg: Int)
        case ignore
        case unattributed
    }

    /// The journey `id` names, if it may still change: open, or ended within `linkGrace`.
    private func visible(_ id: String?) -> String? {
        guard let id, let journey = table[id]?.journey else { return nil }
        if let endedAt = journey.endedAt, endedAt < clock.addingTimeInterval(-linkGrace) { return nil }
        return id
    }

    /// Takes a journey out of the dictionary, so the event's changes mutate the only copy (no copy-on-write of
    /// its arrays); `store` puts it back.
    private mutating func take(_ id: String) -> Journey {
        table.removeValue(forKey: id)!.journey
    }

    /// Puts a journey `locate` changed back where `apply` will take it from.
    @discardableResult
    private mutating func park(_ journey: Journey) -> String {
        table[journey.id] = JourneyBox(journey)
        return journey.id
    }

    /// Finds (or starts) the journey and leg an event belongs to, rebinding callIDs as calls start, move and merge.
    private mutating func locate(_ event: CallEvent, kind: EventType, key: CallKey) -> Location {
        let ucid = event.ucid
        let isMerge = kind == .transferred || kind == .conferenced
        let startsCall = kind == .serviceInitiated || kind == .originated || kind == .delivered

        if let id = visible(byCall[key]), let binding = table[id]?.journey.calls.first(where: { $0.key == key }) {
            let legs = table[id]!.journey.legs
            // A call taken up from a snapshot has no UCID until its first event brings one: that is its own.
            let adopted = legs[binding.leg].ucid == nil && legs[binding.leg].gap != nil
            let foreignUCID = ucid.map { ucid in !adopted && !legs.contains { $0.ucid == ucid } } ?? false
            if binding.state == .live, !foreignUCID {
                return .found(id, leg: binding.leg)
            }
            if binding.state == .live, isMerge, let ucid, let owner = visible(byUCID[ucid]), owner != id {
                var other = take(id)
                var journey = take(owner)
                if other.legs[binding.leg].role == .consultation {
                    // The consultation was linked to another call its agent held; the merge says whose it was.
                    journey.attach(other.detachLeg(binding.leg))
                    store(other)
                } else {
                    // The consultation was never linked to the held call (its start was missed): the merge joins them.
                    journey = absorb(other, into: journey)
                }
                return .found(park(journey), leg: journey.legIndex(ucid: ucid, switchID: key.switchID) ?? 0)
            }
            if binding.state == .live, isMerge || !foreignUCID {
                return .found(id, leg: binding.leg)
            }
            if ucid == nil, !startsCall {
                // A monitor's late CallCleared (or a copy) for a callID that was merged away or already cleared.
                if kind == .callCleared || kind == .connectionCleared {
                    return binding.state == .live ? .found(id, leg: binding.leg) : .ignore
                }
                return .unattributed
            }
            // The switch reused the callID for a new call.
            var journey = take(id)
            journey.calls.removeAll { $0.key == key }
            byCall[key] = nil
            store(journey)
        }

        if let ucid, let id = visible(byUCID[ucid]) {
            // The same call under a new callID (single-step transfer), or on another switch.
            var journey = take(id)
            let leg =
                journey.legIndex(ucid: ucid, switchID: key.switchID)
                ?? journey.addLeg(
                    CallLeg(ucid: ucid, switchID: key.switchID, role: .farSite, consultOf: nil, at: event))
            journey.bind(key, to: leg)
            return .found(park(journey), leg: leg)
        }

        // ATT `consultMode` says whether the agent pressed transfer/conference; without it (older private data),
        // a call started at a station that holds another call is taken to be a consultation.
        if kind == .serviceInitiated || kind == .originated, event.event.att?.consultMode != "ATT_CM_NONE",
            let station = event.connection?.deviceID, let id = heldCall(at: station, switchID: key.switchID)
        {
            var journey = take(id)
            let heldLeg = journey.legs.lastIndex { leg in
                leg.switchID == key.switchID && !leg.isEnded
                    && leg.parties.contains { $0.device == station && $0.state == .held }
            }!
            // A consultation, linked to the held call as soon as it starts, so its offer carries the customer's data.
            let leg = journey.addLeg(
                CallLeg(
                    ucid: ucid, switchID: key.switchID, role: .consultation, consultOf: journey.legs[heldLeg].ucid,
                    at: event))
            journey.segments.append(Segment(kind: .consult, device: station, ucid: ucid, start: event.time))
            journey.bind(key, to: leg)
            return .found(park(journey), leg: leg)
        }

        guard ucid != nil || startsCall else { return .unattributed }
        var journey = Journey(starting: event, key: key)
        journey.bind(key, to: 0)
        return .found(park(journey), leg: 0)
    }

    /// The open journey in which `station` holds a call on `switchID`. An agent who holds two calls consults
    /// about the one put on hold last (the call that was active when the transfer or conference key was pressed).
    private func heldCall(at station: String, switchID: String) -> String? {
        var best: (id: String, since: Date, position: Int64)?
        for id in holding[HeldDevice(switchID: switchID, device: station)] ?? [] {
            guard let journey = table[id]?.journey else { continue }
            let since =
                journey.legs.lazy.filter { $0.switchID == switchID && !$0.isEnded }
                .flatMap(\.parties).filter { $0.device == station && $0.state == .held }.map(\.since).max()
                ?? .distantPast
            if best.map({ (since, journey.lastPosition) > ($0.since, $0.position) }) ?? true {
                best = (id, since, journey.lastPosition)
            }
        }
        return best?.id
    }

    /// A station on a switch, as the key of the held-calls index.
    private struct HeldDevice: Hashable {
        var switchID: String
        var device: String
    }

    private static func heldDevices(of journey: Journey) -> Set<HeldDevice> {
        var held = Set<HeldDevice>()
        for leg in journey.legs where !leg.isEnded {
            for party in leg.parties where party.state == .held {
                held.insert(HeldDevice(switchID: leg.switchID, device: party.device))
            }
        }
        return held
    }

    /// Keeps `holding` in step with a journey's held parties.
    private mutating func updateHeld(_ id: String, to held: Set<HeldDevice>) {
        let before = heldByJourney[id] ?? []
        guard before != held else { return }
        for device in before.subtracting(held) {
            holding[device]?.remove(id)
            if holding[device]?.isEmpty == true { holding[device] = nil }
        }
        for device in held.subtracting(before) { holding[device, default: []].insert(id) }
        heldByJourney[id] = held.isEmpty ? nil : held
    }

    /// Moves `other` into `journey` (two journeys found to be one contact) and returns the result.
    private mutating func absorb(_ other: Journey, into journey: Journey) -> Journey {
        var merged = journey
        merged.absorb(other)
        unindex(other)
        removed.insert(other.id)
        return merged
    }

    // MARK: - Indexes

    @discardableResult
    private mutating func store(_ journey: Journey) -> String {
        var journey = journey
        if journey.id.hasPrefix("pending:"), let first = journey.legs.first?.ucid {
            // The journey's id is its first UCID, known only now.
            removed.insert(journey.id)
            unindex(journey)
            if let existing = table[first.rawValue]?.journey {
                // A call taken up from a snapshot turns out to be one CallTrail knew under another callID (moved
                // in the gap, by a transfer for one): one contact, one journey.
                var merged = existing
                merged.absorb(journey)
                journey = merged
            } else {
                journey.id = first.rawValue
            }
        }
        index(journey)
        changed.insert(journey.id)
        return journey.id
    }

    private mutating func index(_ journey: Journey, restoring: Bool = false) {
        table[journey.id] = JourneyBox(journey)
        for binding in journey.calls where byCall[binding.key] != journey.id {
            byCall[binding.key] = journey.id
        }
        for leg in journey.legs {
            if let ucid = leg.ucid, byUCID[ucid] != journey.id { byUCID[ucid] = journey.id }
        }
        updateHeld(journey.id, to: Self.heldDevices(of: journey))
        if let endedAt = journey.endedAt {
            if open.remove(journey.id) != nil || restoring {
                endedOrder.append((endedAt, journey.id))
            }
        } else {
            open.insert(journey.id)
        }
    }

    private mutating func unindex(_ journey: Journey) {
        table[journey.id] = nil
        open.remove(journey.id)
        updateHeld(journey.id, to: [])
        for binding in journey.calls where byCall[binding.key] == journey.id {
            byCall[binding.key] = nil
        }
        for leg in journey.legs {
            if let ucid = leg.ucid, byUCID[ucid] == journey.id { byUCID[ucid] = nil }
        }
    }
}

/// A journey the tracker holds. `take` moves the journey out and lets the box go, so the journey it changes is the
/// only copy (no copy-on-write of its arrays).
private final class JourneyBox: Sendable {
    let journey: Journey
    init(_ journey: Journey) { self.journey = journey }
}
