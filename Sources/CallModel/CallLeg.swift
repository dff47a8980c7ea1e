import Foundation
import TSAPI

/// One call of a journey on one switch: the call context a CRM asks for by UCID.
package struct CallLeg: Sendable, Equatable {
    package enum Role: String, Sendable, Codable {
        /// The customer's call.
        case original
        /// A call an agent made while holding the customer, to consult, transfer or conference.
        case consultation
        /// The same contact as another switch reports it, found by the consultation's UCID.
        case farSite
    }

    package enum State: String, Sendable, Codable {
        case initiated, offered, queued, alerting, connected, held
        /// Joined into the original call by a transfer or conference.
        case merged
        case cleared
    }

    package var ucid: UCID?
    package var switchID: String
    package var role: Role
    package var state: State
    /// For a consultation: the UCID of the call it was made from.
    package var consultOf: UCID?
    /// For a merged consultation: the UCID it was merged into.
    package var mergedInto: UCID?
    /// The CSTA calling and called numbers as the latest event of this call reported them.
    package var ani: String?
    package var dnis: String?
    package var trunkGroup: String?
    package var trunkMember: String?
    package var uui: String?
    package var userEnteredCode: String?
    package var parties: [Party]
    /// Stations that answered this call, in order.
    package var agents: [String]
    package var startedAt: Date
    package var answeredAt: Date?
    package var endedAt: Date?
    package var updatedAt: Date
    package var lastPosition: Int64

    init(ucid: UCID?, switchID: String, role: Role, consultOf: UCID?, at event: CallEvent) {
        self.ucid = ucid
        self.switchID = switchID
        self.role = role
        self.state = .initiated
        self.consultOf = consultOf
        self.parties = []
        self.agents = []
        self.startedAt = event.time
        self.updatedAt = event.time
        self.lastPosition = event.position
    }

    /// Why the leg ended: nil while it is up.
    package var endedBy: EndedBy?
    /// The gap in a link's events the leg lived through: it ended in it (`endedBy` `link-gap`), or started in it
    /// (a call a snapshot showed that no event had).
    package var gap: LinkGap?

    package enum EndedBy: String, Sendable, Codable {
        /// CallCleared.
        case cleared
        /// Joined into another call by a transfer or conference.
        case merged
        /// No event came for `JourneyTracker.silenceLimit`.
        case silence
        /// A snapshot after a gap in a link's events showed the call gone: it ended at some time in the gap.
        case linkGap = "link-gap"
    }

    package var isEnded: Bool { state == .cleared || state == .merged }

    /// Why the leg ended, for the documents: legs stored before `endedBy` was kept say it by their state.
    package var endReason: EndedBy? {
        guard isEnded else { return nil }
        return endedBy ?? (state == .merged ? .merged : .cleared)
    }

    mutating func setParty(_ device: String, _ state: Party.State, callID: Int64, at time: Date) {
        if let index = parties.firstIndex(where: { $0.device == device }) {
            if parties[index].state != state {
                parties[index].state = state
                parties[index].since = time
            }
            parties[index].callID = callID
        } else {
            parties.append(Party(device: device, state: state, callID: callID, since: time))
        }
    }

    mutating func removeParty(_ device: String) {
        parties.removeAll { $0.device == device }
    }
}

/// A device on a call and what it is doing there: what `GET /v1/calls?device=` answers with.
package struct Party: Sendable, Codable, Equatable {
    package enum State: String, Sendable, Codable {
        case initiated, alerting, queued, connected, held
    }

    package var device: String
    package var state: State
    package var callID: Int64
    package var since: Date
}
