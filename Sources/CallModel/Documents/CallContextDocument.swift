import Foundation
import TSAPI

/// The call context of one UCID as `GET /v1/calls/{ucid}` returns it (docs/api.md): the call itself, and
/// the customer data of its journey, so a consulted or transferred-to agent's CRM pops the customer.
package struct CallContextDocument: Encodable, Sendable {
    package var ucid: UCID
    package var journey: Journey
    /// The journey's user data, when the caller looked it up (the API always does).
    package var userData: JourneyUserData?

    /// The context of `ucid` within `journey`; nil when the journey has no leg with that UCID.
    package init?(ucid: UCID, in journey: Journey) {
        guard journey.legs.contains(where: { $0.ucid == ucid }) else { return nil }
        self.ucid = ucid
        self.journey = journey
    }

    /// One context per UCID of the journey.
    package static func all(in journey: Journey) -> [CallContextDocument] {
        journey.ucids.compactMap { CallContextDocument(ucid: $0, in: journey) }
    }

    private var legs: [CallLeg] { journey.legs.filter { $0.ucid == ucid } }

    /// The devices on the call now, and what they are doing (for `GET /v1/calls?device=`).
    package var parties: [(switchID: String, party: Party)] {
        legs.filter { !$0.isEnded }.flatMap { leg in leg.parties.map { (leg.switchID, $0) } }
    }

    package var isActive: Bool { legs.contains { !$0.isEnded } }

    private enum Keys: String, CodingKey {
        case ucid, journeyId, state, role, `switch`, ani, dnis, originalAni, originalDnis, vdn, split, trunkGroup
        case trunkMember, uui, userEnteredCode, userData, userDataKeys, parties, agents, consultOf, mergedInto,
            linkedUcids, outcome
        case startedAt, answeredAt, endedAt, endedBy, gap, updatedAt
    }

    package func encode(to encoder: any Encoder) throws {
        let legs = self.legs
        let first = legs[0]
        let live = legs.first { !$0.isEnded } ?? legs.last!
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(ucid, forKey: .ucid)
        try c.encode(journey.id, forKey: .journeyId)
        try c.encode(live.state, forKey: .state)
        try c.encode(first.role, forKey: .role)
        try c.encode(live.switchID, forKey: .switch)
        try c.encode(live.ani, forKey: .ani)
        try c.encode(live.dnis, forKey: .dnis)
        try c.encode(userData?.originalAni ?? journey.originalAni, forKey: .originalAni)
        try c.encode(userData?.originalDnis ?? journey.originalDnis, forKey: .originalDnis)
        try c.encode(journey.vdn, forKey: .vdn)
        try c.encode(journey.split, forKey: .split)
        try c.encode(journey.trunkGroup ?? first.trunkGroup, forKey: .trunkGroup)
        try c.encode(journey.trunkMember ?? first.trunkMember, forKey: .trunkMember)
        try c.encode(journey.uui ?? first.uui, forKey: .uui)
        try c.encode(journey.userEnteredCode ?? first.userEnteredCode, forKey: .userEnteredCode)
        try c.encode(userData?.merged, forKey: .userData)
        try c.encode(userData?.entries ?? [], forKey: .userDataKeys)
        try c.encode(parties.map { PartyDocument(switchID: $0.switchID, party: $0.party) }, forKey: .parties)
        var agents: [String] = []
        for leg in legs { for agent in leg.agents where !agents.contains(agent) { agents.append(agent) } }
        try c.encode(agents, forKey: .agents)
        try c.encode(first.consultOf, forKey: .consultOf)
        try c.encode(first.mergedInto, forKey: .mergedInto)
        try c.encode(journey.ucids.filter { $0 != ucid }, forKey: .linkedUcids)
        try c.encode(journey.outcome, forKey: .outcome)
        try c.encode(Timestamp.format(legs.map(\.startedAt).min()!), forKey: .startedAt)
        try c.encode(legs.compactMap(\.answeredAt).min().map { Timestamp.format($0) }, forKey: .answeredAt)
        try c.encode(isActive ? nil : legs.compactMap(\.endedAt).max().map { Timestamp.format($0) }, forKey: .endedAt)
        let lastEnded = legs.filter(\.isEnded).max { ($0.endedAt ?? .distantPast) < ($1.endedAt ?? .distantPast) }
        try c.encode(isActive ? nil : lastEnded?.endReason, forKey: .endedBy)
        let gaps = legs.compactMap(\.gap)
        try c.encode(
            gaps.dropFirst().reduce(gaps.first) { $1.union($0) }.map(JourneyDocument.GapDocument.init), forKey: .gap)
        try c.encode(Timestamp.format(legs.map(\.updatedAt).max()!), forKey: .updatedAt)
    }

    struct PartyDocument: Encodable {
        var switchID: String
        var party: Party
        enum Keys: String, CodingKey { case device, `switch`, state, callID, since }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(party.device, forKey: .device)
            try c.encode(switchID, forKey: .switch)
            try c.encode(party.state, forKey: .state)
            try c.encode(party.callID, forKey: .callID)
            try c.encode(Timestamp.format(party.since), forKey: .since)
        }
    }
}
