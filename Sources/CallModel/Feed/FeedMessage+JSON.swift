import Foundation
import TSAPI

extension FeedMessage {
    /// The message as the feed sends it (architecture §6), with its feed `position` and the user data it has now.
    /// `snapshot` marks the current state of a call sent when a subscriber connects, not an event.
    ///
    /// Written by hand: the feed writes one per message for every subscriber format, at event speed.
    public func json(position: Int64, userData: JourneyUserData?, snapshot: Bool = false) -> String {
        var out = "{"
        func field(_ name: String, _ value: String) {
            if out.utf8.count > 1 { out += "," }
            out += "\"" + name + "\":" + value
        }
        func strings(_ values: [String]) -> String { "[" + values.map { JSONText.quote($0) }.joined(separator: ",") + "]" }
        field("position", String(position))
        field("eventtype", JSONText.quote(kind.rawValue))
        if snapshot { field("snapshot", "true") }
        field("ucid", JSONText.quote(ucid?.rawValue))
        field("callid", String(callID))
        field("device", JSONText.quote(device))
        field("switch", JSONText.quote(switchID))
        field("party", JSONText.quote(party))
        field("calling", JSONText.quote(calling))
        field("called", JSONText.quote(called))
        field("originalAni", JSONText.quote(userData?.originalAni ?? originalAni))
        field("originalDnis", JSONText.quote(userData?.originalDnis ?? originalDnis))
        field("vdn", JSONText.quote(vdn))
        field("split", JSONText.quote(split))
        field("uui", JSONText.quote(uui))
        field("userEnteredCode", JSONText.quote(userEnteredCode))
        field("userData", userData?.merged?.text ?? "null")
        field("userDataKeys", strings((userData?.entries ?? []).compactMap { $0.record.key?.rawValue }))
        field("journeyId", JSONText.quote(journeyID))
        field("previousAgents", strings(previousAgents))
        field("parties", strings(parties))
        field("trunkGroup", JSONText.quote(trunkGroup))
        field("trunkMember", JSONText.quote(trunkMember))
        field("lastRedirection", JSONText.quote(lastRedirection))
        if kind == .transfer || kind == .conference {
            field("primaryCallid", JSONText.number(primaryCallID))
            field("secondaryCallid", JSONText.number(secondaryCallID))
            field("addedParty", JSONText.quote(addedParty))
        }
        field("time", JSONText.quote(Timestamp.format(time)))
        return out + "}"
    }
}
