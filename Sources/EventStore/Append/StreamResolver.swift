import TSAPI

/// A call on a switch: callIDs are unique per switch, and only among live calls.
package struct CallKey: Hashable, Sendable {
    package var switchName: String
    package var callID: Int64

    package init(switchName: String, callID: Int64) {
        self.switchName = switchName
        self.callID = callID
    }
}

/// What the store knows of a callID: the UCID of the call now (or last) using it.
package struct CallBinding: Hashable, Sendable {
    package var ucid: UCID
    /// False once the call's CallCleared was seen: a later non-clear event with this callID is a new call.
    package var isOpen: Bool
    package var boundAt: Int64
    package var closedAt: Int64?

    package init(ucid: UCID, isOpen: Bool, boundAt: Int64, closedAt: Int64? = nil) {
        self.ucid = ucid
        self.isOpen = isOpen
        self.boundAt = boundAt
        self.closedAt = closedAt
    }
}

/// The record written when a UCID becomes known for events already stored without one (docs/architecture.md).
package struct UCIDLink: Hashable, Sendable {
    package var ucid: UCID
    package var call: CallKey
    /// The earlier events that now belong to the stream, in position order.
    package var positions: [Int64]
}

/// Decides the stream (UCID) of every event of a batch, and the bookkeeping that goes with it.
///
/// Pure: the appender loads the current bindings and pending events of the batch's callIDs, runs this, and
/// writes the result in the same transaction, under the log-head lock, so no other append sees a half state.
///
/// The rules (docs/architecture.md, "How events find their call"):
/// 1. An event that carries a UCID belongs to that stream, and binds its callID to it from then on.
/// 2. An event without one takes the UCID bound to its `(switch, callID)` while that call is live.
/// 3. CallCleared closes the binding; monitor copies of that CallCleared still resolve through it, but any
///    other event with that callID afterwards belongs to a new call (CM reuses callIDs).
/// 4. An event whose UCID is not known yet is stored at once without a stream, and kept as pending for its
///    callID; when a UCID-bearing event binds that callID, a link record lists the pending positions.
/// 5. Transferred/Conferenced bind the surviving callID (from the connection list) to the merged call's UCID
///    (the ATT `ucid`, or else the UCID of the held original call); the old callIDs that did not survive are
///    bound to it too and closed, so only their CallCleared still resolves through them.
/// 6. A CallCleared that cannot be resolved ends the unresolved call: its pending events stay stored, unlinked,
///    rather than being attached to whichever call reuses the callID next.
package struct StreamResolver: Sendable {
    package private(set) var bindings: [CallKey: CallBinding]
    package private(set) var pending: [CallKey: [Int64]]
    /// Every key whose binding or pending list this batch changed, so the caller writes only those.
    package private(set) var touched: Set<CallKey> = []

    package init(bindings: [CallKey: CallBinding], pending: [CallKey: [Int64]]) {
        self.bindings = bindings
        self.pending = pending
    }

    /// One row to store: the incoming event at `index`, or a link record, with its position and stream.
    package struct Row: Hashable, Sendable {
        package enum Kind: Hashable, Sendable {
            case event(index: Int)
            case link(UCIDLink)
        }

        package var kind: Kind
        package var position: Int64
        package var ucid: UCID?
    }

    /// Resolves `events` (already free of duplicates) to rows with positions from `firstPosition` on.
    package mutating func resolve(_ events: [IncomingEvent], firstPosition: Int64) -> [Row] {
        var rows: [Row] = []
        rows.reserveCapacity(events.count)
        var position = firstPosition
        for (index, event) in events.enumerated() {
            let (ucid, newlyBound) = resolve(event, at: position)
            rows.append(Row(kind: .event(index: index), position: position, ucid: ucid))
            position += 1
            for key in newlyBound {
                guard let ucid, let positions = pending.removeValue(forKey: key), !positions.isEmpty else { continue }
                let link = UCIDLink(ucid: ucid, call: key, positions: positions)
                rows.append(Row(kind: .link(link), position: position, ucid: ucid))
                position += 1
            }
        }
        return rows
    }

    /// The UCID of one event, and the keys it newly bound (whose pending events must be linked).
    private mutating func resolve(_ event: IncomingEvent, at position: Int64) -> (UCID?, [CallKey]) {
        let key = event.callID.map { CallKey(switchName: event.switchName, callID: $0) }
        switch event.eventType {
        case .transferred, .conferenced:
            let oldKeys = event.oldCallIDs.map { CallKey(switchName: event.switchName, callID: $0) }
            let resultingKey = event.resultingCallID.map { CallKey(switchName: event.switchName, callID: $0) }
            let bindings = self.bindings
            func liveUCID(_ key: CallKey?) -> UCID? {
                key.flatMap { bindings[$0] }.flatMap { $0.isOpen ? $0.ucid : nil }
            }
            let ucid = event.ucid ?? oldKeys.compactMap(liveUCID).first ?? liveUCID(resultingKey)
            guard let ucid else {
                // Wait under the surviving callID: that call goes on, and its UCID will show.
                if let waiting = resultingKey ?? key { addPending(waiting, position) }
                return (nil, [])
            }
            var newlyBound: [CallKey] = []
            for candidate in ([resultingKey] + oldKeys.map { Optional($0) }).compactMap({ $0 })
            where !newlyBound.contains(candidate) {
                if bind(candidate, to: ucid, at: position) { newlyBound.append(candidate) }
            }
            // The old calls that did not survive the merge end here; a CallCleared for them
            // may still follow and resolves through the closed binding.
            for old in oldKeys where old != resultingKey { close(old, at: position) }
            return (ucid, newlyBound)

        case .callCleared:
            guard let key else { return (event.ucid, []) }
            if let ucid = event.ucid {
                let newlyBound = bind(key, to: ucid, at: position) ? [key] : []
                close(key, at: position)
                return (ucid, newlyBound)
            }
            let hasNewUnresolvedCall = !(pending[key]?.isEmpty ?? true)
            if let binding = bindings[key], binding.isOpen || !hasNewUnresolvedCall {
                // Open: the call ends here. Closed: a monitor copy of the same CallCleared.
                close(key, at: position)
                return (binding.ucid, [])
            }
            // The call never revealed its UCID: its pending events stay unlinked (rule 6).
            if pending.removeValue(forKey: key) != nil { touched.insert(key) }
            return (nil, [])

        default:
            guard let key else { return (event.ucid, []) }
            if let ucid = event.ucid {
                return (ucid, bind(key, to: ucid, at: position) ? [key] : [])
            }
            if let binding = bindings[key], binding.isOpen {
                return (binding.ucid, [])
            }
            addPending(key, position)
            return (nil, [])
        }
    }

    /// Binds `key` to `ucid`; true when this opens a binding (none, closed, or another UCID before).
    private mutating func bind(_ key: CallKey, to ucid: UCID, at position: Int64) -> Bool {
        if let binding = bindings[key], binding.isOpen, binding.ucid == ucid { return false }
        bindings[key] = CallBinding(ucid: ucid, isOpen: true, boundAt: position)
        touched.insert(key)
        return true
    }

    private mutating func close(_ key: CallKey, at position: Int64) {
        guard var binding = bindings[key], binding.isOpen else { return }
        binding.isOpen = false
        binding.closedAt = position
        bindings[key] = binding
        touched.insert(key)
    }

    private mutating func addPending(_ key: CallKey, _ position: Int64) {
        pending[key, default: []].append(position)
        touched.insert(key)
    }
}
