import Foundation
import TSAPI

/// A call's identity on one switch while it lives: Communication Manager reuses callIDs once a call clears,
/// so a callID names a call only together with its switch and only until CallCleared.
package struct CallKey: Hashable, Sendable, Codable, CustomStringConvertible {
    package var switchID: String
    package var callID: Int64

    package init(switchID: String, callID: Int64) {
        self.switchID = switchID
        self.callID = callID
    }

    package var description: String { "\(switchID)/\(callID)" }
}

/// One stored TSAPI event as the reducers read it: the decoded event, its global position, and the call and
/// device it is about, picked once from the connection field its type names.
package struct CallEvent: Sendable {
    package let position: Int64
    package let event: TSAPIEvent
    /// The connection the event is about (for Transferred/Conferenced: the surviving call's first party),
    /// picked once: the reducer asks for it several times per event.
    package let connection: ConnectionID?

    package init(position: Int64, event: TSAPIEvent) {
        self.position = position
        self.event = event
        self.connection = Self.connection(of: event.csta)
    }

    package var time: Date { event.time }
    package var switchID: String { event.switchID }
    package var ucid: UCID? { event.att?.ucidValue }

    private static func connection(of csta: CSTAEvent) -> ConnectionID? {
        switch csta {
        case .delivered(let e): e.connection
        case .established(let e): e.establishedConnection
        case .connectionCleared(let e): e.droppedConnection
        case .callCleared(let e): e.clearedCall
        case .held(let e): e.heldConnection
        case .retrieved(let e): e.retrievedConnection
        case .transferred(let e), .conferenced(let e):
            e.connections.first?.party ?? e.secondaryOldCall ?? e.primaryOldCall
        case .diverted(let e): e.connection
        case .failed(let e): e.failedConnection
        case .queued(let e): e.queuedConnection
        case .originated(let e): e.originatedConnection
        case .networkReached(let e): e.connection
        case .serviceInitiated(let e): e.initiatedConnection
        case .other: nil
        }
    }

    /// The call the event belongs to, on its switch; nil for events about no call (link and monitor events).
    package var callKey: CallKey? {
        guard let callID = connection?.callID, callID != 0 else { return nil }
        return CallKey(switchID: switchID, callID: callID)
    }

    /// Monitor copies of one switch event share link, time, type and connection: this key
    /// is what makes them one journey step, not several. A 53-bit FNV-1a hash of those fields: stable across
    /// processes (it is stored with the journey) and exact as a JSON number.
    var switchEventKey: UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ bytes: some Sequence<UInt8>) {
            for byte in bytes {
                hash ^= UInt64(byte)
                hash = hash &* 0x0000_0100_0000_01b3
            }
            hash ^= 0xff
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let connection = connection
        mix(event.source.utf8)
        withUnsafeBytes(of: Int64((event.time.timeIntervalSince1970 * 1_000_000).rounded()).littleEndian) { mix($0) }
        mix(event.type.utf8)
        withUnsafeBytes(of: (connection?.callID ?? 0).littleEndian) { mix($0) }
        mix((connection?.deviceID ?? "").utf8)
        return hash & (1 << 53 - 1)
    }
}

extension DeviceID {
    /// The device number, or nil when the switch did not know it.
    var known: String? { isKnown ? deviceID : nil }
}
