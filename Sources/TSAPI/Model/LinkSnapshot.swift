import Foundation

/// What a `LINK_SNAPSHOT` event says: after a gap in a link's events (`gap.from` to `gap.to`, when nothing AES
/// reported reached CallTrail), the calls one monitored device has now and its state in each.
///
/// The projections read it to close what the gap hid: a call the device no longer has ended during the gap, and a
/// call it has that CallTrail never heard of started during it.
package struct LinkSnapshot: Sendable, Hashable {
    package enum Kind: String, Sendable, Hashable {
        case station, vdn
    }

    /// A call at the device, with the device's TSAPI connection state in it (`CS_CONNECT`, `CS_HOLD`, ...).
    package struct Call: Sendable, Hashable {
        package var callID: Int64
        package var state: String

        package init(callID: Int64, state: String) {
            self.callID = callID
            self.state = state
        }
    }

    package var device: String
    package var kind: Kind
    package var calls: [Call]
    package var gap: LinkGap

    package init(device: String, kind: Kind, calls: [Call], gap: LinkGap) {
        self.device = device
        self.kind = kind
        self.calls = calls
        self.gap = gap
    }
}

/// A stretch of time in which a link heard nothing from AES: whatever happened then is known only from the
/// snapshots taken after it.
package struct LinkGap: Sendable, Hashable, Codable {
    package var from: Date
    package var to: Date

    package init(from: Date, to: Date) {
        self.from = from
        self.to = to
    }

    /// The stretch that covers both: two gaps in one call's life are reported as one, from the first's start to the
    /// last's end.
    package func union(_ other: LinkGap?) -> LinkGap {
        guard let other else { return self }
        return LinkGap(from: min(from, other.from), to: max(to, other.to))
    }
}

extension LinkSnapshot {
    /// Reads the snapshot members of a `LINK_SNAPSHOT` envelope; nil when one is missing or malformed (the event is
    /// then stored and ignored, like any event the projections cannot interpret).
    init?(envelope tree: JSONTree) {
        guard let device = tree["device"]?.string, !device.isEmpty,
            let kind = tree["kind"]?.string.flatMap(Kind.init(rawValue:)),
            case .array(let items)? = tree["calls"],
            let gapTree = tree["link"]?["gap"],
            let from = gapTree["from"]?.string.flatMap({ Timestamp.parse($0) }),
            let to = gapTree["to"]?.string.flatMap({ Timestamp.parse($0) })
        else { return nil }
        var calls: [Call] = []
        for item in items {
            guard let callID = item["callID"]?.lenientInteger, let state = item["state"]?.string else { return nil }
            calls.append(Call(callID: callID, state: state))
        }
        self.init(device: device, kind: kind, calls: calls, gap: LinkGap(from: from, to: to))
    }
}
