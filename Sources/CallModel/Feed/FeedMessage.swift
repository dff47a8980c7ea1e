import Foundation
import TSAPI

/// One message of the feed (docs/feed.md): a switch event as one device's desktop should see it, with the
/// customer's data from the journey at that moment, so a consulted or transferred-to agent pops the customer and
/// not the agent who called them.
///
/// The journey reducer makes these as it applies events (`JourneyTracker.takeFeed()`), once per device and switch
/// event: monitor copies of one event were already dropped, so four monitors on a call still give one offer.
/// The projector stores them with feed positions of their own; user data is added when they are sent, so a key's
/// latest data goes out.
package struct FeedMessage: Sendable, Equatable {
    package enum Kind: String, Sendable, CaseIterable {
        /// Delivered: the call alerts at a station, or is offered to a VDN.
        case offer
        /// Established: a device answered; every device on the call hears of it.
        case connect
        case hold, retrieve, transfer, conference
        /// ConnectionCleared (a device left) or CallCleared (the call ended with devices still on it).
        case disconnect
    }

    package var kind: Kind
    /// The position of the stored event the message comes from.
    package var eventPosition: Int64
    /// The device this message is for.
    package var device: String
    package var switchID: String
    package var ucid: UCID?
    package var callID: Int64
    /// The device that acted: alerting, answering, holding, retrieving, releasing, transferring or the controller.
    package var party: String?
    /// The CSTA calling and called numbers of this call (on a consultation: the agent and whom they dialled).
    package var calling: String?
    package var called: String?
    package var lastRedirection: String?
    /// The customer's data, from the journey.
    package var originalAni: String?
    package var originalDnis: String?
    package var vdn: String?
    package var split: String?
    package var uui: String?
    package var userEnteredCode: String?
    package var trunkGroup: String?
    package var trunkMember: String?
    package var journeyID: String
    /// Stations that answered the contact before this message, in order, without `device`.
    package var previousAgents: [String]
    /// The devices on the call after the event.
    package var parties: [String]
    /// Transfer and conference: the two calls merged, and the party added.
    package var primaryCallID: Int64?
    package var secondaryCallID: Int64?
    package var addedParty: String?
    package var time: Date
    /// What user data can belong to the message: the keys the journey's calls carried, and its UCIDs (data set
    /// on a call). Read when the message is sent.
    package var userDataKeys: [CarriedKey]
    package var journeyUcids: [UCID]
    /// On a disconnect that no event reported: why CallTrail knows the call ended for the device (`link-gap`: a
    /// snapshot after a gap in the link's events no longer held it).
    package var endedBy: String? = nil
}

// MARK: - Stored form

extension FeedMessage {
    /// The message as `feed_messages.body` keeps it: compact JSON written by hand (the projector writes one or more
    /// per event, at ingest speed).
    package var storedJSON: String {
        JSONWriter.object { object in
            object.add("kind", kind.rawValue)
            object.add("eventPosition", number: eventPosition)
            object.add("device", device)
            object.add("switch", switchID)
            object.add("ucid", ucid?.rawValue)
            object.add("callID", number: callID)
            object.add("party", party)
            object.add("calling", calling)
            object.add("called", called)
            object.add("lastRedirection", lastRedirection)
            object.add("originalAni", originalAni)
            object.add("originalDnis", originalDnis)
            object.add("vdn", vdn)
            object.add("split", split)
            object.add("uui", uui)
            object.add("userEnteredCode", userEnteredCode)
            object.add("trunkGroup", trunkGroup)
            object.add("trunkMember", trunkMember)
            object.add("journeyId", journeyID)
            object.add("previousAgents", strings: previousAgents)
            object.add("parties", strings: parties)
            object.add("primaryCallID", number: primaryCallID)
            object.add("secondaryCallID", number: secondaryCallID)
            object.add("addedParty", addedParty)
            object.add("time", Timestamp.format(time, fractionDigits: 6))
            object.add("keys", array: userDataKeys) { keys, carried in
                keys.array([
                    carried.key.rawValue, carried.ucid?.rawValue, Timestamp.format(carried.time, fractionDigits: 6),
                ]) {
                    parts, part in parts.string(part)
                }
            }
            object.add("ucids", strings: journeyUcids.map(\.rawValue))
            object.addIfPresent("endedBy", endedBy)
        }
    }

    /// Reads `storedJSON` back; nil for text that is not a stored message.
    package init?(storedJSON text: String) {
        guard let tree = try? JSONTree(parsing: text),
            let kind = tree["kind"]?.string.flatMap(Kind.init(rawValue:)),
            let device = tree["device"]?.string, let switchID = tree["switch"]?.string,
            let journeyID = tree["journeyId"]?.string,
            let time = tree["time"]?.string.flatMap({ Timestamp.parse($0) }),
            let eventPosition = tree["eventPosition"]?.integer
        else { return nil }
        func strings(_ name: String) -> [String] {
            guard case .array(let items) = tree[name] else { return [] }
            return items.compactMap(\.string)
        }
        var keys: [CarriedKey] = []
        if case .array(let items) = tree["keys"] {
            for case .array(let parts) in items where parts.count == 3 {
                guard let key = parts[0].string.flatMap({ try? UserDataKey(validating: $0) }),
                    let carriedAt = parts[2].string.flatMap({ Timestamp.parse($0) })
                else { continue }
                keys.append(CarriedKey(key: key, ucid: parts[1].string.flatMap { UCID($0) }, time: carriedAt))
            }
        }
        self.init(
            kind: kind, eventPosition: eventPosition, device: device, switchID: switchID,
            ucid: tree["ucid"]?.string.flatMap { UCID($0) }, callID: tree["callID"]?.integer ?? 0,
            party: tree["party"]?.string, calling: tree["calling"]?.string, called: tree["called"]?.string,
            lastRedirection: tree["lastRedirection"]?.string, originalAni: tree["originalAni"]?.string,
            originalDnis: tree["originalDnis"]?.string, vdn: tree["vdn"]?.string, split: tree["split"]?.string,
            uui: tree["uui"]?.string, userEnteredCode: tree["userEnteredCode"]?.string,
            trunkGroup: tree["trunkGroup"]?.string, trunkMember: tree["trunkMember"]?.string, journeyID: journeyID,
            previousAgents: strings("previousAgents"), parties: strings("parties"),
            primaryCallID: tree["primaryCallID"]?.integer, secondaryCallID: tree["secondaryCallID"]?.integer,
            addedParty: tree["addedParty"]?.string, time: time, userDataKeys: keys,
            journeyUcids: strings("ucids").compactMap { UCID($0) }, endedBy: tree["endedBy"]?.string)
    }
}
