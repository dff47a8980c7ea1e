import Foundation
import TSAPI

/// The journey rules, one case per TSAPI event (listed in docs/architecture.md). Durations follow the
/// definitions in Tests/Fixtures/scenarios/README.md; each scenario there has a test that feeds its events.
extension Journey {
    init(starting event: CallEvent, key: CallKey) {
        let id = event.ucid?.rawValue ?? "pending:\(key)@\(event.position)"
        let outbound: Bool
        switch event.event.csta {
        case .serviceInitiated, .originated: outbound = true
        default: outbound = false
        }
        self.init(
            id: id,
            legs: [CallLeg(ucid: event.ucid, switchID: key.switchID, role: .original, consultOf: nil, at: event)],
            calls: [], homeSwitch: key.switchID, direction: outbound ? .outbound : .inbound, offers: [], agents: [],
            devices: [], segments: [], startedAt: event.time, lastEventAt: event.time, lastPosition: event.position,
            eventCount: 0)
    }

    func legIndex(ucid: UCID, switchID: String) -> Int? {
        legs.firstIndex { $0.ucid == ucid && $0.switchID == switchID }
    }

    /// Adds a leg; a journey that had ended goes on (a far site or a late consultation joined it).
    mutating func addLeg(_ leg: CallLeg) -> Int {
        legs.append(leg)
        endedAt = nil
        return legs.count - 1
    }

    mutating func bind(_ key: CallKey, to leg: Int, state: CallBinding.State = .live) {
        if let index = calls.firstIndex(where: { $0.key == key }) {
            calls[index].leg = leg
            calls[index].state = state
        } else {
            calls.append(CallBinding(key: key, leg: leg, state: state))
        }
    }

    // MARK: - One event

    mutating func apply(_ event: CallEvent, kind: EventType, leg index: Int) {
        touch(event, leg: index)
        let time = event.time
        let callID = event.connection?.callID ?? 0
        switch event.event.csta {
        case .delivered(let delivered):
            legs[index].ani = delivered.callingDevice?.known ?? legs[index].ani
            legs[index].dnis = delivered.calledDevice?.known ?? legs[index].dnis
            enrich(from: event, leg: index, calling: delivered.callingDevice, called: delivered.calledDevice)
            let device = delivered.alertingDevice?.known ?? event.connection?.deviceID ?? ""
            switch event.event.att?.deliveredType {
            case "DELIVERED_TO_ACD":
                // A VDN: the first one is where the customer came in.
                if legs[index].role != .consultation || vdn == nil { vdn = vdn ?? device }
                legs[index].state = .offered
                openSegment(.vdn, device: device, ucid: legs[index].ucid, at: time)
            case "DELIVERED_TO_STATION",
                nil where !(event.connection?.isTrunk ?? false):
                offer(at: device, event: event, leg: index)
            default:
                // The far party of an outbound call, or a device CallTrail does not model.
                legs[index].setParty(device, .alerting, callID: callID, at: time)
                legs[index].state = .alerting
            }
            note(device)

        case .queued(let queued):
            let queue = queued.queue?.known ?? event.connection?.deviceID ?? ""
            split = split ?? queue
            legs[index].state = .queued
            legs[index].setParty(queue, .queued, callID: callID, at: time)
            if timers.queuedSince == nil { timers.queuedSince = time }
            closeSegments(.vdn, at: time)
            if !segments.contains(where: { $0.kind == .queue && $0.end == nil }) {
                openSegment(.queue, device: queue, ucid: legs[index].ucid, at: time)
            }
            note(queue)

        case .established(let established):
            legs[index].ani = established.callingDevice?.known ?? legs[index].ani
            legs[index].dnis = established.calledDevice?.known ?? legs[index].dnis
            enrich(from: event, leg: index, calling: established.callingDevice, called: established.calledDevice)
            let isTrunk = event.connection?.isTrunk ?? false
            let device =
                isTrunk
                ? (established.answeringDevice?.known ?? event.connection?.deviceID ?? "")
                : (event.connection?.deviceID ?? established.answeringDevice?.known ?? "")
            legs[index].setParty(device, .connected, callID: callID, at: time)
            legs[index].state = .connected
            legs[index].answeredAt = legs[index].answeredAt ?? time
            answeredAt = answeredAt ?? time
            stopRinging(device, at: time)
            if !isTrunk {
                answeredByParty = true
                if !agents.contains(device) { agents.append(device) }
                if !legs[index].agents.contains(device) { legs[index].agents.append(device) }
                openSegment(.talking, device: device, ucid: legs[index].ucid, at: time)
            } else if direction == .outbound {
                answeredByParty = true
            }
            note(device)

        case .held(let held):
            let device = held.holdingDevice?.known ?? event.connection?.deviceID ?? ""
            legs[index].setParty(device, .held, callID: callID, at: time)
            legs[index].state = .held
            if timers.holdSince == nil, legs[index].switchID == homeSwitch { timers.holdSince = time }
            closeSegments(.talking, device: device, at: time)
            openSegment(.held, device: device, ucid: legs[index].ucid, at: time)

        case .retrieved(let retrieved):
            let device = retrieved.retrievingDevice?.known ?? event.connection?.deviceID ?? ""
            legs[index].setParty(device, .connected, callID: callID, at: time)
            legs[index].state = .connected
            stopHold(at: time)
            closeSegments(.held, device: device, at: time)
            openSegment(.talking, device: device, ucid: legs[index].ucid, at: time)

        case .serviceInitiated:
            let device = event.connection?.deviceID ?? ""
            legs[index].setParty(device, .initiated, callID: callID, at: time)
            if direction == .outbound, legs[index].role == .original {
                originalAni = originalAni ?? device
                if !agents.contains(device) { agents.append(device) }
            }
            note(device)

        case .originated(let originated):
            let device = originated.callingDevice?.known ?? event.connection?.deviceID ?? ""
            legs[index].setParty(device, .connected, callID: callID, at: time)
            legs[index].ani = device
            legs[index].dnis = originated.calledDevice?.known ?? legs[index].dnis
            if direction == .outbound, legs[index].role == .original {
                originalAni = originalAni ?? device
                originalDnis = originalDnis ?? originated.calledDevice?.known
                if !agents.contains(device) { agents.append(device) }
            }

        case .networkReached(let reached):
            legs[index].dnis = reached.calledDevice?.known ?? legs[index].dnis

        case .diverted(let diverted):
            let device = diverted.divertingDevice?.known ?? event.connection?.deviceID ?? ""
            legs[index].removeParty(device)
            stopRinging(device, at: time)
            if !(event.connection?.isTrunk ?? false) { redirected = true }

        case .failed:
            failed = true

        case .connectionCleared(let cleared):
            let device = event.connection?.deviceID ?? cleared.releasingDevice?.known ?? ""
            legs[index].removeParty(device)
            closeSegments(nil, device: device, at: time)
            if event.connection?.isTrunk ?? false {
                customerLeft(at: time)
            }

        case .callCleared:
            endLeg(index, as: .cleared, at: time)
            bind(CallKey(switchID: legs[index].switchID, callID: callID), to: index, state: .cleared)

        case .transferred, .conferenced, .other:
            break
        }
        refreshDurations()
    }

    /// Transferred and Conferenced: the call goes on under the callID of the
    /// connection list, as the original UCID; both old callIDs alias to it; the consultation leg is merged.
    /// Returns the leg the call goes on as.
    @discardableResult
    mutating func merge(_ merged: CSTAEvent.Merged, _ event: CallEvent, into boundLeg: Int, conference: Bool) -> Int {
        touch(event, leg: boundLeg)
        let time = event.time
        let switchID = event.switchID
        // The surviving call is the original call's UCID (ATT `ucid`); without one, the leg of the held call.
        let primaryKey = merged.primaryOldCall.map { CallKey(switchID: switchID, callID: $0.callID) }
        let target =
            event.ucid.flatMap { legIndex(ucid: $0, switchID: switchID) }
            ?? calls.first(where: { $0.key == primaryKey })?.leg
            ?? boundLeg
        enrich(from: event, leg: target, calling: nil, called: nil)

        // Parties: the connection list, keeping what each device was doing on either old call.
        var parties: [Party] = []
        let survivor = merged.resultingCallID ?? event.connection?.callID ?? 0
        for connection in merged.connections where !connection.party.isTrunk {
            let device = connection.party.deviceID
            if !conference, device == merged.controller?.known { continue }
            let known = legs.filter { $0.switchID == switchID }.flatMap(\.parties).last { $0.device == device }
            let state: Party.State = known?.state == .held || known == nil ? .connected : known!.state
            parties.append(Party(device: device, state: state, callID: survivor, since: known?.since ?? time))
        }
        for other in legs.indices
        where other != target && legs[other].switchID == switchID && !legs[other].isEnded
            && calls.contains(where: {
                $0.leg == other && $0.state == .live && [survivor, primaryKey?.callID].contains($0.key.callID)
            })
        {
            legs[other].mergedInto = legs[target].ucid
            endLeg(other, as: .merged, at: time)
        }
        legs[target].parties = parties
        legs[target].state =
            parties.contains { $0.state == .connected }
            ? .connected
            : parties.contains { $0.state == .alerting } ? .alerting : parties.isEmpty ? legs[target].state : .queued
        legs[target].updatedAt = time

        for old in [merged.primaryOldCall, merged.secondaryOldCall].compactMap({ $0?.callID })
        where old != 0 && old != survivor {
            bind(CallKey(switchID: switchID, callID: old), to: target, state: .merged)
        }
        bind(CallKey(switchID: switchID, callID: survivor), to: target)

        stopHold(at: time)
        if let controller = merged.controller?.known {
            closeSegments(.held, device: controller, at: time)
            if !conference { closeSegments(nil, device: controller, at: time) }
        }
        if conference {
            conferenced = true
            openSegment(.conference, device: merged.controller?.known, ucid: legs[target].ucid, at: time)
            if let controller = merged.controller?.known {
                openSegment(.talking, device: controller, ucid: legs[target].ucid, at: time)
            }
        } else {
            transferred = true
        }
        if let added = merged.addedParty?.known { note(added) }
        refreshDurations()
        return target
    }

    /// What every event does: counts, times, and the leg's last update.
    private mutating func touch(_ event: CallEvent, leg index: Int) {
        eventCount += 1
        lastEventAt = max(lastEventAt, event.time)
        lastPosition = max(lastPosition, event.position)
        legs[index].updatedAt = max(legs[index].updatedAt, event.time)
        legs[index].lastPosition = max(legs[index].lastPosition, event.position)
        if let ucid = event.ucid, legs[index].ucid == nil { legs[index].ucid = ucid }
        if let att = event.event.att {
            legs[index].trunkGroup = legs[index].trunkGroup ?? att.trunkGroup
            legs[index].trunkMember = legs[index].trunkMember ?? att.trunkMember
            legs[index].uui = att.userInfo.flatMap(Self.text) ?? legs[index].uui
            legs[index].userEnteredCode = legs[index].userEnteredCode ?? att.userEnteredCode.flatMap(Self.digits)
            if let uui = att.userInfo { noteKeys(in: uui, ucid: legs[index].ucid, at: event.time) }
            if let uui = att.originalCallInfo?.userInfo { noteKeys(in: uui, ucid: legs[index].ucid, at: event.time) }
        }
    }

    /// Records the user-data keys a UUI carries: the data follows the call.
    private mutating func noteKeys(in uui: UserToUserInfo, ucid: UCID?, at time: Date) {
        for key in UserDataKey.find(in: uui) where !userDataKeys.contains(where: { $0.key == key }) {
            userDataKeys.append(CarriedKey(key: key, ucid: ucid, time: time))
        }
    }

    /// The customer's data: from `originalCallInfo` when the switch restored it,
    /// otherwise from the original call's own first offer. A consultation's own calling party is the agent,
    /// so only its `originalCallInfo` counts.
    private mutating func enrich(from event: CallEvent, leg index: Int, calling: DeviceID?, called: DeviceID?) {
        guard let att = event.event.att else { return }
        let original = att.originalCallInfo.flatMap { info in
            info.reason == nil || info.reason == "OR_NONE" ? nil : info
        }
        let own = legs[index].role != .consultation
        originalAni = originalAni ?? original?.callingDevice?.known ?? (own ? calling?.known : nil)
        originalDnis = originalDnis ?? original?.calledDevice?.known ?? (own ? called?.known : nil)
        uui = uui ?? original?.userInfo.flatMap(Self.text) ?? (own ? att.userInfo.flatMap(Self.text) : nil)
        userEnteredCode =
            userEnteredCode ?? original?.userEnteredCode.flatMap(Self.digits)
            ?? (own ? att.userEnteredCode.flatMap(Self.digits) : nil)
        trunkGroup = trunkGroup ?? original?.trunkGroup ?? (own ? att.trunkGroup : nil)
        trunkMember = trunkMember ?? original?.trunkMember ?? (own ? att.trunkMember : nil)
        if let distributing = att.distributingVDN?.known { vdn = vdn ?? distributing }
        if own, let split = att.split, !split.isEmpty { self.split = self.split ?? split }
    }

    /// An offer to a station: what its desktop should pop (the journey rules, docs/architecture.md).
    private mutating func offer(at device: String, event: CallEvent, leg index: Int) {
        let time = event.time
        legs[index].setParty(device, .alerting, callID: event.connection?.callID ?? 0, at: time)
        legs[index].parties.removeAll { $0.state == .queued }
        legs[index].state = .alerting
        if let since = timers.queuedSince {
            durations.queue += time.timeIntervalSince(since)
            timers.queuedSince = nil
        }
        closeSegments(.queue, at: time)
        closeSegments(.vdn, at: time)
        timers.ringingSince[device] = time
        openSegment(.ringing, device: device, ucid: legs[index].ucid, at: time)
        offers.append(
            Offer(
                device: device, switchID: legs[index].switchID, ucid: legs[index].ucid ?? event.ucid,
                callID: event.connection?.callID ?? 0, time: time, position: event.position, originalAni: originalAni,
                originalDnis: originalDnis, vdn: vdn, split: split, uui: uui, userEnteredCode: userEnteredCode))
    }

    mutating func stopRinging(_ device: String, at time: Date) {
        if let since = timers.ringingSince.removeValue(forKey: device) {
            durations.ring += time.timeIntervalSince(since)
        }
        closeSegments(.ringing, device: device, at: time)
    }

    private mutating func stopHold(at time: Date) {
        if let since = timers.holdSince {
            durations.hold += time.timeIntervalSince(since)
            timers.holdSince = nil
        }
    }

    /// The caller's trunk left: whatever waited for an agent stops waiting.
    private mutating func customerLeft(at time: Date) {
        if !answeredByParty, direction == .inbound, abandonedIn == nil {
            abandonedIn = timers.queuedSince != nil ? "queue" : !timers.ringingSince.isEmpty ? "ringing" : "vdn"
        }
        if let since = timers.queuedSince {
            durations.queue += time.timeIntervalSince(since)
            timers.queuedSince = nil
        }
        for (device, since) in timers.ringingSince {
            durations.ring += time.timeIntervalSince(since)
            closeSegments(.ringing, device: device, at: time)
        }
        timers.ringingSince = [:]
        stopHold(at: time)
    }

    mutating func endLeg(_ index: Int, as state: CallLeg.State, at time: Date) {
        legs[index].state = state
        legs[index].endedAt = legs[index].endedAt ?? time
        if state == .cleared { legs[index].parties = [] }
        if let ucid = legs[index].ucid {
            for segment in segments.indices
            where segments[segment].end == nil && segments[segment].ucid == ucid
                && (state == .cleared || segments[segment].kind == .consult)
            {
                segments[segment].end = time
            }
        }
        if legs.allSatisfy(\.isEnded) {
            endedAt = time
            endedInGap = false
            customerLeft(at: time)
            for segment in segments.indices where segments[segment].end == nil { segments[segment].end = time }
        }
    }

    /// Ends a journey whose calls went silent (a lost CallCleared, a link down): every call still up is taken
    /// as cleared at the journey's last event.
    mutating func endSilent() {
        timedOut = true
        for index in legs.indices where !legs[index].isEnded {
            endLeg(index, as: .cleared, at: lastEventAt)
            legs[index].endedBy = .silence
        }
        for index in calls.indices where calls[index].state == .live { calls[index].state = .cleared }
        refreshDurations()
    }

    mutating func refreshDurations() {
        durations.total = lastEventAt.timeIntervalSince(startedAt)
        let end = endedAt ?? lastEventAt
        durations.talk = answeredAt.map { max(0, end.timeIntervalSince($0) - durations.hold) } ?? 0
    }

    mutating func openSegment(_ kind: Segment.Kind, device: String?, ucid: UCID?, at time: Date) {
        if segments.contains(where: { $0.kind == kind && $0.device == device && $0.end == nil }) { return }
        segments.append(Segment(kind: kind, device: device, ucid: ucid, start: time))
    }

    mutating func closeSegments(_ kind: Segment.Kind?, device: String? = nil, at time: Date) {
        for index in segments.indices
        where segments[index].end == nil
            && (kind == nil || segments[index].kind == kind) && (device == nil || segments[index].device == device)
            && (kind != nil || ![.consult, .conference].contains(segments[index].kind))
        {
            segments[index].end = time
        }
    }

    mutating func note(_ device: String) {
        if !device.isEmpty, !devices.contains(device) { devices.append(device) }
    }

    static func text(_ uui: UserToUserInfo) -> String? {
        guard uui.type != "UUI_NONE", !uui.data.isEmpty else { return nil }
        return uui.data
    }

    static func digits(_ code: UserEnteredCode) -> String? {
        guard code.type != "UE_NONE", let data = code.data, !data.isEmpty else { return nil }
        return data
    }

    // MARK: - A consultation linked to the wrong held call

    /// Legs on their way from one journey to another, with what belongs to them.
    struct DetachedLegs {
        var legs: [CallLeg]
        /// Bindings, with `leg` an index into `legs`.
        var bindings: [CallBinding]
        var offers: [Offer]
        var segments: [Segment]
    }

    /// Takes a consultation out (a merge showed it belongs to another journey), with the legs other switches
    /// reported under its UCID.
    mutating func detachLeg(_ index: Int) -> DetachedLegs {
        let ucid = legs[index].ucid
        let moving = legs.indices.filter { $0 == index || (ucid != nil && legs[$0].ucid == ucid) }
        var detached = DetachedLegs(legs: moving.map { legs[$0] }, bindings: [], offers: [], segments: [])
        var newIndex: [Int: Int] = [:]
        var kept = 0
        for old in legs.indices where !moving.contains(old) {
            newIndex[old] = kept
            kept += 1
        }
        var remaining: [CallBinding] = []
        for var binding in calls {
            if let position = moving.firstIndex(of: binding.leg) {
                binding.leg = position
                detached.bindings.append(binding)
            } else {
                binding.leg = newIndex[binding.leg]!
                remaining.append(binding)
            }
        }
        calls = remaining
        legs = legs.indices.filter { !moving.contains($0) }.map { legs[$0] }
        if let ucid {
            detached.offers = offers.filter { $0.ucid == ucid }
            offers.removeAll { $0.ucid == ucid }
            detached.segments = segments.filter { $0.ucid == ucid }
            segments.removeAll { $0.ucid == ucid }
        }
        let movedAgents = Set(detached.legs.flatMap(\.agents))
        let remainingAgents = Set(legs.flatMap(\.agents))
        agents.removeAll { movedAgents.contains($0) && !remainingAgents.contains($0) }
        if legs.allSatisfy(\.isEnded), endedAt == nil { endedAt = lastEventAt }
        return detached
    }

    mutating func attach(_ detached: DetachedLegs) {
        let first = legs.count
        for var leg in detached.legs {
            if leg.role == .consultation { leg.consultOf = legs.first?.ucid }
            _ = addLeg(leg)
        }
        for binding in detached.bindings { bind(binding.key, to: first + binding.leg, state: binding.state) }
        offers = (offers + detached.offers).sorted { $0.position < $1.position }
        segments = (segments + detached.segments).sorted { $0.start < $1.start }
        for agent in detached.legs.flatMap(\.agents) where !agents.contains(agent) { agents.append(agent) }
    }

    // MARK: - Two journeys found to be one

    mutating func absorb(_ other: Journey) {
        let offset = legs.count
        legs += other.legs
        for binding in other.calls {
            bind(binding.key, to: binding.leg + offset, state: binding.state)
        }
        offers = (offers + other.offers).sorted { $0.position < $1.position }
        for agent in other.agents where !agents.contains(agent) { agents.append(agent) }
        for device in other.devices where !devices.contains(device) { devices.append(device) }
        segments = (segments + other.segments).sorted { $0.start < $1.start }
        startedAt = min(startedAt, other.startedAt)
        answeredAt = [answeredAt, other.answeredAt].compactMap { $0 }.min()
        lastEventAt = max(lastEventAt, other.lastEventAt)
        lastPosition = max(lastPosition, other.lastPosition)
        eventCount += other.eventCount
        transferred = transferred || other.transferred
        conferenced = conferenced || other.conferenced
        redirected = redirected || other.redirected
        failed = failed || other.failed
        answeredByParty = answeredByParty || other.answeredByParty
        durations.queue += other.durations.queue
        durations.ring += other.durations.ring
        durations.hold += other.durations.hold
        timers.ringingSince.merge(other.timers.ringingSince) { first, _ in first }
        timers.queuedSince = timers.queuedSince ?? other.timers.queuedSince
        timers.holdSince = timers.holdSince ?? other.timers.holdSince
        recentEventKeys += other.recentEventKeys
        endedAt = legs.allSatisfy(\.isEnded) ? [endedAt, other.endedAt].compactMap { $0 }.max() : nil
        gap = other.gap.map { $0.union(gap) } ?? gap
        endedInGap = endedAt != nil && (endedInGap || other.endedInGap)
        originalAni = originalAni ?? other.originalAni
        originalDnis = originalDnis ?? other.originalDnis
        uui = uui ?? other.uui
        for carried in other.userDataKeys where !userDataKeys.contains(where: { $0.key == carried.key }) {
            userDataKeys.append(carried)
        }
        userDataKeys.sort { $0.time < $1.time }
        userEnteredCode = userEnteredCode ?? other.userEnteredCode
        vdn = vdn ?? other.vdn
        split = split ?? other.split
        refreshDurations()
    }
}
