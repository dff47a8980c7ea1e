import Foundation
import TSAPI

/// What a journey makes of a `LINK_SNAPSHOT`: the calls one monitored device has after a gap in its link's events.
///
/// Events of the gap are lost for good, so the snapshot is all there is:
/// - a call CallTrail has at the device that the snapshot no longer holds ended for the device during the gap. The
///   device leaves the call; when no station that was offered or answered the call is left on it, the call itself
///   ended: its leg ends with `endedBy` `link-gap` and the gap's times, at the gap's start (the last moment it was
///   known to be up). What the journey knew stays: a call answered before the gap is still `answered`.
/// - a call the snapshot holds that CallTrail did not know started during the gap: a journey is started for it
///   (see `Journey(adopting:)`), and its next events carry on there.
/// - a call CallTrail knew and the snapshot holds: the device's state in it is the snapshot's.
///
/// A VDN's snapshot speaks for calls still in its vector (not yet at a station): those it no longer holds ended in
/// the gap. A call at a station is left to that station's snapshot.
extension Journey {
    /// Whether leg `index` is a live call the snapshot speaks for: on the snapshot's switch, with the station on it,
    /// or (a VDN) come through it with no station on it yet.
    func isLeg(_ index: Int, at snapshot: LinkSnapshot, switchID: String) -> Bool {
        let leg = legs[index]
        guard !leg.isEnded, leg.switchID == switchID else { return false }
        switch snapshot.kind {
        case .station:
            return leg.parties.contains { $0.device == snapshot.device }
        case .vdn:
            // Only a call still in the vector (at the VDN, or queued from it, with no station yet): one that has
            // left it (answered, transferred on) is no longer the VDN's to speak for.
            let inVector =
                segments.contains {
                    $0.kind == .vdn && $0.device == snapshot.device && $0.ucid == leg.ucid && $0.end == nil
                }
                || ([.offered, .queued].contains(leg.state) && leg.role != .consultation && vdn == snapshot.device)
            return inVector && !hasStation(onLeg: index)
        }
    }

    /// Whether a station that was offered or answered the contact is still on leg `index` (a queue, a far party or
    /// a trunk does not count: no snapshot speaks for them).
    private func hasStation(onLeg index: Int) -> Bool {
        legs[index].parties.contains { party in
            party.state != .queued && (agents.contains(party.device) || offers.contains { $0.device == party.device })
        }
    }

    /// Applies a snapshot to the journey's calls at the device; returns the feed messages it gives (a desktop whose
    /// call ended in the gap is told so), and whether anything changed.
    mutating func resynchronise(
        with snapshot: LinkSnapshot, switchID: String, event: CallEvent
    ) -> (changed: Bool, messages: [FeedMessage]) {
        let held = Dictionary(snapshot.calls.map { ($0.callID, $0) }) { first, _ in first }
        var changed = false
        var messages: [FeedMessage] = []
        for index in legs.indices where isLeg(index, at: snapshot, switchID: switchID) {
            var callIDs = calls.filter { $0.leg == index && $0.state == .live }.map(\.key.callID)
            callIDs += legs[index].parties.filter { $0.device == snapshot.device }.map(\.callID)
            if let call = callIDs.lazy.compactMap({ held[$0] }).first {
                // Still there: the device's state in it may have changed in the gap.
                if snapshot.kind == .station, let state = Party.State(tsapi: call.state),
                    legs[index].parties.first(where: { $0.device == snapshot.device })?.state != state
                {
                    legs[index].setParty(snapshot.device, state, callID: call.callID, at: event.time)
                    changed = true
                }
                continue
            }
            changed = true
            let end = max(snapshot.gap.from, legs[index].updatedAt)
            let callID = legs[index].parties.first { $0.device == snapshot.device }?.callID ?? callIDs.first ?? 0
            let onCallBefore = legs[index].parties.filter { $0.state != .queued }.map(\.device)
            var told: [String] = []
            if snapshot.kind == .station {
                legs[index].removeParty(snapshot.device)
                stopRinging(snapshot.device, at: end)
                closeSegments(nil, device: snapshot.device, at: end)
                told.append(snapshot.device)
            }
            legs[index].gap = snapshot.gap.union(legs[index].gap)
            gap = snapshot.gap.union(gap)
            if !hasStation(onLeg: index) {
                // Nobody CallTrail follows is left on the call: it ended in the gap.
                told += onCallBefore
                endLeg(index, as: .cleared, at: end)
                legs[index].endedBy = .linkGap
                for binding in calls.indices where calls[binding].leg == index && calls[binding].state == .live {
                    calls[binding].state = .cleared
                }
                if isEnded { endedInGap = true }
            }
            var message = baseMessage(leg: index, at: end, position: event.position)
            message.kind = .disconnect
            message.callID = callID
            message.party = snapshot.kind == .station ? snapshot.device : nil
            message.endedBy = CallLeg.EndedBy.linkGap.rawValue
            var seen = Set<String>()
            for device in told where !device.isEmpty && seen.insert(device).inserted {
                var copy = message
                copy.device = device
                copy.previousAgents = agents.filter { $0 != device }
                messages.append(copy)
            }
        }
        if changed {
            lastPosition = max(lastPosition, event.position)
            refreshDurations()
        }
        return (changed, messages)
    }

    /// Sets the device's state on a known call the snapshot holds but CallTrail did not have the device on (it
    /// joined in the gap: a transfer to it, a pick-up). Returns whether anything changed.
    mutating func join(_ call: LinkSnapshot.Call, at snapshot: LinkSnapshot, leg index: Int, event: CallEvent) -> Bool {
        guard snapshot.kind == .station, let state = Party.State(tsapi: call.state),
            !legs[index].parties.contains(where: { $0.device == snapshot.device })
        else { return false }
        legs[index].setParty(snapshot.device, state, callID: call.callID, at: event.time)
        legs[index].gap = snapshot.gap.union(legs[index].gap)
        gap = snapshot.gap.union(gap)
        if state == .connected || state == .held {
            if !agents.contains(snapshot.device) { agents.append(snapshot.device) }
            if !legs[index].agents.contains(snapshot.device) { legs[index].agents.append(snapshot.device) }
            answeredByParty = true
        }
        note(snapshot.device)
        lastPosition = max(lastPosition, event.position)
        return true
    }

    /// A journey for a call a snapshot holds that CallTrail never heard of: it started during the gap. What the
    /// snapshot says is all that is known (no UCID, no numbers): the device and its state. The call's next event
    /// finds it by its callID, and its first UCID becomes the journey's id.
    init(adopting call: LinkSnapshot.Call, from snapshot: LinkSnapshot, key: CallKey, event: CallEvent) {
        self.init(starting: event, key: key)
        legs[0].gap = snapshot.gap
        gap = snapshot.gap
        bind(key, to: 0)
        switch snapshot.kind {
        case .vdn:
            vdn = snapshot.device
            legs[0].state = .offered
            openSegment(.vdn, device: snapshot.device, ucid: nil, at: event.time)
        case .station:
            let state = Party.State(tsapi: call.state) ?? .connected
            legs[0].setParty(snapshot.device, state, callID: call.callID, at: event.time)
            switch state {
            case .alerting, .queued, .initiated:
                legs[0].state = CallLeg.State(rawValue: state.rawValue) ?? .alerting
                if state == .alerting {
                    timers.ringingSince[snapshot.device] = event.time
                    openSegment(.ringing, device: snapshot.device, ucid: nil, at: event.time)
                }
            case .connected, .held:
                // Answered in the gap: by this station, as far as anyone can know.
                legs[0].state = state == .held ? .held : .connected
                legs[0].agents = [snapshot.device]
                agents = [snapshot.device]
                answeredByParty = true
                openSegment(state == .held ? .held : .talking, device: snapshot.device, ucid: nil, at: event.time)
            }
        }
        note(snapshot.device)
    }
}

extension Party.State {
    /// A TSAPI connection state as a party's state; nil for states without a party (`CS_NULL`, `CS_FAIL`, unknown).
    init?(tsapi state: String) {
        switch state {
        case "CS_ALERTING": self = .alerting
        case "CS_CONNECT": self = .connected
        case "CS_HOLD": self = .held
        case "CS_QUEUED": self = .queued
        case "CS_INITIATE": self = .initiated
        default: return nil
        }
    }
}
