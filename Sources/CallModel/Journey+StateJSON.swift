import Foundation
import TSAPI

/// The journey's stored state as JSON, written with `JSONWriter` and read back from a `JSONTree`, both here, field
/// beside field: a rebuild writes every journey and a projector's start reads the open ones, and through
/// `JSONEncoder`/`JSONDecoder` that was a third of a rebuild's time. Keys come in a fixed order, so a journey is
/// always the same text. `JourneyStateJSONTests` checks that reading the text gives the journey back.
///
/// The shape is the one `Codable` would give (nil members left out, dates as seconds since 2001), so rows written
/// by earlier versions read back unchanged.
extension Journey {
    /// The version of this JSON's shape. Change it with any change to the stored fields: the projector then
    /// rebuilds the tables, since rows of another shape cannot be read back.
    package static let stateVersion = 3

    package var stateJSON: String {
        var out = JSONWriter(capacity: 4096)
        out.object { o in
            o.field("id", id)
            o.add("legs", array: legs) { out, leg in leg.write(to: &out) }
            o.add("calls", array: calls) { out, binding in
                out.object { o in
                    o.add("key") { k in
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
            o.add("offers", array: offers) { out, offer in
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
            o.add("agents", array: agents) { out, agent in out.string(agent) }
            o.add("devices", array: devices) { out, device in out.string(device) }
            o.add("segments", array: segments) { out, segment in
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
            if endedInGap { o.field("endedInGap", endedInGap) }
            if let gap { o.add("gap") { g in gap.write(to: &g) } }
            o.add("timers") { t in
                t.field("queuedSince", timers.queuedSince)
                t.add("ringingSince") { r in
                    for (device, since) in timers.ringingSince.sorted(by: { $0.key < $1.key }) {
                        r.field(device, since)
                    }
                }
                t.field("holdSince", timers.holdSince)
            }
            o.add("durations") { d in
                d.field("queue", durations.queue)
                d.field("ring", durations.ring)
                d.field("hold", durations.hold)
                d.field("talk", durations.talk)
                d.field("total", durations.total)
            }
            o.add("recentEventKeys", array: recentEventKeys) { out, key in out.number(key) }
            o.add("userDataKeys", array: userDataKeys) { out, carried in
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

extension LinkGap {
    fileprivate func write(to g: inout JSONWriter) {
        g.field("from", from)
        g.field("to", to)
    }
}

extension CallLeg {
    fileprivate func write(to out: inout JSONWriter) {
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
            o.add("parties", array: parties) { out, party in
                out.object { o in
                    o.field("device", party.device)
                    o.field("state", party.state.rawValue)
                    o.field("callID", party.callID)
                    o.field("since", party.since)
                }
            }
            o.add("agents", array: agents) { out, agent in out.string(agent) }
            o.field("startedAt", startedAt)
            o.field("answeredAt", answeredAt)
            o.field("endedAt", endedAt)
            o.field("endedBy", endedBy?.rawValue)
            if let gap { o.add("gap") { g in gap.write(to: &g) } }
            o.field("updatedAt", updatedAt)
            o.field("lastPosition", lastPosition)
        }
    }
}

extension JSONWriter {
    /// The stored state's members: nil left out, dates as seconds since 2001.
    fileprivate mutating func field(_ name: String, _ value: String?) { addIfPresent(name, value) }
    fileprivate mutating func field(_ name: String, _ value: some BinaryInteger) { add(name, number: value) }
    fileprivate mutating func field(_ name: String, _ value: Bool) { add(name, bool: value) }
    fileprivate mutating func field(_ name: String, _ value: Double) { add(name, number: value) }
    fileprivate mutating func field(_ name: String, _ value: Date?) {
        if let value { add(name, number: value.timeIntervalSinceReferenceDate) }
    }
}

// MARK: - Reading

extension Journey {
    /// Reads `stateJSON` back.
    package init(stateJSON text: String) throws(CallModelError) {
        let tree: JSONTree
        do { tree = try JSONTree(parsing: text) } catch {
            throw CallModelError(.storedState, "stored state is not JSON: \(error)")
        }
        let j = StateReader(tree: tree, path: "journey")
        self.init(
            id: try j.string("id"), legs: try j.list("legs", CallLeg.init(state:)),
            calls: try j.list("calls") { c throws(CallModelError) in
                let key = try c.object("key")
                return CallBinding(
                    key: CallKey(switchID: try key.string("switchID"), callID: try key.int("callID")),
                    leg: Int(try c.int("leg")), state: try c.value("state"))
            },
            homeSwitch: try j.string("homeSwitch"), direction: try j.value("direction"),
            offers: try j.list("offers") { o throws(CallModelError) in
                Offer(
                    device: try o.string("device"), switchID: try o.string("switchID"), ucid: o.ucid("ucid"),
                    callID: try o.int("callID"), time: try o.date("time"), position: try o.int("position"),
                    originalAni: o.optional("originalAni"), originalDnis: o.optional("originalDnis"),
                    vdn: o.optional("vdn"), split: o.optional("split"), uui: o.optional("uui"),
                    userEnteredCode: o.optional("userEnteredCode"))
            },
            agents: try j.strings("agents"), devices: try j.strings("devices"),
            segments: try j.list("segments") { s throws(CallModelError) in
                Segment(
                    kind: try s.value("kind"), device: s.optional("device"), ucid: s.ucid("ucid"),
                    start: try s.date("start"), end: s.optionalDate("end"))
            },
            startedAt: try j.date("startedAt"), lastEventAt: try j.date("lastEventAt"),
            lastPosition: try j.int("lastPosition"), eventCount: Int(try j.int("eventCount")))
        originalAni = j.optional("originalAni")
        originalDnis = j.optional("originalDnis")
        vdn = j.optional("vdn")
        split = j.optional("split")
        trunkGroup = j.optional("trunkGroup")
        trunkMember = j.optional("trunkMember")
        uui = j.optional("uui")
        userEnteredCode = j.optional("userEnteredCode")
        answeredAt = j.optionalDate("answeredAt")
        endedAt = j.optionalDate("endedAt")
        transferred = j.bool("transferred")
        conferenced = j.bool("conferenced")
        redirected = j.bool("redirected")
        failed = j.bool("failed")
        answeredByParty = j.bool("answeredByParty")
        timedOut = j.bool("timedOut")
        endedInGap = j.bool("endedInGap")
        gap = j.gap("gap")
        let t = try j.object("timers")
        timers.queuedSince = t.optionalDate("queuedSince")
        timers.holdSince = t.optionalDate("holdSince")
        if case .object(let ringing) = t.tree["ringingSince"] {
            for member in ringing {
                timers.ringingSince[member.key] = try t.object("ringingSince").date(member.key)
            }
        }
        let d = try j.object("durations")
        durations = Durations(
            queue: try d.double("queue"), ring: try d.double("ring"), hold: try d.double("hold"),
            talk: try d.double("talk"), total: try d.double("total"))
        recentEventKeys = try j.list("recentEventKeys") { k throws(CallModelError) in
            guard case .number(let text) = k.tree, let key = UInt64(text) else {
                throw CallModelError(.storedState, "\(k.path) is not an event key")
            }
            return key
        }
        userDataKeys = try j.list("userDataKeys") { k throws(CallModelError) in
            let text = try k.string("key")
            guard let key = try? UserDataKey(validating: text) else {
                throw CallModelError(.storedState, "\(k.path).key \"\(text)\" is not a user-data key")
            }
            return CarriedKey(key: key, ucid: k.ucid("ucid"), time: try k.date("time"))
        }
        abandonedIn = j.optional("abandonedIn")
    }
}

extension CallLeg {
    fileprivate init(state l: StateReader) throws(CallModelError) {
        ucid = l.ucid("ucid")
        switchID = try l.string("switchID")
        role = try l.value("role")
        state = try l.value("state")
        consultOf = l.ucid("consultOf")
        mergedInto = l.ucid("mergedInto")
        ani = l.optional("ani")
        dnis = l.optional("dnis")
        trunkGroup = l.optional("trunkGroup")
        trunkMember = l.optional("trunkMember")
        uui = l.optional("uui")
        userEnteredCode = l.optional("userEnteredCode")
        parties = try l.list("parties") { p throws(CallModelError) in
            Party(
                device: try p.string("device"), state: try p.value("state"), callID: try p.int("callID"),
                since: try p.date("since"))
        }
        agents = try l.strings("agents")
        startedAt = try l.date("startedAt")
        answeredAt = l.optionalDate("answeredAt")
        endedAt = l.optionalDate("endedAt")
        endedBy = l.optional("endedBy").flatMap(EndedBy.init(rawValue:))
        gap = l.gap("gap")
        updatedAt = try l.date("updatedAt")
        lastPosition = try l.int("lastPosition")
    }
}

/// One object of the stored state, read member by member; an error names the member's path.
private struct StateReader {
    let tree: JSONTree
    let path: String

    private func missing(_ name: String, _ what: String) -> CallModelError {
        CallModelError(.storedState, "\(path).\(name) is missing or not \(what)")
    }

    func string(_ name: String) throws(CallModelError) -> String {
        guard let value = tree[name]?.string else { throw missing(name, "a string") }
        return value
    }

    func optional(_ name: String) -> String? { tree[name]?.string }

    func ucid(_ name: String) -> UCID? { tree[name]?.string.flatMap { UCID($0) } }

    func int(_ name: String) throws(CallModelError) -> Int64 {
        guard let value = tree[name]?.integer else { throw missing(name, "an integer") }
        return value
    }

    func double(_ name: String) throws(CallModelError) -> Double {
        guard case .number(let text) = tree[name], let value = Double(text) else { throw missing(name, "a number") }
        return value
    }

    func date(_ name: String) throws(CallModelError) -> Date {
        Date(timeIntervalSinceReferenceDate: try double(name))
    }

    func optionalDate(_ name: String) -> Date? {
        guard case .number(let text) = tree[name], let value = Double(text) else { return nil }
        return Date(timeIntervalSinceReferenceDate: value)
    }

    func gap(_ name: String) -> LinkGap? {
        guard let value = tree[name], value.isObject else { return nil }
        let g = StateReader(tree: value, path: "\(path).\(name)")
        guard let from = g.optionalDate("from"), let to = g.optionalDate("to") else { return nil }
        return LinkGap(from: from, to: to)
    }

    func bool(_ name: String) -> Bool {
        if case .bool(let value) = tree[name] { value } else { false }
    }

    func value<Value: RawRepresentable>(_ name: String) throws(CallModelError) -> Value
    where Value.RawValue == String {
        let text = try string(name)
        guard let value = Value(rawValue: text) else {
            throw CallModelError(.storedState, "\(path).\(name) \"\(text)\" is unknown")
        }
        return value
    }

    func object(_ name: String) throws(CallModelError) -> StateReader {
        guard let value = tree[name], value.isObject else { throw missing(name, "an object") }
        return StateReader(tree: value, path: "\(path).\(name)")
    }

    func list<Element>(
        _ name: String, _ element: (StateReader) throws(CallModelError) -> Element
    ) throws(CallModelError) -> [Element] {
        guard case .array(let items) = tree[name] else { throw missing(name, "an array") }
        var result: [Element] = []
        result.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            result.append(try element(StateReader(tree: item, path: "\(path).\(name)[\(index)]")))
        }
        return result
    }

    func strings(_ name: String) throws(CallModelError) -> [String] {
        try list(name) { s throws(CallModelError) in
            guard let text = s.tree.string else { throw CallModelError(.storedState, "\(s.path) is not a string") }
            return text
        }
    }
}
