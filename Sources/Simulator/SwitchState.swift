import Foundation
import TSAPI

/// What a Communication Manager numbers: callIDs, unique only among live calls and reused once a call clears,
/// and UCIDs from its node's per-node sequence and the origination time.
package struct SwitchState: Sendable {
    package let node: Int
    /// For each callID ever used: when it is free again (nil while its call is being scripted).
    private var busyUntil: [Int64: Date?] = [:]
    private var ucidSequence = 0
    package static let firstCallID: Int64 = 1001

    package init(node: Int) { self.node = node }

    /// The lowest callID free at `time`; it stays taken until `release(_:at:)`.
    package mutating func allocateCallID(at time: Date) -> Int64 {
        var candidate = Self.firstCallID
        while let until = busyUntil[candidate] {
            if let until, until <= time { break }
            candidate += 1
        }
        busyUntil[candidate] = .some(nil)
        return candidate
    }

    /// The call that held `callID` cleared at `time`: CM may give the number to a later call.
    package mutating func release(_ callID: Int64, at time: Date) {
        busyUntil[callID] = .some(time)
    }

    /// A new UCID created at `time`.
    package mutating func newUCID(at time: Date) -> UCID {
        ucidSequence = ucidSequence % 65_535 + 1
        return UCID(node: node, sequence: ucidSequence, time: Int64(time.timeIntervalSince1970))
    }
}
