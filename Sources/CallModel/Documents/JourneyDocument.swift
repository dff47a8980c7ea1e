import Foundation
import TSAPI

/// A journey as `GET /v1/journeys/{id}` returns it (docs/api.md): every key present, null when unknown.
package struct JourneyDocument: Encodable, Sendable {
    package var journey: Journey
    /// The journey's user data; a single journey shows it, search pages do not look it up.
    package var userData: JourneyUserData?

    package init(_ journey: Journey, userData: JourneyUserData? = nil) {
        self.journey = journey
        self.userData = userData
    }

    private enum Keys: String, CodingKey {
        case id, ucid, state, endedBy, gap, outcome, abandonedIn, direction, ucids, linkedUcids, farSiteUcids, sites,
            calls
        case originalAni, originalDnis, vdn, split, trunkGroup, trunkMember, uui, userEnteredCode, userData,
            userDataKeys
        case agents, devices, offers, segments, legs, times, durations, eventCount, lastPosition
    }

    package func encode(to encoder: any Encoder) throws {
        let j = journey
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(j.id, forKey: .id)
        try c.encode(j.ucids.first, forKey: .ucid)
        try c.encode(j.isEnded ? "ended" : "active", forKey: .state)
        try c.encode(
            j.isEnded ? (j.timedOut ? "silence" : j.endedInGap ? "link-gap" : "cleared") : nil, forKey: .endedBy)
        try c.encode(j.gap.map(GapDocument.init), forKey: .gap)
        try c.encode(j.outcome, forKey: .outcome)
        try c.encode(j.outcome == .abandoned ? j.abandonedIn : nil, forKey: .abandonedIn)
        try c.encode(j.direction, forKey: .direction)
        try c.encode(j.ucids, forKey: .ucids)
        try c.encode(j.linkedUcids, forKey: .linkedUcids)
        try c.encode(j.farSiteUcids, forKey: .farSiteUcids)
        try c.encode(j.sites, forKey: .sites)
        try c.encode(j.calls.map { CallRef(switchID: $0.key.switchID, callID: $0.key.callID) }, forKey: .calls)
        try c.encode(userData?.originalAni ?? j.originalAni, forKey: .originalAni)
        try c.encode(userData?.originalDnis ?? j.originalDnis, forKey: .originalDnis)
        try c.encode(j.vdn, forKey: .vdn)
        try c.encode(j.split, forKey: .split)
        try c.encode(j.trunkGroup, forKey: .trunkGroup)
        try c.encode(j.trunkMember, forKey: .trunkMember)
        try c.encode(j.uui, forKey: .uui)
        try c.encode(j.userEnteredCode, forKey: .userEnteredCode)
        if let userData {
            try c.encode(userData.merged, forKey: .userData)
            try c.encode(userData.entries, forKey: .userDataKeys)
        }
        try c.encode(j.agents, forKey: .agents)
        try c.encode(j.devices, forKey: .devices)
        try c.encode(j.offers.map(OfferDocument.init), forKey: .offers)
        try c.encode(j.segments.map(SegmentDocument.init), forKey: .segments)
        try c.encode(j.legs.map(LegDocument.init), forKey: .legs)
        try c.encode(
            [
                "offered": Timestamp.format(j.startedAt), "answered": j.answeredAt.map { Timestamp.format($0) },
                "cleared": j.endedAt.map { Timestamp.format($0) }, "lastEvent": Timestamp.format(j.lastEventAt),
            ],
            forKey: .times)
        try c.encode(
            [
                "queue": Self.seconds(j.durations.queue), "ring": Self.seconds(j.durations.ring),
                "talk": Self.seconds(j.durations.talk), "hold": Self.seconds(j.durations.hold),
                "total": Self.seconds(j.durations.total),
            ],
            forKey: .durations)
        try c.encode(j.eventCount, forKey: .eventCount)
        try c.encode(j.lastPosition, forKey: .lastPosition)
    }

    /// Seconds to the millisecond, the resolution of the switch's clock.
    static func seconds(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }

    struct CallRef: Encodable {
        var switchID: String
        var callID: Int64
        enum CodingKeys: String, CodingKey {
            case switchID = "switch"
            case callID
        }
    }

    struct OfferDocument: Encodable {
        var offer: Offer
        init(_ offer: Offer) { self.offer = offer }
        enum Keys: String, CodingKey {
            case device, `switch`, ucid, callID, time, position, originalAni, originalDnis, vdn, split, uui
            case userEnteredCode
        }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(offer.device, forKey: .device)
            try c.encode(offer.switchID, forKey: .switch)
            try c.encode(offer.ucid, forKey: .ucid)
            try c.encode(offer.callID, forKey: .callID)
            try c.encode(Timestamp.format(offer.time), forKey: .time)
            try c.encode(offer.position, forKey: .position)
            try c.encode(offer.originalAni, forKey: .originalAni)
            try c.encode(offer.originalDnis, forKey: .originalDnis)
            try c.encode(offer.vdn, forKey: .vdn)
            try c.encode(offer.split, forKey: .split)
            try c.encode(offer.uui, forKey: .uui)
            try c.encode(offer.userEnteredCode, forKey: .userEnteredCode)
        }
    }

    struct SegmentDocument: Encodable {
        var segment: Segment
        init(_ segment: Segment) { self.segment = segment }
        enum Keys: String, CodingKey { case kind, device, ucid, start, end, seconds }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(segment.kind, forKey: .kind)
            try c.encode(segment.device, forKey: .device)
            try c.encode(segment.ucid, forKey: .ucid)
            try c.encode(Timestamp.format(segment.start), forKey: .start)
            try c.encode(segment.end.map { Timestamp.format($0) }, forKey: .end)
            try c.encode(
                segment.end.map { JourneyDocument.seconds($0.timeIntervalSince(segment.start)) }, forKey: .seconds)
        }
    }

    struct LegDocument: Encodable {
        var leg: CallLeg
        init(_ leg: CallLeg) { self.leg = leg }
        enum Keys: String, CodingKey {
            case ucid, `switch`, role, state, consultOf, mergedInto, agents, startedAt, endedAt, endedBy, gap
        }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(leg.ucid, forKey: .ucid)
            try c.encode(leg.switchID, forKey: .switch)
            try c.encode(leg.role, forKey: .role)
            try c.encode(leg.state, forKey: .state)
            try c.encode(leg.consultOf, forKey: .consultOf)
            try c.encode(leg.mergedInto, forKey: .mergedInto)
            try c.encode(leg.agents, forKey: .agents)
            try c.encode(Timestamp.format(leg.startedAt), forKey: .startedAt)
            try c.encode(leg.endedAt.map { Timestamp.format($0) }, forKey: .endedAt)
            try c.encode(leg.endReason, forKey: .endedBy)
            try c.encode(leg.gap.map(GapDocument.init), forKey: .gap)
        }
    }

    /// A gap in a link's events as the documents show it.
    struct GapDocument: Encodable {
        var gap: LinkGap
        init(_ gap: LinkGap) { self.gap = gap }
        enum Keys: String, CodingKey { case from, to }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(Timestamp.format(gap.from), forKey: .from)
            try c.encode(Timestamp.format(gap.to), forKey: .to)
        }
    }
}
