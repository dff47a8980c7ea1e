import Foundation
import TSAPI

/// One change to user data, as the event that records it (issue: every set, replace, merge and delete is an
/// event in the store, with who, when and what).
///
/// The event is the truth and the `userdata` row is its projection (`UserDataRecord.applying`), so the
/// history of a key is its events and a rebuild replays them.
package struct UserDataChange: Sendable, Equatable {
    package enum Operation: String, Sendable, CaseIterable {
        /// A new key (`POST /v1/userdata`).
        case set
        /// New data for a key (`PUT /v1/userdata/{key}`), and a new expiry when one was asked for.
        case replace
        /// An RFC 7396 merge patch applied to a key's data (`PATCH`).
        case merge
        /// The key's data removed (`DELETE`).
        case delete
        /// Data attached to a call without a key (`PUT /v1/calls/{ucid}/userdata`); replaces what was attached.
        case attach

        package var eventType: EventType {
            switch self {
            case .set: .userDataSet
            case .replace: .userDataReplaced
            case .merge: .userDataMerged
            case .delete: .userDataDeleted
            case .attach: .callUserDataSet
            }
        }

        package init?(_ type: EventType) {
            guard let operation = Self.allCases.first(where: { $0.eventType == type }) else { return nil }
            self = operation
        }
    }

    package var operation: Operation
    /// The key; nil for data attached to a call.
    package var key: UserDataKey?
    /// For a key: the call it was set on, if any. For attached data: the call.
    package var ucid: UCID?
    /// The data (set, replace, attach) or the patch (merge); nil for delete.
    package var data: JSONTree?
    /// When the data expires: set and attach always say; replace only when the expiry was renewed.
    package var expiresAt: Date?
    /// The call's customer data when the data was set or attached.
    package var origin: UserDataOrigin?
    package var actor: UserDataActor
    package var time: Date

    package init(
        operation: Operation, key: UserDataKey?, ucid: UCID?, data: JSONTree?, expiresAt: Date?,
        origin: UserDataOrigin?, actor: UserDataActor, time: Date
    ) {
        self.operation = operation
        self.key = key
        self.ucid = ucid
        self.data = data
        // Whole milliseconds, as the event's text writes them: the row written now and the row a rebuild
        // reads back from the text must be the same.
        self.expiresAt = expiresAt.map(Self.milliseconds)
        self.origin = origin
        self.actor = actor
        self.time = Self.milliseconds(time)
    }

    static func milliseconds(_ date: Date) -> Date {
        Date(timeIntervalSince1970: (date.timeIntervalSince1970 * 1000).rounded(.down) / 1000)
    }

    /// The row this change belongs to: the key, or `call:` and the UCID for attached data.
    package var recordID: String { Self.recordID(key: key, ucid: ucid) }

    package static func recordID(key: UserDataKey?, ucid: UCID?) -> String {
        key?.rawValue ?? "call:\(ucid?.rawValue ?? "")"
    }

    /// The stored event: the ingest envelope (docs/api.md) with the change under `userdata`. It goes into
    /// the stream of the UCID it names, so `GET /v1/calls/{ucid}/events` shows it beside the call's events.
    package func eventJSON(id: String) -> String {
        JSONWriter.object { event in
            event.add("id", id)
            event.add("source", "calltrail")
            event.add("switch", "calltrail")
            event.add("time", Timestamp.format(time))
            event.add("type", operation.eventType.rawValue)
            event.add(
                "userdata",
                object: { change in
                    change.addIfPresent("key", key?.rawValue)
                    change.addIfPresent("ucid", ucid?.rawValue)
                    if let data { change.add(operation == .merge ? "patch" : "data", tree: data) }
                    change.addIfPresent("expiresAt", expiresAt.map { Timestamp.format($0) })
                    if let origin { change.add("origin", json: origin.json) }
                    change.add(
                        "by",
                        object: { by in
                            by.addIfPresent("token", actor.token)
                            by.addIfPresent("address", actor.address)
                            by.addIfPresent("certificate", actor.certificate)
                            by.addIfPresent("name", actor.name)
                            by.addIfPresent("userAgent", actor.userAgent)
                        })
                })
        }
    }

    /// Reads a stored user-data event back.
    package init(eventJSON text: String) throws(CallModelError) {
        let tree: JSONTree
        do { tree = try JSONTree(parsing: text) } catch { throw CallModelError(.userDataEvent, "not JSON: \(error)") }
        guard let typeName = tree["type"]?.string, let type = EventType(rawValue: typeName),
            let operation = Operation(type)
        else {
            throw CallModelError(.userDataEvent, "not a user-data event")
        }
        guard let time = tree["time"]?.string.flatMap(Timestamp.parse), let body = tree["userdata"], body.isObject
        else {
            throw CallModelError(.userDataEvent, "a \(typeName) event without time or userdata")
        }
        self.operation = operation
        key = body["key"]?.string.flatMap(UserDataKey.init)
        ucid = body["ucid"]?.string.flatMap(UCID.init)
        data = operation == .merge ? body["patch"] : body["data"]
        expiresAt = body["expiresAt"]?.string.flatMap(Timestamp.parse)
        origin = body["origin"].flatMap(UserDataOrigin.init(tree:))
        actor = body["by"].map(UserDataActor.init(tree:)) ?? UserDataActor(name: nil, userAgent: nil)
        self.time = time
        guard key != nil || (operation == .attach && ucid != nil) else {
            throw CallModelError(.userDataEvent, "a \(typeName) event names neither a key nor a call")
        }
        guard operation == .delete || data != nil else {
            throw CallModelError(.userDataEvent, "a \(typeName) event without data")
        }
    }
}

/// The call's customer data when user data was set on it: what the next agent needs to know about who called,
/// even on a call that reaches another site with a new UCID and the transferring agent as its caller.
package struct UserDataOrigin: Sendable, Equatable {
    package var ucid: UCID?
    package var journeyId: String?
    /// The device named in `POST /v1/userdata` (`device`), when the call was found through it.
    package var device: String?
    package var originalAni: String?
    package var originalDnis: String?
    package var vdn: String?
    package var split: String?
    package var userEnteredCode: String?
    package var uui: String?

    package init(
        ucid: UCID?, journeyId: String? = nil, device: String? = nil, originalAni: String? = nil,
        originalDnis: String? = nil, vdn: String? = nil, split: String? = nil, userEnteredCode: String? = nil,
        uui: String? = nil
    ) {
        self.ucid = ucid
        self.journeyId = journeyId
        self.device = device
        self.originalAni = originalAni
        self.originalDnis = originalDnis
        self.vdn = vdn
        self.split = split
        self.userEnteredCode = userEnteredCode
        self.uui = uui
    }

    /// What the journey knows of its customer at this moment.
    package init(ucid: UCID, journey: Journey?, device: String? = nil) {
        self.init(
            ucid: ucid, journeyId: journey?.id, device: device, originalAni: journey?.originalAni,
            originalDnis: journey?.originalDnis, vdn: journey?.vdn, split: journey?.split,
            userEnteredCode: journey?.userEnteredCode, uui: journey?.uui)
    }

    var fields: [(String, String?)] {
        [
            ("ucid", ucid?.rawValue), ("journeyId", journeyId), ("device", device), ("originalAni", originalAni),
            ("originalDnis", originalDnis), ("vdn", vdn), ("split", split), ("userEnteredCode", userEnteredCode),
            ("uui", uui),
        ]
    }

    /// The origin as the user-data row and event keep it: the members it knows.
    package var json: String {
        JSONWriter.object { o in
            for (name, value) in fields { o.addIfPresent(name, value) }
        }
    }

    package init?(tree: JSONTree) {
        guard tree.isObject else { return nil }
        self.init(
            ucid: tree["ucid"]?.string.flatMap(UCID.init), journeyId: tree["journeyId"]?.string,
            device: tree["device"]?.string, originalAni: tree["originalAni"]?.string,
            originalDnis: tree["originalDnis"]?.string, vdn: tree["vdn"]?.string, split: tree["split"]?.string,
            userEnteredCode: tree["userEnteredCode"]?.string, uui: tree["uui"]?.string)
    }
}

/// Who made a change: the API token that was used (or, for a ctiSVR desktop admitted by its address, that address;
/// for a client admitted by its TLS certificate, the certificate's subject), the name the application gave
/// (`CallTrail-Actor` header) and its HTTP client.
///
/// `token` is what access control vouches for; `name` and `userAgent` are what the client says of itself.
package struct UserDataActor: Sendable, Equatable {
    package var token: String?
    package var address: String?
    package var certificate: String?
    package var name: String?
    package var userAgent: String?

    package init(
        token: String? = nil, address: String? = nil, certificate: String? = nil, name: String?, userAgent: String?
    ) {
        self.token = token
        self.address = address
        self.certificate = certificate
        self.name = name
        self.userAgent = userAgent
    }

    init(tree: JSONTree) {
        self.init(
            token: tree["token"]?.string, address: tree["address"]?.string, certificate: tree["certificate"]?.string,
            name: tree["name"]?.string, userAgent: tree["userAgent"]?.string)
    }
}
