import Foundation
import TSAPI

/// One customer contact from its first event to its last, across consultations, transfers, conferences,
/// redirects and sites (the journey rules, docs/architecture.md).
///
/// A journey is also the whole reducer state of its calls: `JourneyTracker` keeps the open ones in memory and
/// stores each one as a row, so that after a restart the tracker is rebuilt from the rows alone.
public struct Journey: Sendable, Equatable {
    /// The first UCID of the contact; before any event has carried a UCID, a provisional `switch/callID@position`.
    public var id: String
    /// The calls of the journey, one per UCID and switch: the original call first, then consultations and
    /// far-site legs in the order they appeared.
    public var legs: [CallLeg]
    /// Every callID that has been part of the journey, and what it means now.
    public var calls: [CallBinding]
    /// The switch the contact arrived on (or was dialled from); hold time is measured there.
    public var homeSwitch: String
    public var direction: Direction

    /// The customer's number and the number they dialled, as the first offer of the original call reported
    /// them, or as `originalCallInfo` restored them.
    public var originalAni: String?
    public var originalDnis: String?
    public var vdn: String?
    public var split: String?
    public var trunkGroup: String?
    public var trunkMember: String?
    /// The caller's UUI as it arrived, before any transfer could replace it.
    public var uui: String?
    public var userEnteredCode: String?

    /// Each offer to a station, with the customer data it should show.
    public var offers: [Offer]
    /// Stations that answered, in order (for an outbound call, the station that dialled).
    public var agents: [String]
    /// Every device that took part, for search.
    public var devices: [String]
    public var segments: [Segment]

    public var startedAt: Date
    public var answeredAt: Date?
    public var endedAt: Date?
    public var lastEventAt: Date
    public var lastPosition: Int64
    public var eventCount: Int

    public var transferred = false
    public var conferenced = false
    public var redirected = false
    public var failed = false
    /// True once a station (or, outbound, the called party) answered.
    public var answeredByParty = false
    /// Ended because no event came for `JourneyTracker.silenceLimit`, not by CallCleared.
    public var timedOut = false
    var timers = Timers()
    public var durations = Durations()
    /// Keys of the last switch events applied, so monitor copies are dropped.
    var recentEventKeys: [UInt64] = []
    /// Every user-data key the journey's calls have carried in their UUI, in the order first seen. Only the
    /// keys: their data lives in the `userdata` table and is read when a context is asked for, so a later
    /// change to a key's data shows at once.
    public var userDataKeys: [CarriedKey] = []

    public enum Direction: String, Sendable, Codable {
        case inbound, outbound
    }

    public var isEnded: Bool { endedAt != nil }

    /// Architecture §4's outcome; nil while the contact goes on.
    public var outcome: Outcome? {
        guard isEnded else { return nil }
        if direction == .outbound { return .outbound }
        if conferenced { return .conferenced }
        if transferred { return .transferred }
        if !answeredByParty { return failed ? .failed : .abandoned }
        if redirected { return .redirected }
        return .answered
    }

    /// Where an unanswered inbound contact was when the caller left.
    public var abandonedIn: String?

    /// Every UCID of the journey, the original first.
    public var ucids: [UCID] {
        var seen = Set<UCID>()
        return legs.compactMap(\.ucid).filter { seen.insert($0).inserted }
    }

    /// Consultation UCIDs, in order: the journey's linked legs.
    public var linkedUcids: [UCID] {
        var seen = Set<UCID>()
        return legs.filter { $0.role == .consultation }.compactMap(\.ucid).filter { seen.insert($0).inserted }
    }

    /// The UCIDs other switches reported for this contact: the far side of a call that left the site.
    public var farSiteUcids: [UCID] {
        var seen = Set<UCID>()
        return legs.filter { $0.role == .farSite }.compactMap(\.ucid).filter { seen.insert($0).inserted }
    }

    public var sites: [String] {
        var seen = Set<String>()
        return legs.map(\.switchID).filter { seen.insert($0).inserted }
    }
}

/// How a contact ended (the journey rules, docs/architecture.md).
/// A user-data key found in a call's UUI: which call carried it first, and when.
public struct CarriedKey: Sendable, Codable, Equatable {
    public var key: UserDataKey
    public var ucid: UCID?
    public var time: Date

    public init(key: UserDataKey, ucid: UCID?, time: Date) {
        self.key = key
        self.ucid = ucid
        self.time = time
    }
}

public enum Outcome: String, Sendable, Codable, CaseIterable {
    case answered, abandoned, transferred, conferenced, redirected, failed, outbound
}

/// What one callID means to its journey.
public struct CallBinding: Sendable, Equatable {
    public var key: CallKey
    /// The leg (by index into `legs`) the callID carries now.
    public var leg: Int
    public var state: State

    public enum State: String, Sendable, Codable {
        /// The call is up under this callID.
        case live
        /// The callID was merged away by a transfer or conference; its late CallCleared must not end anything.
        case merged
        /// CallCleared came; monitor copies of it may still follow.
        case cleared
    }
}

/// An offer to a station, with what the agent's desktop should pop: the customer, not the transferring agent.
public struct Offer: Sendable, Codable, Equatable {
    public var device: String
    public var switchID: String
    public var ucid: UCID?
    public var callID: Int64
    public var time: Date
    public var position: Int64
    public var originalAni: String?
    public var originalDnis: String?
    public var vdn: String?
    public var split: String?
    public var uui: String?
    public var userEnteredCode: String?
}

/// One stretch of the journey's timeline.
public struct Segment: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable {
        case vdn, queue, ringing, talking, held, consult, conference
    }

    public var kind: Kind
    public var device: String?
    public var ucid: UCID?
    public var start: Date
    public var end: Date?
}

/// Seconds spent in each state, as Tests/Fixtures/scenarios/README.md defines them.
public struct Durations: Sendable, Codable, Equatable {
    public var queue: Double = 0
    public var ring: Double = 0
    public var hold: Double = 0
    public var talk: Double = 0
    public var total: Double = 0
}

/// Open intervals the durations are measured over.
struct Timers: Sendable, Equatable {
    var queuedSince: Date?
    var ringingSince: [String: Date] = [:]
    var holdSince: Date?
}
