import Foundation
import TSAPI

/// The JSON of ctiSVR's WebSocket interface (`shared/reference/ctisvr-websocket.md`): CRM and IVR integrations
/// in Avaya shops already speak it, so a feed that writes the same events and answers the same requests lets
/// them move over with little change, and gain what ctiSVR cannot give: the customer's numbers and data on a
/// consulted or transferred-to agent's offer.
///
/// Pure text in and out; the WebSocket route decides which messages go to which monitor. Written with
/// `JSONWriter`, not `JSONEncoder`: the feed writes one event per message and subscriber, at event speed.
/// ctiSVR's values are strings, "" when unknown, never null (integrations index these objects without checking).
package enum CtiSvr {
    /// ctiSVR's `custdata` is a string: uuiSVR stored whatever text the application gave. Data that is a JSON
    /// string goes out as that string, so an integration that stored plain text reads it back unchanged; any
    /// other value goes out as its compact JSON text, for the integration to parse; no data is "".
    package static func custdata(_ userData: JourneyUserData?) -> String {
        guard let merged = userData?.merged else { return "" }
        return merged.string ?? merged.text
    }

    /// The unsolicited event for `message`, sent to the monitor `referenceID` (the `referenceid` its
    /// `startmonitor` answer gave). Every field the reference lists for the event type is present; a value not
    /// known is "" (integrations index these objects without checking for null).
    ///
    /// `origcalling` / `origcalled` are the customer's numbers from the journey and its user data, not what the
    /// switch reports for this leg: on a consultation ctiSVR shows the transferring agent and the VDN, and a pop
    /// of the customer there is what the project adds.
    package static func event(_ message: FeedMessage, referenceID: Int, userData: JourneyUserData?) -> String {
        JSONWriter.object { object in
            object.addOrEmpty("msgtype", "event")
            object.addOrEmpty("eventtype", eventType(message.kind))
            object.add("referenceid", number: Int64(referenceID))
            object.add("time", number: unixSeconds(message.time))
            object.add("callid", number: message.callID)
            let ucid = message.ucid?.rawValue
            switch message.kind {
            case .offer, .connect:
                object.addOrEmpty("origcalling", originalCalling(message, userData))
                object.addOrEmpty("origcalled", originalCalled(message, userData))
                object.addOrEmpty("calling", message.calling)
                object.addOrEmpty("called", message.called)
                object.addOrEmpty(message.kind == .offer ? "alerting" : "answering", message.party)
                object.addOrEmpty("ucid", ucid)
                object.addOrEmpty("uui", message.uui)
                object.addOrEmpty("uec", message.userEnteredCode)
                object.addOrEmpty("split", message.split)
                object.addOrEmpty("custdata", custdata(userData))
                object.addOrEmpty("trunkgroup", message.trunkGroup)
                object.addOrEmpty("trunkmember", message.trunkMember)
                object.addOrEmpty("lastredirection", message.lastRedirection)
            case .disconnect:
                // A CallCleared names no releasing party: the call ended for the device the message is for.
                object.addOrEmpty("releasing", message.party ?? message.device)
                object.addOrEmpty("ucid", ucid)
                object.addOrEmpty("uui", message.uui)
                object.addOrEmpty("custdata", custdata(userData))
            case .hold:
                object.addOrEmpty("holding", message.party)
            case .retrieve:
                object.addOrEmpty("retrieving", message.party)
            case .transfer, .conference:
                if message.kind == .transfer {
                    object.addOrEmpty("transferring", message.party)
                    object.addOrEmpty("transferred", message.addedParty)
                } else {
                    object.addOrEmpty("controller", message.party)
                    object.addOrEmpty("addedparty", message.addedParty)
                }
                object.addOrEmpty("ucid", ucid)
                object.addOrEmpty("uui", message.uui)
                object.addOrEmpty("custdata", custdata(userData))
                object.addOrEmpty("trunkgroup", message.trunkGroup)
                object.addOrEmpty("trunkmember", message.trunkMember)
                // TSAPI never gives call ID 0, so 0 reads as "not reported" where ctiSVR's integrations expect a number.
                object.add("primarycallid", number: message.primaryCallID ?? 0)
                object.add("secondarycallid", number: message.secondaryCallID ?? 0)
                for index in 0..<partySlots {
                    object.addOrEmpty("party\(index + 1)", index < message.parties.count ? message.parties[index] : nil)
                }
            }
        }
    }

    /// ctiSVR's events name six parties at most (`party1` … `party6`): the most a CM call can hold.
    package static let partySlots = 6

    /// ctiSVR's name for each kind of feed message; ours were chosen to match, and this keeps them from drifting.
    package static func eventType(_ kind: FeedMessage.Kind) -> String {
        switch kind {
        case .offer: "offer"
        case .connect: "connect"
        case .hold: "hold"
        case .retrieve: "retrieve"
        case .transfer: "transfer"
        case .conference: "conference"
        case .disconnect: "disconnect"
        }
    }

    // MARK: - Responses

    /// A successful answer to the request whose `id` (its JSON text, as `CtiSvrRequest.id` keeps it) is given,
    /// with `fields` as name and JSON value text, in order.
    package static func response(id: String, fields: [(String, String)]) -> String {
        JSONWriter.object { object in
            object.addOrEmpty("msgtype", "response")
            object.add("id", json: id)
            object.addOrEmpty("result", "success")
            for (name, value) in fields { object.add(name, json: value) }
        }
    }

    /// A failed answer: ctiSVR's integrations show `error` to the user, so it should say what to do.
    package static func failure(id: String, error: String) -> String {
        JSONWriter.object { object in
            object.addOrEmpty("msgtype", "response")
            object.add("id", json: id)
            object.addOrEmpty("result", "fail")
            object.addOrEmpty("error", error)
        }
    }

    /// The answer to `userdata` with `type: "alert"`: the call alerting at the extension (`message`, its offer),
    /// with `cli` and `dnis` the customer's numbers and `userdata` the call's data as `custdata` gives it.
    /// The route answers with `failure` when nothing alerts there.
    package static func alertResponse(id: String, message: FeedMessage, userData: JourneyUserData?) -> String {
        response(
            id: id,
            fields: [
                ("callid", String(message.callID)),
                ("calling", quote(message.calling)),
                ("called", quote(message.called)),
                ("alerting", quote(message.party ?? message.device)),
                ("cli", quote(originalCalling(message, userData))),
                ("dnis", quote(originalCalled(message, userData))),
                ("uec", quote(message.userEnteredCode)),
                ("ucid", quote(message.ucid?.rawValue)),
                ("split", quote(message.split)),
                ("trunkgroup", quote(message.trunkGroup)),
                ("trunkmember", quote(message.trunkMember)),
                ("userdata", quote(custdata(userData))),
            ])
    }

    /// The answer to `userdata` with `type: "hangup"`: the call that last left the extension (`message`, its
    /// disconnect), so an after-call screen still finds its data.
    package static func hangupResponse(id: String, message: FeedMessage, userData: JourneyUserData?) -> String {
        response(
            id: id,
            fields: [
                ("callid", String(message.callID)),
                ("releasing", quote(message.party ?? message.device)),
                ("ucid", quote(message.ucid?.rawValue)),
                ("userdata", quote(custdata(userData))),
            ])
    }

    // MARK: - Helpers

    /// Key data set on an earlier call (another site) knows the real caller better than this leg does.
    static func originalCalling(_ message: FeedMessage, _ userData: JourneyUserData?) -> String? {
        userData?.originalAni ?? message.originalAni ?? message.calling
    }

    static func originalCalled(_ message: FeedMessage, _ userData: JourneyUserData?) -> String? {
        userData?.originalDnis ?? message.originalDnis ?? message.called
    }

    /// Whole seconds, as ctiSVR writes `time`; rounded down so an event never seems to come from the future.
    static func unixSeconds(_ date: Date) -> Int64 {
        Int64(date.timeIntervalSince1970.rounded(.down))
    }

    /// ctiSVR's values are strings, "" when unknown, never null.
    static func quote(_ value: String?) -> String { JSONWriter.quote(value ?? "") }
}

/// One request a ctiSVR client sends over the WebSocket (`startmonitor`, `userdata`, ...), read from its text
/// message. Only the fields the feed's requests share are typed here; whether a request has the ones it needs
/// is the route's business, since that differs per request.
package struct CtiSvrRequest: Sendable, Equatable {
    /// The JSON text of `id`, to echo back unchanged: clients match answers by it and some send numbers, some
    /// strings. `null` when the request had none, so even that request gets an answer.
    package var id: String
    package var request: String
    /// For `userdata`: `alert`, `hangup`, `set`, `get` or `update`; for `singlestepconference`: `active` or
    /// `passive`.
    package var type: String?
    package var `extension`: String?
    /// User data to store or attach. ctiSVR sends a string; any JSON is accepted, since our user data is JSON.
    package var data: JSONTree?
    /// For `userdata` `get` and `update`: the key, as the call's UUI carries it.
    package var uui: String?
    /// The whole request, for the fields of requests not typed here (`destination`, `callid`, ...).
    package var object: JSONTree

    /// Reads one text message. A member that is `null` counts as absent: clients write optional fields that way.
    package init(text: String) throws(CallModelError) {
        let tree: JSONTree
        do { tree = try JSONTree(parsing: text) } catch {
            throw CallModelError(.ctiSvrRequest(.notJSON), "the request is not JSON: \(error)", id: nil)
        }
        guard tree.isObject else {
            throw CallModelError(
                .ctiSvrRequest(.notAnObject),
                "the request must be a JSON object such as "
                    + "{\"id\":1,\"request\":\"startmonitor\",\"extension\":\"5001\"}; got \(Self.sample(tree))",
                id: nil)
        }
        func present(_ name: String) -> JSONTree? {
            guard let value = tree[name], value != .null else { return nil }
            return value
        }
        var id = "null"
        if let value = present("id") {
            switch value {
            case .number, .string: id = value.text
            default:
                throw CallModelError(
                    .ctiSvrRequest(.wrongType(field: "id")),
                    "id must be a number or a string; got \(Self.sample(value))", id: nil)
            }
        }
        func string(_ name: String) throws(CallModelError) -> String? {
            guard let value = present(name) else { return nil }
            guard let text = value.string else {
                throw CallModelError(
                    .ctiSvrRequest(.wrongType(field: name)),
                    "\(name) must be a string such as \"5001\"; got \(Self.sample(value))", id: id)
            }
            return text
        }
        guard let request = try string("request") else {
            throw CallModelError(
                .ctiSvrRequest(.missingRequest),
                "the request has no \"request\" member naming what to do, such as \"startmonitor\"", id: id)
        }
        self.id = id
        self.request = request
        type = try string("type")
        self.extension = try string("extension")
        data = present("data")
        uui = try string("uui")
        object = tree
    }

    /// A value quoted in an error message, cut short: the message goes back to the client, which sent the value.
    private static func sample(_ value: JSONTree) -> String {
        let text = value.text
        return text.count > 60 ? String(text.prefix(60)) + "…" : text
    }
}

extension JSONWriter {
    /// A ctiSVR member: a string, "" when unknown.
    fileprivate mutating func addOrEmpty(_ name: String, _ value: String?) { add(name, value ?? "") }
}
