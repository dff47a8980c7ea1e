import DMCC
import Foundation
import TSAPI

/// Writes a switch event as AES reports it over DMCC: ECMA-323 XML with Avaya's private data, one document per
/// monitor that sees it. The simulator's events are written in TSAPI's names (the ingest envelope); this is the
/// reverse of the link's mapping (`DMCCEvent`), so the whole real path can be tested on one machine.
///
/// Real AES releases differ in how they write the same event, and a client must read them all: `Style` varies the
/// namespaces and prefixes, and adds elements a client does not know.
package struct DMCCEventWriter: Sendable {
    package enum Style: String, Sendable, CaseIterable {
        /// The ed3 namespace as the default, the private data under an `ns1:` prefix.
        case defaultNamespace = "default"
        /// Every CSTA element under a `csta:` prefix, the private data in Avaya's namespace as its default.
        case prefixed
        /// The negotiated protocol version's URI as the namespace, and elements no client knows mixed in.
        case versioned
    }

    package var style: Style
    /// The switch connection's name in device IDs (`5001:CM1::0`).
    package var switchName: String

    package init(style: Style, switchName: String) {
        self.style = style
        self.switchName = switchName
    }

    static let ed3 = "http://www.ecma-international.org/standards/ecma-323/csta/ed3"
    static let priv6 = "http://www.ecma-international.org/standards/ecma-323/csta/ed3/priv6"
    static let avaya = "http://www.avaya.com/csta"

    /// DMCC's name of each TSAPI event.
    static let names: [EventType: String] = [
        .delivered: "DeliveredEvent", .established: "EstablishedEvent", .connectionCleared: "ConnectionClearedEvent",
        .callCleared: "CallClearedEvent", .held: "HeldEvent", .retrieved: "RetrievedEvent",
        .transferred: "TransferedEvent", .conferenced: "ConferencedEvent", .diverted: "DivertedEvent",
        .failed: "FailedEvent", .queued: "QueuedEvent", .originated: "OriginatedEvent",
        .networkReached: "NetworkReachedEvent", .serviceInitiated: "ServiceInitiatedEvent",
    ]

    /// The private-data element of each event that has one.
    static let privateNames: [EventType: String] = [
        .delivered: "DeliveredEventPrivateData", .established: "EstablishedEventPrivateData",
        .transferred: "TransferredEventPrivateData", .conferenced: "ConferencedEventPrivateData",
        .callCleared: "CallClearedEventPrivateData", .networkReached: "NetworkReachedEventPrivateData",
        .originated: "OriginatedEventPrivateData", .serviceInitiated: "ServiceInitiatedEventPrivateData",
    ]

    /// The XML of `event` as the monitor `crossRefID` reports it, with that monitor's connection state.
    package func xml(_ event: SwitchEvent, crossRefID: String, state: String) -> String {
        guard let name = Self.names[event.type] else { return "" }
        let p = style == .prefixed ? "csta:" : ""
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
        switch style {
        case .defaultNamespace: out += "<\(name) xmlns=\"\(Self.ed3)\">"
        case .prefixed: out += "<csta:\(name) xmlns:csta=\"\(Self.ed3)\">"
        case .versioned: out += "<\(name) xmlns=\"\(Self.priv6)\">"
        }
        out += "<\(p)monitorCrossRefID>\(crossRefID)</\(p)monitorCrossRefID>"
        for (key, value) in event.csta {
            out += field(key, value, type: event.type, p: p)
        }
        out += "<\(p)localConnectionInfo>\(Self.connectionState(state))</\(p)localConnectionInfo>"
        if style == .versioned {
            out +=
                "<\(p)servicesPermitted><\(p)callControlServices><\(p)clearCall>true</\(p)clearCall>"
                + "</\(p)callControlServices></\(p)servicesPermitted><\(p)futureCallInfo>x</\(p)futureCallInfo>"
        }
        if let userInfo = event.att?["userInfo"], let hex = Self.hex(userInfo) {
            out += "<\(p)userData><\(p)string>\(hex)</\(p)string></\(p)userData>"
        }
        out += "<\(p)cause>\(Self.camel(event.cause, prefix: "EC_"))</\(p)cause>"
        if let ucid = event.att?["ucid"]?.string {
            let linkage = Self.linkage(ucid, p: p)
            if event.type == .transferred || event.type == .conferenced {
                out +=
                    "<\(p)callLinkageDataList><\(p)newCallLinkageData>\(linkage)</\(p)newCallLinkageData>"
                    + "</\(p)callLinkageDataList>"
            } else {
                out += "<\(p)callLinkageData>\(linkage)</\(p)callLinkageData>"
            }
        }
        if let att = event.att, let privateName = Self.privateNames[event.type] {
            let body = privateData(att, type: event.type)
            if !body.isEmpty {
                out += "<\(p)extensions><\(p)privateData><\(p)private>"
                switch style {
                case .prefixed:
                    out +=
                        "<\(privateName) xmlns=\"\(Self.avaya)\">\(body.replacingOccurrences(of: "ns1:", with: ""))"
                        + "</\(privateName)>"
                default:
                    out += "<ns1:\(privateName) xmlns:ns1=\"\(Self.avaya)\">\(body)</ns1:\(privateName)>"
                }
                out += "</\(p)private></\(p)privateData></\(p)extensions>"
            }
        }
        out += "</\(p)\(name)>"
        return out
    }

    // MARK: - CSTA fields

    private func field(_ key: String, _ value: JSONTree, type: EventType, p: String) -> String {
        var name = key
        switch key {
        case "transferredDevice": name = "transferredToDevice"
        case "confController": name = "conferencingDevice"
        case "trunkUsed": name = "networkInterfaceUsed"
        case "connection" where type == .networkReached: name = "outboundConnection"
        case "localConnectionInfo", "cause": return ""
        default: break
        }
        if value["callID"] != nil {
            return "<\(p)\(name)>\(connection(value, p: p))</\(p)\(name)>"
        }
        if key == "transferredConnections" || key == "conferenceConnections" {
            var items = ""
            if case .array(let list)? = value["connection"] {
                for item in list {
                    items += "<\(p)connectionListItem>"
                    if let party = item["party"] {
                        items += "<\(p)newConnection>\(connection(party, p: p))</\(p)newConnection>"
                    }
                    if let device = item["staticDevice"] {
                        items += "<\(p)endpoint>\(self.device(device, p: p))</\(p)endpoint>"
                    }
                    items += "</\(p)connectionListItem>"
                }
            }
            return "<\(p)\(name)>\(items)</\(p)\(name)>"
        }
        if case .number(let text) = value { return "<\(p)\(name)>\(text)</\(p)\(name)>" }
        return "<\(p)\(name)>\(device(value, p: p))</\(p)\(name)>"
    }

    /// `<callID>` and `<deviceID>` of a TSAPI connection.
    private func connection(_ value: JSONTree, p: String) -> String {
        let callID = value["callID"].map { $0.integer.map(String.init) ?? $0.string ?? "0" } ?? "0"
        let device = value["deviceID"]?.string ?? ""
        return "<\(p)callID>\(callID)</\(p)callID><\(p)deviceID typeOfNumber=\"other\" mediaClass=\"notKnown\">"
            + "\(DMCCRequest.escape(deviceID(device)))</\(p)deviceID>"
    }

    /// A device as DMCC writes it: `<deviceIdentifier>` with the switch's device ID, or `<notKnown/>`.
    private func device(_ value: JSONTree, p: String) -> String {
        let number = value.string ?? value["deviceID"]?.string ?? ""
        guard !number.isEmpty, value["deviceIDStatus"]?.string != "ID_NOT_KNOWN" else { return "<\(p)notKnown/>" }
        return "<\(p)deviceIdentifier>\(DMCCRequest.escape(deviceID(number)))</\(p)deviceIdentifier>"
    }

    /// `5001` → `5001:CM1::0`; an external number (more than 7 digits) stays as it is.
    private func deviceID(_ number: String) -> String {
        number.count > 7 && number.allSatisfy(\.isNumber) ? number : "\(number):\(switchName)::0"
    }

    private static func linkage(_ ucid: String, p: String) -> String {
        "<\(p)globalCallData><\(p)globalCallLinkageID><\(p)globallyUniqueCallLinkageID>\(ucid)"
            + "</\(p)globallyUniqueCallLinkageID></\(p)globalCallLinkageID></\(p)globalCallData>"
    }

    // MARK: - Private data

    /// The members of the event's private data element, Avaya's names under `ns1:`.
    private func privateData(_ att: JSONTree, type: EventType) -> String {
        guard case .object(let members) = att else { return "" }
        var out = ""
        for (key, value) in members {
            switch key {
            case "trunkGroup", "trunkMember", "progressLocation", "progressDescription":
                if let text = value.string, !text.isEmpty {
                    out += "<ns1:\(key)>\(DMCCRequest.escape(text))</ns1:\(key)>"
                }
            case "split":
                if let text = value.string, !text.isEmpty { out += "<ns1:acdGroup>\(deviceID(text))</ns1:acdGroup>" }
            case "logicalAgent":
                if let text = value.string, !text.isEmpty {
                    out +=
                        "<ns1:logicalAgent><ns1:deviceIdentifier>\(deviceID(text))</ns1:deviceIdentifier></ns1:logicalAgent>"
                }
            case "distributingDevice", "distributingVDN":
                out += "<ns1:\(key)>\(device(value, p: "ns1:"))</ns1:\(key)>"
            case "reason":
                if let text = value.string { out += "<ns1:reason>\(Self.camel(text, prefix: "AR_"))</ns1:reason>" }
            case "consultMode":
                if let text = value.string {
                    out += "<ns1:consultMode>\(Self.camel(text, prefix: "ATT_CM_"))</ns1:consultMode>"
                }
            case "lookaheadInfo":
                out += "<ns1:lookAheadInfo>\(lookahead(value))</ns1:lookAheadInfo>"
            case "userEnteredCode":
                out += "<ns1:userEnteredCode>\(userEnteredCode(value))</ns1:userEnteredCode>"
            case "userInfo" where type == .originated:
                if let hex = Self.hex(value) { out += "<ns1:userData><ns1:string>\(hex)</ns1:string></ns1:userData>" }
            case "originalCallInfo":
                out += "<ns1:originalCallInfo>\(originalCallInfo(value))</ns1:originalCallInfo>"
            case "trunkList":
                guard case .array(let items) = value else { continue }
                out += "<ns1:trunkList>"
                for item in items {
                    out += "<ns1:trunkInterfaceInfoItem>"
                    if let connection = item["connection"] {
                        out += "<ns1:connection>\(self.connection(connection, p: "ns1:"))</ns1:connection>"
                    }
                    if let group = item["trunkGroup"]?.string { out += "<ns1:trunkGroup>\(group)</ns1:trunkGroup>" }
                    if let member = item["trunkMember"]?.string {
                        out += "<ns1:trunkMember>\(member)</ns1:trunkMember>"
                    }
                    out += "</ns1:trunkInterfaceInfoItem>"
                }
                out += "</ns1:trunkList>"
            default:
                continue  // deliveredType (the link derives it), ucid and userInfo (standard elements), history
            }
        }
        return out
    }

    private func lookahead(_ value: JSONTree) -> String {
        guard let type = value["type"]?.string else { return "" }
        return "<ns1:type>\(Self.camel(type, prefix: "LAI_"))</ns1:type>"
    }

    private func userEnteredCode(_ value: JSONTree) -> String {
        var out =
            "<ns1:userEnteredCodeType>\(Self.camel(value["type"]?.string ?? "UE_NONE", prefix: "UE_"))"
            + "</ns1:userEnteredCodeType>"
        if let indicator = value["indicator"]?.string {
            out +=
                "<ns1:userEnteredCodeIndicator>\(Self.camel(indicator, prefix: "UE_"))</ns1:userEnteredCodeIndicator>"
        }
        if let data = value["data"]?.string { out += "<ns1:data>\(DMCCRequest.escape(data))</ns1:data>" }
        if let vdn = value["collectVDN"]?.string {
            out += "<ns1:collectVDN><ns1:deviceIdentifier>\(deviceID(vdn))</ns1:deviceIdentifier></ns1:collectVDN>"
        }
        return out
    }

    private func originalCallInfo(_ value: JSONTree) -> String {
        var out = ""
        if let reason = value["reason"]?.string {
            out += "<ns1:reason>\(Self.camel(reason, prefix: "OR_"))</ns1:reason>"
        }
        if let calling = value["callingDevice"] {
            out += "<ns1:networkCallingDevice>\(device(calling, p: "ns1:"))</ns1:networkCallingDevice>"
        }
        if let called = value["calledDevice"] {
            out += "<ns1:networkCalledDevice>\(device(called, p: "ns1:"))</ns1:networkCalledDevice>"
        }
        if let group = value["trunkGroup"]?.string { out += "<ns1:trunkGroup>\(group)</ns1:trunkGroup>" }
        if let member = value["trunkMember"]?.string { out += "<ns1:trunkMember>\(member)</ns1:trunkMember>" }
        if let code = value["userEnteredCode"] {
            out += "<ns1:userEnteredCode>\(userEnteredCode(code))</ns1:userEnteredCode>"
        }
        if let info = value["userInfo"], let hex = Self.hex(info) {
            out += "<ns1:userData><ns1:string>\(hex)</ns1:string></ns1:userData>"
        }
        if let ucid = value["ucid"]?.string {
            out += "<ns1:callLinkageData>\(Self.linkage(ucid, p: "ns1:"))</ns1:callLinkageData>"
        }
        return out
    }

    // MARK: - Values

    /// `CS_ALERTING` → `alerting`.
    package static func connectionState(_ state: String) -> String {
        switch state {
        case "CS_NULL": "null"
        case "CS_INITIATE": "initiated"
        case "CS_ALERTING": "alerting"
        case "CS_CONNECT": "connected"
        case "CS_HOLD": "hold"
        case "CS_QUEUED": "queued"
        case "CS_FAIL": "fail"
        default: state
        }
    }

    /// `EC_NEW_CALL` → `newCall`: TSAPI's prefixed UPPER_SNAKE to DMCC's camelCase.
    static func camel(_ value: String, prefix: String) -> String {
        let words = (value.hasPrefix(prefix) ? String(value.dropFirst(prefix.count)) : value).split(separator: "_")
        guard let first = words.first else { return value }
        return first.lowercased() + words.dropFirst().map { $0.prefix(1) + $0.dropFirst().lowercased() }.joined()
    }

    /// DMCC's hex `userData` of a TSAPI `userInfo`; nil for none.
    static func hex(_ userInfo: JSONTree) -> String? {
        guard let data = userInfo["data"]?.string, !data.isEmpty, userInfo["type"]?.string != "UUI_NONE" else {
            return nil
        }
        if userInfo["type"]?.string == "UUI_USER_SPECIFIC" { return data.uppercased() }
        return data.utf8.map { byte in
            let digits = String(byte, radix: 16, uppercase: true)
            return digits.count == 1 ? "0" + digits : digits
        }.joined()
    }
}
