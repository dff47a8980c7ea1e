import Foundation
import TSAPI

/// The journey's stored state as JSON, written by hand in the shape `JSONEncoder` gives its `Codable`
/// conformance (so `JSONDecoder` reads it back), several times faster: a rebuild writes every journey, and
/// `JSONEncoder` was a third of its time. Keys come in a fixed order, so a journey is always the same text.
/// `JourneyStateJSONTests` checks that decoding the text gives the journey back.
extension Journey {
    /// The version of this JSON's shape. Change it with any change to the stored fields: the projector then
    /// rebuilds the tables, since rows of another shape cannot be read back.
    public static let stateVersion = 3

    public var stateJSON: String {
        var out = JSONOutput()
        out.object { o in
            o.field("id", id)
            o.array("legs", legs) { out, leg in leg.write(to: &out) }
            o.array("calls", calls) { out, binding in
                out.object { o in
                    o.object("key") { k in
                        k.field("switchID", binding.key.switchID)
                        k.field("callID", binding.key.callID)
                    }
                    o.field("leg", binding.leg)
                    o.field("state", binding.state.rawValue)
                }
            }
            o.field("homeSwitch", homeSwitch)
            o.field("direction", direction.rawValue)
            o.field("originalAni", originalAni)
            o.field("originalDnis", originalDnis)
            o.field("vdn", vdn)
            o.field("split", split)
            o.field("trunkGroup", trunkGroup)
            o.field("trunkMember", trunkMember)
            o.field("uui", uui)
            o.field("userEnteredCode", userEnteredCode)
            o.array("offers", offers) { out, offer in
                out.object { o in
                    o.field("device", offer.device)
                    o.field("switchID", offer.switchID)
                    o.field("ucid", offer.ucid?.rawValue)
                    o.field("callID", offer.callID)
                    o.field("time", offer.time)
                    o.field("position", offer.position)
                    o.field("originalAni", offer.originalAni)
                    o.field("originalDnis", offer.originalDnis)
                    o.field("vdn", offer.vdn)
                    o.field("split", offer.split)
                    o.field("uui", offer.uui)
                    o.field("userEnteredCode", offer.userEnteredCode)
                }
            }
            o.array("agents", agents) { out, agent in out.string(agent) }
            o.array("devices", devices) { out, device in out.string(device) }
            o.array("segments", segments) { out, segment in
                out.object { o in
                    o.field("kind", segment.kind.rawValue)
                    o.field("device", segment.device)
                    o.field("ucid", segment.ucid?.rawValue)
                    o.field("start", segment.start)
                    o.field("end", segment.end)
                }
            }
            o.field("startedAt", startedAt)
            o.field("answeredAt", answeredAt)
            o.field("endedAt", endedAt)
            o.field("lastEventAt", lastEventAt)
            o.field("lastPosition", lastPosition)
            o.field("eventCount", eventCount)
            o.field("transferred", transferred)
            o.field("conferenced", conferenced)
            o.field("redirected", redirected)
            o.field("failed", failed)
            o.field("answeredByParty", answeredByParty)
            o.field("timedOut", timedOut)
            o.object("timers") { t in
                t.field("queuedSince", timers.queuedSince)
                t.object("ringingSince") { r in
                    for (device, since) in timers.ringingSince.sorted(by: { $0.key < $1.key }) {
                        r.field(device, since)
                    }
                }
                t.field("holdSince", timers.holdSince)
            }
            o.object("durations") { d in
                d.field("queue", durations.queue)
                d.field("ring", durations.ring)
                d.field("hold", durations.hold)
                d.field("talk", durations.talk)
                d.field("total", durations.total)
            }
            o.array("recentEventKeys", recentEventKeys) { out, key in out.raw(String(key)) }
            o.array("userDataKeys", userDataKeys) { out, carried in
                out.object { o in
                    o.field("key", carried.key.rawValue)
                    o.field("ucid", carried.ucid?.rawValue)
                    o.field("time", carried.time)
                }
            }
            o.field("abandonedIn", abandonedIn)
        }
        return out.text
    }
}

extension CallLeg {
    fileprivate func write(to out: inout JSONOutput) {
        out.object { o in
            o.field("ucid", ucid?.rawValue)
            o.field("switchID", switchID)
            o.field("role", role.rawValue)
            o.field("state", state.rawValue)
            o.field("consultOf", consultOf?.rawValue)
            o.field("mergedInto", mergedInto?.rawValue)
            o.field("ani", ani)
            o.field("dnis", dnis)
            o.field("trunkGroup", trunkGroup)
            o.field("trunkMember", trunkMember)
            o.field("uui", uui)
            o.field("userEnteredCode", userEnteredCode)
            o.array("parties", parties) { out, party in
                out.object { o in
                    o.field("device", party.device)
                    o.field("state", party.state.rawValue)
                    o.field("callID", party.callID)
                    o.field("since", party.since)
                }
            }
            o.array("agents", agents) { out, agent in out.string(agent) }
            o.field("startedAt", startedAt)
            o.field("answeredAt", answeredAt)
            o.field("endedAt", endedAt)
            o.field("updatedAt", updatedAt)
            o.field("lastPosition", lastPosition)
        }
    }
}

/// A JSON text being written: objects and arrays by closure, members skipped when nil (as `encodeIfPresent`
/// does), dates as `JSONEncoder`'s default, seconds since 2001.
struct JSONOutput {
    private(set) var text = ""
    private var needsComma = false

    init() { text.reserveCapacity(4096) }

    mutating func raw(_ value: String) {
        if needsComma { text.append(",") }
        text.append(value)
        needsComma = true
    }

    mutating func string(_ value: String) {
        raw(JSONText.quote(value))
    }

    mutating func object(_ body: (inout JSONOutput) -> Void) {
        if needsComma { text.append(",") }
        text.append("{")
        needsComma = false
        body(&self)
        text.append("}")
        needsComma = true
    }

    mutating func array<Element>(_ elements: [Element], _ body: (inout JSONOutput, Element) -> Void) {
        if needsComma { text.append(",") }
        text.append("[")
        needsComma = false
        for element in elements { body(&self, element) }
        text.append("]")
        needsComma = true
    }

    private mutating func key(_ name: String) {
        if needsComma { text.append(",") }
        text.append(JSONText.quote(name))
        text.append(":")
        needsComma = false
    }

    mutating func object(_ name: String, _ body: (inout JSONOutput) -> Void) {
        key(name)
        object(body)
    }

    mutating func array<Element>(_ name: String, _ elements: [Element], _ body: (inout JSONOutput, Element) -> Void) {
        key(name)
        array(elements, body)
    }

    mutating func field(_ name: String, _ value: String?) {
        guard let value else { return }
        key(name)
        string(value)
    }

    mutating func field(_ name: String, _ value: some BinaryInteger) {
        key(name)
        raw(String(value))
    }

    mutating func field(_ name: String, _ value: Bool) {
        key(name)
        raw(value ? "true" : "false")
    }

    mutating func field(_ name: String, _ value: Double) {
        key(name)
        raw(value.description)
    }

    mutating func field(_ name: String, _ value: Date?) {
        guard let value else { return }
        field(name, value.timeIntervalSinceReferenceDate)
    }
}
