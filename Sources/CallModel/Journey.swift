import Foundation
import TSAPI

/// One customer contact from its first event to its last, across consultations, transfers, conferences,
/// redirects and sites (the journey rules, docs/architecture.md).
///
/// A journey is also the whole reducer state of its calls: `JourneyTracker` keeps the open ones in memory and
/// stores each one as a row, so that after a restart the tracker is rebuilt from the rows alone.
package struct Journey: Sendable, Equatable {
    /// The first UCID of the contact; before any event has carried a UCID, a provisional `switch/callID@position`.
    package var id: String
    /// The calls of the journey, one per UCID and switch: the original call first, then consultations and
    /// far-site legs in the order they appeared.
    package var legs: [CallLeg]
    /// Every callID that has been part of the journey, and what it means now.
    package var calls: [CallBinding]
    /// The switch the contact arrived on (or was dialled from); hold time is measured there.
    package var homeSwitch: String
    package var direction: Direction

    /// The customer's number and the number they dialled, as the first offer of the original call reported
    /// them, or as `originalCallInfo` restored them.
    package var originalAni: String?
    package var originalDnis: String?
    package var vdn: String?
    package var split: String?
    package var trunkGroup: String?
    package var trunkMember: String?
    /// The caller's UUI as it arrived, before any transfer could replace it.
    package var uui: String?
    package var userEnteredCode: String?

    /// Each offer to a station, with the customer data it should show.
    package var offers: [Offer]
    /// Stations that answered, in order (for an outbound call, the station that dialled).
    package var agents: [String]
    /// Every device that took part, for search.
    package var devices: [String]
    package var segments: [Segment]

    package var startedAt: Date
    package var answeredAt: Date?
    package var endedAt: Date?
    package var lastEventAt: Date
    package var lastPosition: Int64
    package var eventCount: Int

    package var transferred = false
    package var conferenced = false
    package var redirected = false
    package var failed = false
    /// True once a station (or, outbound, the called party) answered.
    package var answeredByParty = false
    /// Ended because no event came for `JourneyTracker.silenceLimit`, not by CallCleared.
    package var timedOut = false
    /// Ended by a snapshot after a gap in a link's events: its last call was found gone, its CallCleared lost.
    package var endedInGap = false
    /// The gaps in link events during the contact (their union): what happened in them is known only from
    /// snapshots.
    package var gap: LinkGap?
    var timers = Timers()
    package var durations = Durations()
    /// Keys of the last switch events applied, so monitor copies are dropped.
    var recentEventKeys: [UInt64] = []
    /// Every user-data key the journey's calls have carried in their UUI, in the order first seen. Only the
    /// keys: their data lives in the `userdata` table and is read when a context is asked for, so a later
    /// change to a key's data shows at once.
    package var userDataKeys: [CarriedKey] = []

    package enum Direction: String, Sendable, Codable {
        case inbound, outbound
    }

    package var isEnded: Bool { endedAt != nil }

    /// Architecture §4's outcome; nil while the contact goes on.
    package var outcome: Outcome? {
        guard isEnded else { return nil }
        if direction == .outbound { return .outbound }
        if conferenced { return .conferenced }
        if transferred { return .transferred }
        if !answeredByParty { return failed ? .failed : .abandoned }
        if redirected { return .redirected }
        return .answered
    }

    /// Where an unanswered inbound contact was when the caller left.
    package var abandonedIn: String?

    /// Every UCID of the journey, the original first.
    package var ucids: [UCID] {
        var seen = Set<UCID>()
        return legs.compactMap(\.ucid).filter { seen.insert($0).inserted }
    }

    /// Consultation UCIDs, in order: the journey's linked legs.
    package var linkedUcids: [UCID] {
        var seen = Set<UCID>()
        return legs.filter { $0.role == .consultation }.compactMap(\.ucid).filter { seen.insert($0).inserted }
    }

    /// The UCIDs other switches reported for this contact: the far side of a call that left the site.
    package var farSiteUcids: [UCID] {
        var seen = Set<UCID>()
        return legs.filter { $0.role == .farSite }.compactMap(\.ucid).filter { seen.insert($0).inserted }
    }

    package var sites: [String] {
        var seen = Set<String>()
        return legs.map(\.switchID).filter { seen.insert($0).inserted }
    }
}

/// How a contact ended (the journey rules, docs/architecture.md).
/// A user-data key found in a call's UUI: which call carried it first, and when.
package struct CarriedKey: Sendable, Codable, Equatable {
    package var key: UserDataKey
    package var ucid: UCID?
    package var time: Date

    package init(key: UserDataKey, ucid: UCID?, time: Date) {
        self.key = key
        self.ucid = ucid
        self.time = time
    }
}

package enum Outcome: String, Sendable, Codable, CaseIterable {
    case answered, abandoned, transferred, conferenced, redirected, failed, outbound
}

/// What one callID means to its journey.
package struct CallBinding: Sendable, Equatable {
    package var key: CallKey
    /// The leg (by index into `legs`) the callID carries now.
    package var leg: Int
    package var state: State

    package enum State: String, Sendable, Codable {
        /// The call is up under this callID.
        case live
        /// The callID was merged away by a transfer or conference; its late CallCleared must not end anything.
        case merged
        /// CallCleared came; monitor copies of it may still follow.
        case cleared
    }
}

/// An offer to a station, with what the agent's desktop should pop: the customer, not the transferring agent.
package struct Offer: Sendable, Codable, Equatable {
    package var device: String
    package var switchID: String
    package var ucid: UCID?
    package var callID: Int64
    package var time: Date
    package var position: Int64
    package var originalAni: String?
    package var originalDnis: String?
    package var vdn: String?
    package var split: String?
    package var uui: String?
    package var userEnteredCode: String?
}

/// One stretch of the journey's timeline.
package struct Segment: Sendable, Codable, Equatable {
    package enum Kind: String, Sendable, Codable {
        case vdn, queue, ringing, talking, held, consult, conference
    }

    package var kind: Kind
    package var device: String?
    package var ucid: UCID?
    package var start: Date
    package var end: Date?
}

/// Seconds spent in each state, as Tests/Fixtures/scenarios/README.md defines them.
package struct Durations: Sendable, Codable, Equatable {
    package var queue: Double = 0
    package var ring: Double = 0
    package var hold: Double = 0
    package var talk: Double = 0
    package var total: Double = 0
}

/// Open intervals the durations are measured over.
struct Timers: Sendable, Equatable {
    var queuedSince: Date?
    var ringingSince: [String: Date] = [:]
    var holdSince: Date?
}
