import Foundation
import TSAPI

extension FeedMessage {
    /// The message as the feed sends it (docs/feed.md), with its feed `position` and the user data it has now.
    /// `snapshot` marks the current state of a call sent when a subscriber connects, not an event.
    ///
    /// Written by hand: the feed writes one per message for every subscriber format, at event speed.
    package func json(position: Int64, userData: JourneyUserData?, snapshot: Bool = false) -> String {
        JSONWriter.object { object in
            object.add("position", number: position)
            object.add("eventtype", kind.rawValue)
            if snapshot { object.add("snapshot", bool: true) }
            object.add("ucid", ucid?.rawValue)
            object.add("callid", number: callID)
            object.add("device", device)
            object.add("switch", switchID)
            object.add("party", party)
            object.add("calling", calling)
            object.add("called", called)
            object.add("originalAni", userData?.originalAni ?? originalAni)
            object.add("originalDnis", userData?.originalDnis ?? originalDnis)
            object.add("vdn", vdn)
            object.add("split", split)
            object.add("uui", uui)
            object.add("userEnteredCode", userEnteredCode)
            object.add("userData", tree: userData?.merged)
            object.add("userDataKeys", strings: (userData?.entries ?? []).compactMap { $0.record.key?.rawValue })
            object.add("journeyId", journeyID)
            object.add("previousAgents", strings: previousAgents)
            object.add("parties", strings: parties)
            object.add("trunkGroup", trunkGroup)
            object.add("trunkMember", trunkMember)
            object.add("lastRedirection", lastRedirection)
            if kind == .transfer || kind == .conference {
                object.add("primaryCallid", number: primaryCallID)
                object.add("secondaryCallid", number: secondaryCallID)
                object.add("addedParty", addedParty)
            }
            object.addIfPresent("endedBy", endedBy)
            object.add("time", Timestamp.format(time))
        }
    }
}
