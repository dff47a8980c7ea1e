import Foundation
import TSAPI

extension Journey {
    /// The feed messages one applied event gives (docs/feed.md), read from the journey after the event: one per
    /// device the event concerns, each with the customer's data as the journey knows it by then.
    ///
    /// - an offer goes to the station alerting, or to the VDN the call was delivered to;
    /// - connect, hold and retrieve go to every device on the call (the caller's desktop hears its call answered);
    /// - transfer and conference go to the devices on the merged call and to the controller, who has left it;
    /// - disconnect goes to the device that left and to those still on the call; a CallCleared to those the
    ///   switch never reported leaving.
    ///
    /// `leg` is the leg the event was applied to (for a merge, the surviving one), `partiesBefore` the devices on
    /// it before the event.
    func feedMessages(for event: CallEvent, leg index: Int, partiesBefore: [String]) -> [FeedMessage] {
        let leg = legs[index]
        let onCall = leg.parties.filter { $0.state != .queued }.map(\.device)
        let connection = event.connection
        let isTrunk = connection?.isTrunk ?? false
        var message = baseMessage(leg: index, at: event.time, position: event.position)
        message.ucid = leg.ucid ?? event.ucid
        message.callID = connection?.callID ?? 0
        var devices: [String]
        switch event.event.csta {
        case .delivered(let delivered):
            let device = delivered.alertingDevice?.known ?? connection?.deviceID ?? ""
            switch event.event.att?.deliveredType {
            case "DELIVERED_TO_ACD", "DELIVERED_TO_STATION": break
            case nil where !isTrunk: break
            default: return []  // the far end of an outbound call
            }
            message.party = device
            message.calling = delivered.callingDevice?.known ?? leg.ani
            message.called = delivered.calledDevice?.known ?? leg.dnis
            message.lastRedirection = delivered.lastRedirectionDevice?.known
            devices = [device]
        case .established(let established):
            let device =
                isTrunk
                ? (established.answeringDevice?.known ?? connection?.deviceID ?? "")
                : (connection?.deviceID ?? established.answeringDevice?.known ?? "")
            message.kind = .connect
            message.party = device
            message.calling = established.callingDevice?.known ?? leg.ani
            message.called = established.calledDevice?.known ?? leg.dnis
            message.lastRedirection = established.lastRedirectionDevice?.known
            devices = [device] + onCall
        case .held(let held):
            message.kind = .hold
            message.party = held.holdingDevice?.known ?? connection?.deviceID
            devices = [message.party ?? ""] + onCall
        case .retrieved(let retrieved):
            message.kind = .retrieve
            message.party = retrieved.retrievingDevice?.known ?? connection?.deviceID
            devices = [message.party ?? ""] + onCall
        case .transferred(let merged), .conferenced(let merged):
            if case .conferenced = event.event.csta { message.kind = .conference } else { message.kind = .transfer }
            message.party = merged.controller?.known
            message.callID = merged.resultingCallID ?? message.callID
            message.primaryCallID = merged.primaryOldCall?.callID
            message.secondaryCallID = merged.secondaryOldCall?.callID
            message.addedParty = merged.addedParty?.known
            devices = onCall + [message.party ?? ""]
        case .connectionCleared(let cleared):
            message.kind = .disconnect
            message.party = connection?.deviceID ?? cleared.releasingDevice?.known
            devices = (isTrunk ? [] : [message.party ?? ""]) + onCall
        case .callCleared:
            message.kind = .disconnect
            devices = partiesBefore
        default:
            return []
        }
        var seen = Set<String>()
        return devices.filter { !$0.isEmpty && seen.insert($0).inserted }.map { device in
            var copy = message
            copy.device = device
            copy.previousAgents = agents.filter { $0 != device }
            return copy
        }
    }
}

extension Journey {
    /// The state of the calls at `device` now, as the messages that would have put them there: an offer while
    /// the call rings, connect while it talks, hold while it is held. What a desktop that connects mid-call gets.
    package func currentMessages(at device: String) -> [FeedMessage] {
        var messages: [FeedMessage] = []
        for index in legs.indices where !legs[index].isEnded {
            for party in legs[index].parties where party.device == device {
                let kind: FeedMessage.Kind
                switch party.state {
                case .alerting: kind = .offer
                case .connected: kind = .connect
                case .held: kind = .hold
                case .initiated, .queued: continue
                }
                var message = baseMessage(leg: index, at: party.since, position: legs[index].lastPosition)
                message.kind = kind
                message.device = device
                message.party = device
                message.callID = party.callID
                message.previousAgents = agents.filter { $0 != device }
                messages.append(message)
            }
        }
        return messages
    }

    /// A message about leg `index` with the journey's customer data and no event-specific fields yet.
    func baseMessage(leg index: Int, at time: Date, position: Int64) -> FeedMessage {
        let leg = legs[index]
        return FeedMessage(
            kind: .offer, eventPosition: position, device: "", switchID: leg.switchID, ucid: leg.ucid, callID: 0,
            party: nil, calling: leg.ani, called: leg.dnis, lastRedirection: nil, originalAni: originalAni,
            originalDnis: originalDnis, vdn: vdn, split: split, uui: uui ?? leg.uui,
            userEnteredCode: userEnteredCode ?? leg.userEnteredCode, trunkGroup: trunkGroup ?? leg.trunkGroup,
            trunkMember: trunkMember ?? leg.trunkMember, journeyID: id, previousAgents: [],
            parties: leg.parties.filter { $0.state != .queued }.map(\.device), primaryCallID: nil, secondaryCallID: nil,
            addedParty: nil, time: time, userDataKeys: userDataKeys, journeyUcids: ucids)
    }
}
