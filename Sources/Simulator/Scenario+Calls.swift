import Foundation
import TSAPI

/// The scenarios, written from the reference's tables (§4): which events, in which order, seen by which
/// monitors. Waits are drawn from the context's generator, so a seed reproduces a run.
extension Scenario {
    typealias Views = CallScript.Views

    /// (a)#1–#2: the trunk call is offered to the VDN, the vector collects digits and queues it to the skill.
    static func offer(_ s: inout CallScript, _ c: inout ScenarioContext) -> CallData {
        let site = s.sites[0]
        var call = CallData(
            callID: c.states[0].allocateCallID(at: s.clock), ucid: c.states[0].newUCID(at: s.clock), ani: c.caller,
            dnis: c.dnis, vdn: "7001", skill: site.vdns["7001"] ?? "3001", trunk: site.incomingTrunk, uui: c.uui,
            digits: nil)
        s.deliveredToVDN(call, views: [(call.vdn, "CS_NONE")])
        s.wait(c.random.duration(mean: 6, minimum: 2))  // announcement and collect step: no CSTA event
        call.digits = c.digits
        s.queued(call, views: [(call.vdn, "CS_NONE")])
        return call
    }

    /// (a)#3–#4: delivered to and answered by an agent of the skill.
    static func answer(
        _ s: inout CallScript, _ c: inout ScenarioContext, _ call: CallData, at station: String, vdns: [String]? = nil
    ) {
        let vdnViews: Views = (vdns ?? [call.vdn]).map { ($0, "CS_NONE") }
        s.wait(c.random.duration(mean: 20, minimum: 1))
        s.delivered(call, at: station, att: s.stationPrivateData(call), views: vdnViews + [(station, "CS_ALERTING")])
        s.wait(c.random.duration(mean: 5, minimum: 1))
        s.established(call, at: station, att: s.stationPrivateData(call), views: vdnViews + [(station, "CS_CONNECT")])
    }

    /// (a)#1–#4 and some talk: the prelude of every scenario in which agent A then does something with the call.
    static func answeredCall(_ s: inout CallScript, _ c: inout ScenarioContext, at a: String) -> CallData {
        let call = offer(&s, &c)
        answer(&s, &c, call, at: a)
        s.wait(c.random.duration(mean: 60, minimum: 5))
        return call
    }

    /// The caller hangs up: the trunk's connection clears, then the call (ASAI "Drop → Call Ended").
    static func callerHangsUp(
        _ s: inout CallScript, _ c: inout ScenarioContext, _ callID: Int64, stations: [String], vdns: [String],
        site: Int = 0
    ) {
        let vdnViews: Views = vdns.map { ($0, "CS_NONE") }
        s.connectionCleared(
            callID, device: CallScript.trunk(callID), releasing: CallScript.party(c.caller),
            views: vdnViews + stations.map { ($0, "CS_CONNECT") })
        s.callCleared(callID, views: vdnViews + stations.map { ($0, "CS_NULL") })
        c.states[site].release(callID, at: s.clock)
    }

    static func inboundAnswered(_ s: inout CallScript, _ c: inout ScenarioContext) {
        let call = offer(&s, &c)
        answer(&s, &c, call, at: c.agents.a)
        s.wait(c.random.duration(mean: 180, minimum: 10))
        callerHangsUp(&s, &c, call.callID, stations: [c.agents.a], vdns: [call.vdn])
    }

    /// (b): the caller gives up in queue, or while an agent's phone rings.
    static func abandon(_ s: inout CallScript, _ c: inout ScenarioContext, whileRinging: Bool) {
        let call = offer(&s, &c)
        var stations: [String] = []
        if whileRinging {
            s.wait(c.random.duration(mean: 15, minimum: 1))
            s.delivered(
                call, at: c.agents.a, att: s.stationPrivateData(call),
                views: [(call.vdn, "CS_NONE"), (c.agents.a, "CS_ALERTING")])
            stations = [c.agents.a]
        }
        s.wait(c.random.duration(mean: whileRinging ? 4 : 40, minimum: 1))
        s.connectionCleared(
            call.callID, device: CallScript.trunk(call.callID), releasing: CallScript.party(c.caller),
            views: [(call.vdn, "CS_NONE")] + stations.map { ($0, "CS_ALERTING") })
        s.callCleared(call.callID, views: [(call.vdn, "CS_NONE")] + stations.map { ($0, "CS_NULL") })
        c.states[0].release(call.callID, at: s.clock)
    }

    enum AfterConsultation { case transfer, blindTransfer, conference, threeWayConference, callerHangsUp }

    /// (c), (d1), (e) and their relatives: A holds the caller and consults B on a new call with its own UCID.
    static func consultation(_ s: inout CallScript, _ c: inout ScenarioContext, then outcome: AfterConsultation) {
        let (a, b) = (c.agents.a, c.agents.b)
        let call = answeredCall(&s, &c, at: a)
        let conferencing = outcome == .conference || outcome == .threeWayConference
        let mode = conferencing ? "ATT_CM_CONFERENCE" : "ATT_CM_TRANSFER"
        s.held(call.callID, at: a, consultMode: mode, views: [(call.vdn, "CS_NONE"), (a, "CS_HOLD")])
        let consult = consultLeg(&s, &c, from: a, to: b, original: call, mode: mode)
        let consultID = consult.callID

        if outcome == .blindTransfer {
            s.wait(c.random.duration(mean: 2, minimum: 1))
            transfer(&s, call, consultID: consultID, from: a, to: b, targetState: "CS_ALERTING")
            mergedAwayClears(&s, &c, call.callID, vdn: call.vdn)
            s.wait(c.random.duration(mean: 5, minimum: 1))
            var merged = call
            merged.callID = consultID
            s.established(
                merged, at: b, redirectedBy: a,
                att: s.stationPrivateData(merged, original: "OR_TRANSFERRED", split: "", vdn: call.vdn),
                views: [(call.vdn, "CS_NONE"), (b, "CS_CONNECT")])
            s.wait(c.random.duration(mean: 150, minimum: 10))
            callerHangsUp(&s, &c, consultID, stations: [b], vdns: [call.vdn])
            return
        }

        consultAnswered(&s, &c, consult, original: call, from: a, at: b)
        s.wait(c.random.duration(mean: 30, minimum: 3))

        switch outcome {
        case .transfer:
            transfer(&s, call, consultID: consultID, from: a, to: b, targetState: "CS_CONNECT")
            mergedAwayClears(&s, &c, call.callID, vdn: call.vdn)
            s.wait(c.random.duration(mean: 150, minimum: 10))
            callerHangsUp(&s, &c, consultID, stations: [b], vdns: [call.vdn])
        case .conference, .threeWayConference:
            conference(
                &s, call, callID: consultID, heldID: call.callID, controller: a, added: b, others: [], views: [a, b])
            mergedAwayClears(&s, &c, call.callID, vdn: call.vdn)
            var parties = [b]
            var current = consultID
            if outcome == .threeWayConference {
                let third = c.agents.c
                s.wait(c.random.duration(mean: 30, minimum: 3))
                s.held(
                    current, at: a, consultMode: mode,
                    views: [(call.vdn, "CS_NONE"), (a, "CS_HOLD"), (b, "CS_CONNECT")])
                let leg = consultLeg(&s, &c, from: a, to: third, original: call, mode: mode)
                consultAnswered(&s, &c, leg, original: call, from: a, at: third)
                s.wait(c.random.duration(mean: 20, minimum: 3))
                conference(
                    &s, call, callID: leg.callID, heldID: current, controller: a, added: third, others: [b],
                    views: [a, b, third])
                mergedAwayClears(&s, &c, current, vdn: call.vdn)
                current = leg.callID
                parties.append(third)
            }
            // The controller drops; the call goes on without them.
            s.wait(c.random.duration(mean: 20, minimum: 3))
            s.connectionCleared(
                current, device: a, releasing: .string(a),
                views: [(call.vdn, "CS_NONE"), (a, "CS_NULL")] + parties.map { ($0, "CS_CONNECT") })
            s.wait(c.random.duration(mean: 120, minimum: 10))
            callerHangsUp(&s, &c, current, stations: parties, vdns: [call.vdn])
        case .callerHangsUp:
            // The held caller gives up: the original call ends; the two UCIDs are never associated.
            s.connectionCleared(
                call.callID, device: CallScript.trunk(call.callID), releasing: CallScript.party(c.caller),
                views: [(call.vdn, "CS_NONE"), (a, "CS_HOLD")])
            s.callCleared(call.callID, views: [(call.vdn, "CS_NONE"), (a, "CS_NULL")])
            c.states[0].release(call.callID, at: s.clock)
            s.wait(c.random.duration(mean: 10, minimum: 2))
            s.connectionCleared(
                consultID, device: a, releasing: .string(a), views: [(a, "CS_NULL"), (b, "CS_CONNECT")])
            s.callCleared(consultID, views: [(b, "CS_NULL")])
            c.states[0].release(consultID, at: s.clock)
        case .blindTransfer:
            break
        }
    }

    /// (c)#6–#8: ServiceInitiated with the consultation's own UCID, Originated, Delivered at the consulted agent.
    static func consultLeg(
        _ s: inout CallScript, _ c: inout ScenarioContext, from a: String, to b: String, original: CallData,
        mode: String
    ) -> CallData {
        var consult = original
        (consult.callID, consult.ucid) = dialConsultation(&s, &c, from: a, dialling: b, original: original, mode: mode)
        s.delivered(
            consult, at: b, calling: .string(a), called: b, redirectedBy: "",
            att: s.stationPrivateData(original, ucid: consult.ucid, original: "OR_CONSULTATION", split: "", vdn: ""),
            views: [(a, "CS_CONNECT"), (b, "CS_ALERTING")])
        return consult
    }

    /// (c)#6–#7: ServiceInitiated with the consultation's own UCID, then Originated towards `number`.
    static func dialConsultation(
        _ s: inout CallScript, _ c: inout ScenarioContext, from a: String, dialling number: String, original: CallData,
        mode: String
    ) -> (callID: Int64, ucid: UCID) {
        let callID = c.states[0].allocateCallID(at: s.clock)
        let ucid = c.states[0].newUCID(at: s.clock)
        s.serviceInitiated(callID, at: a, ucid: ucid, consultMode: mode, views: [(a, "CS_INITIATE")])
        s.wait(c.random.duration(mean: 3, minimum: 1))
        s.originated(
            callID, at: a, agent: c.agentID(a), called: number, uui: original.userInfo, consultMode: mode,
            views: [(a, "CS_CONNECT")])
        return (callID, ucid)
    }

    /// (c)#9: the consulted agent answers the consultation.
    static func consultAnswered(
        _ s: inout CallScript, _ c: inout ScenarioContext, _ leg: CallData, original: CallData, from a: String,
        at b: String
    ) {
        s.wait(c.random.duration(mean: 5, minimum: 1))
        s.established(
            leg, at: b, calling: .string(a), called: b, redirectedBy: "",
            att: s.stationPrivateData(original, ucid: leg.ucid, original: "OR_CONSULTATION", split: "", vdn: ""),
            views: [(a, "CS_CONNECT"), (b, "CS_CONNECT")])
    }

    /// (c)#10': the VDN monitor may see the merged-away call clear; CM frees its callID.
    static func mergedAwayClears(_ s: inout CallScript, _ c: inout ScenarioContext, _ callID: Int64, vdn: String) {
        s.callCleared(callID, views: [(vdn, "CS_NONE")])
        c.states[0].release(callID, at: s.clock)
    }

    /// (c)#10: the transfer; the surviving callID is the consultation's, the UCID the original's.
    static func transfer(
        _ s: inout CallScript, _ call: CallData, consultID: Int64, from a: String, to b: String, targetState: String
    ) {
        s.merged(
            .transferred, primary: CallScript.connection(call.callID, a),
            secondary: CallScript.connection(consultID, a),
            controller: a, added: b,
            connections: [
                (CallScript.connection(consultID, CallScript.trunk(consultID)), CallScript.party(call.ani)),
                (CallScript.connection(consultID, b), .string(b)),
            ],
            att: s.mergePrivateData(
                call, reason: "OR_TRANSFERRED", controller: a,
                trunks: [(consultID, CallScript.trunk(consultID), call.trunk)]),
            views: [(call.vdn, "CS_NONE"), (a, "CS_NULL"), (b, targetState)])
    }

    /// (e)#10: the conference, with the controller, the caller's trunk and every agent on the surviving call.
    static func conference(
        _ s: inout CallScript, _ call: CallData, callID: Int64, heldID: Int64, controller a: String, added: String,
        others: [String], views: [String]
    ) {
        let agents = [a] + others + [added]
        s.merged(
            .conferenced, primary: CallScript.connection(heldID, a), secondary: CallScript.connection(callID, a),
            controller: a, added: added,
            connections: [
                (CallScript.connection(callID, a), .string(a)),
                (CallScript.connection(callID, CallScript.trunk(callID)), CallScript.party(call.ani)),
            ]
                + (others + [added]).map { (CallScript.connection(callID, $0), .string($0)) },
            att: s.mergePrivateData(
                call, reason: "OR_CONFERENCED", controller: a, trunks: [(callID, CallScript.trunk(callID), call.trunk)]),
            views: [(call.vdn, "CS_NONE")] + agents.filter(views.contains).map { ($0, "CS_CONNECT") })
    }

    /// (d2): single-step transfer through the API; the call gets a new callID, keeps its UCID.
    static func singleStepTransfer(_ s: inout CallScript, _ c: inout ScenarioContext) {
        let (a, b) = (c.agents.a, c.agents.b)
        let call = answeredCall(&s, &c, at: a)
        let newID = c.states[0].allocateCallID(at: s.clock)
        s.merged(
            .transferred, primary: CallScript.connection(call.callID, a), secondary: CallScript.connection(0, ""),
            controller: a, added: b,
            connections: [
                (CallScript.connection(newID, CallScript.trunk(newID)), CallScript.party(call.ani)),
                (CallScript.connection(newID, b), .string(b)),
            ],
            att: s.mergePrivateData(
                call, reason: "OR_TRANSFERRED", controller: a, trunks: [(newID, CallScript.trunk(newID), call.trunk)]),
            views: [(call.vdn, "CS_NONE"), (a, "CS_NULL"), (b, "CS_ALERTING")])
        c.states[0].release(call.callID, at: s.clock)
        var moved = call
        moved.callID = newID
        let att = s.stationPrivateData(moved, original: "OR_TRANSFERRED")
        s.delivered(moved, at: b, redirectedBy: a, att: att, views: [(call.vdn, "CS_NONE"), (b, "CS_ALERTING")])
        s.wait(c.random.duration(mean: 5, minimum: 1))
        s.established(moved, at: b, redirectedBy: a, att: att, views: [(call.vdn, "CS_NONE"), (b, "CS_CONNECT")])
        s.wait(c.random.duration(mean: 150, minimum: 10))
        callerHangsUp(&s, &c, newID, stations: [b], vdns: [call.vdn])
    }

    /// (f): ring no answer at A; the call is redirected to the skill and answered by B; callID and UCID stay.
    static func rona(_ s: inout CallScript, _ c: inout ScenarioContext) {
        let (a, b) = (c.agents.a, c.agents.b)
        let call = offer(&s, &c)
        s.wait(c.random.duration(mean: 15, minimum: 1))
        s.delivered(call, at: a, att: s.stationPrivateData(call), views: [(call.vdn, "CS_NONE"), (a, "CS_ALERTING")])
        s.wait(12)  // the RONA timer
        s.diverted(call.callID, from: a, to: call.skill, views: [(call.vdn, "CS_NONE"), (a, "CS_NULL")])
        s.queued(call, views: [(call.vdn, "CS_NONE")])
        s.wait(c.random.duration(mean: 10, minimum: 1))
        let history: [JSONTree] = [
            .object([
                ("olddeviceID", .string(a)), ("cause", "EC_REDIRECTED"),
                ("oldconnectionID", CallScript.connection(call.callID, a)),
            ])
        ]
        let att = s.stationPrivateData(call, history: history)
        s.delivered(call, at: b, att: att, views: [(call.vdn, "CS_NONE"), (b, "CS_ALERTING")])
        s.wait(c.random.duration(mean: 5, minimum: 1))
        s.established(call, at: b, att: att, views: [(call.vdn, "CS_NONE"), (b, "CS_CONNECT")])
        s.wait(c.random.duration(mean: 150, minimum: 10))
        callerHangsUp(&s, &c, call.callID, stations: [b], vdns: [call.vdn])
    }

    /// (g): agent A dials out over the PSTN trunk group.
    static func outbound(_ s: inout CallScript, _ c: inout ScenarioContext) {
        let a = c.agents.a
        let site = s.sites[0]
        let callID = c.states[0].allocateCallID(at: s.clock)
        let ucid = c.states[0].newUCID(at: s.clock)
        let dialled = "9" + c.caller
        let farEnd = CallScript.trunk(callID, 2)
        s.serviceInitiated(callID, at: a, ucid: ucid, consultMode: "ATT_CM_NONE", views: [(a, "CS_INITIATE")])
        s.wait(c.random.duration(mean: 4, minimum: 1))
        s.originated(
            callID, at: a, agent: c.agentID(a), called: dialled, consultMode: "ATT_CM_NONE", views: [(a, "CS_CONNECT")])
        s.networkReached(callID, trunk: farEnd, called: dialled, group: site.outgoingTrunk, views: [(a, "CS_CONNECT")])
        let farEndAtt: JSONTree = .object([
            ("deliveredType", "DELIVERED_OTHER"), ("trunkGroup", .string(site.outgoingTrunk.0)),
            ("trunkMember", .string(site.outgoingTrunk.1)), ("ucid", .string(ucid.rawValue)),
        ])
        s.wait(c.random.duration(mean: 2, minimum: 1))
        s.add(
            .delivered, to: [(a, "CS_CONNECT")],
            csta: [
                ("connection", CallScript.connection(callID, farEnd)), ("alertingDevice", CallScript.party(c.caller)),
                ("callingDevice", .string(a)), ("calledDevice", .string(dialled)), ("lastRedirectionDevice", ""),
            ], att: farEndAtt)
        s.wait(c.random.duration(mean: 8, minimum: 1))
        s.add(
            .established, to: [(a, "CS_CONNECT")],
            csta: [
                ("establishedConnection", CallScript.connection(callID, farEnd)),
                ("answeringDevice", CallScript.party(c.caller)),
                ("callingDevice", .string(a)), ("calledDevice", .string(dialled)), ("lastRedirectionDevice", ""),
            ], att: farEndAtt)
        s.wait(c.random.duration(mean: 120, minimum: 10))
        s.connectionCleared(callID, device: farEnd, releasing: CallScript.party(c.caller), views: [(a, "CS_CONNECT")])
        s.callCleared(callID, views: [(a, "CS_NULL")])
        c.states[0].release(callID, at: s.clock)
    }

    /// (h): A transfers the caller to VDN 7002, which queues to skill 3002, where C answers.
    static func transferToVDN(_ s: inout CallScript, _ c: inout ScenarioContext) {
        let (a, third) = (c.agents.a, c.agents.c)
        let call = answeredCall(&s, &c, at: a)
        s.held(call.callID, at: a, consultMode: "ATT_CM_TRANSFER", views: [(call.vdn, "CS_NONE"), (a, "CS_HOLD")])
        var consult = call
        (consult.callID, consult.ucid) = dialConsultation(
            &s, &c, from: a, dialling: "7002", original: call, mode: "ATT_CM_TRANSFER")
        consult.vdn = "7002"
        consult.skill = s.sites[0].vdns["7002"] ?? "3002"
        consult.dnis = "7002"
        consult.ani = a
        s.deliveredToVDN(consult, calling: .string(a), views: [("7002", "CS_NONE"), (a, "CS_CONNECT")])
        s.queued(consult, views: [("7002", "CS_NONE"), (a, "CS_CONNECT")])
        s.wait(c.random.duration(mean: 2, minimum: 1))
        s.merged(
            .transferred, primary: CallScript.connection(call.callID, a),
            secondary: CallScript.connection(consult.callID, a),
            controller: a, added: consult.skill,
            connections: [
                (CallScript.connection(consult.callID, CallScript.trunk(consult.callID)), CallScript.party(call.ani)),
                (CallScript.connection(consult.callID, consult.skill), .string(consult.skill)),
            ],
            att: s.mergePrivateData(
                call, reason: "OR_TRANSFERRED", controller: a,
                trunks: [(consult.callID, CallScript.trunk(consult.callID), call.trunk)]),
            views: [(call.vdn, "CS_NONE"), ("7002", "CS_NONE"), (a, "CS_NULL")])
        mergedAwayClears(&s, &c, call.callID, vdn: call.vdn)
        var merged = call
        merged.callID = consult.callID
        let att = s.stationPrivateData(merged, original: "OR_TRANSFERRED", split: consult.skill, vdn: "7002")
        s.wait(c.random.duration(mean: 20, minimum: 1))
        s.delivered(
            merged, at: third, redirectedBy: "7002", att: att,
            views: [(call.vdn, "CS_NONE"), ("7002", "CS_NONE"), (third, "CS_ALERTING")])
        s.wait(c.random.duration(mean: 5, minimum: 1))
        s.established(
            merged, at: third, redirectedBy: "7002", att: att,
            views: [(call.vdn, "CS_NONE"), ("7002", "CS_NONE"), (third, "CS_CONNECT")])
        s.wait(c.random.duration(mean: 150, minimum: 10))
        callerHangsUp(&s, &c, consult.callID, stations: [third], vdns: [call.vdn, "7002"])
    }

    /// (i): A transfers the caller over the tie trunk to site 2; only the consultation's UCID reaches site 2.
    static func transferToSite(_ s: inout CallScript, _ c: inout ScenarioContext) {
        let a = c.agents.a
        let call = answeredCall(&s, &c, at: a)
        s.held(call.callID, at: a, consultMode: "ATT_CM_TRANSFER", views: [(call.vdn, "CS_NONE"), (a, "CS_HOLD")])
        let (consultID, u2) = dialConsultation(
            &s, &c, from: a, dialling: "87001", original: call, mode: "ATT_CM_TRANSFER")
        let tie = s.sites[0].tieTrunk
        s.networkReached(
            consultID, trunk: CallScript.trunk(consultID, 2), called: "87001", group: tie, views: [(a, "CS_CONNECT")])

        // Site 2 sees a new call from site 1 carrying U2 and the copied UUI; the calling number is agent A's.
        s.site = 1
        let farSite = s.sites[1]
        let remote = CallData(
            callID: c.states[1].allocateCallID(at: s.clock), ucid: u2, ani: a, dnis: "87001", vdn: "87001",
            skill: farSite.vdns["87001"] ?? "83001", trunk: ("40", "1"), uui: call.uui, digits: nil)
        s.deliveredToVDN(remote, calling: .string(a), views: [(remote.vdn, "CS_NONE")])
        s.queued(remote, views: [(remote.vdn, "CS_NONE")])

        s.site = 0
        s.wait(c.random.duration(mean: 2, minimum: 1))
        s.merged(
            .transferred, primary: CallScript.connection(call.callID, a),
            secondary: CallScript.connection(consultID, a),
            controller: a, added: "87001",
            connections: [
                (CallScript.connection(consultID, CallScript.trunk(consultID)), CallScript.party(call.ani)),
                (CallScript.connection(consultID, CallScript.trunk(consultID, 2)), .string("87001")),
            ],
            att: s.mergePrivateData(
                call, reason: "OR_TRANSFERRED", controller: a,
                trunks: [
                    (consultID, CallScript.trunk(consultID), call.trunk),
                    (consultID, CallScript.trunk(consultID, 2), tie),
                ]),
            views: [(call.vdn, "CS_NONE"), (a, "CS_NULL")])
        s.callCleared(call.callID, views: [(call.vdn, "CS_NONE")])
        c.states[0].release(call.callID, at: s.clock)

        s.site = 1
        let farAgent = c.farAgent
        answer(&s, &c, remote, at: farAgent)
        s.wait(c.random.duration(mean: 150, minimum: 10))
        // The caller hangs up: site 1's trunk-to-trunk call ends, then site 2's.
        s.site = 0
        callerHangsUp(&s, &c, consultID, stations: [], vdns: [call.vdn])
        s.site = 1
        s.connectionCleared(
            remote.callID, device: CallScript.trunk(remote.callID), releasing: .string(a),
            views: [(remote.vdn, "CS_NONE"), (farAgent, "CS_CONNECT")])
        s.callCleared(remote.callID, views: [(remote.vdn, "CS_NONE"), (farAgent, "CS_NULL")])
        c.states[1].release(remote.callID, at: s.clock)
        s.site = 0
    }

    /// A holds the caller (no consultation) and comes back.
    static func holdRetrieve(_ s: inout CallScript, _ c: inout ScenarioContext) {
        let a = c.agents.a
        let call = answeredCall(&s, &c, at: a)
        s.held(call.callID, at: a, consultMode: "ATT_CM_NONE", views: [(call.vdn, "CS_NONE"), (a, "CS_HOLD")])
        s.wait(c.random.duration(mean: 30, minimum: 3))
        s.retrieved(call.callID, at: a, views: [(call.vdn, "CS_NONE"), (a, "CS_CONNECT")])
        s.wait(c.random.duration(mean: 90, minimum: 5))
        callerHangsUp(&s, &c, call.callID, stations: [a], vdns: [call.vdn])
    }
}
