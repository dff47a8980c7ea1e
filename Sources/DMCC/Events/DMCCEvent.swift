import TSAPI

/// A DMCC call-control event in the shape the ingest envelope gives TSAPI events: the TSAPI type, `csta` and `att`
/// under TSAPI's names, so journeys, the consult pop, user data by UUI key and the feed work from a DMCC link with
/// no change to the projections. The XML itself is kept beside it in the stored event (`dmcc`), so a mapping
/// mistake is fixed by a new version of this code and a rebuild.
///
/// The mapping, in short (docs/links.md has it in full):
/// - the event's name gives the type (`DeliveredEvent` → `CSTA_DELIVERED`, `TransferedEvent` with one r →
///   `CSTA_TRANSFERRED`, Avaya's `EnteredDigitsEvent` → `ATT_ENTERED_DIGITS`);
/// - device IDs are cut to the extension (`5001:CM1::0` → `5001`); a trunk party (`T1001#1`) is a dynamic device;
///   `notKnown` and `restricted` devices are `ID_NOT_KNOWN`;
/// - `localConnectionInfo` and `cause` take TSAPI's enumeration names (`alerting` → `CS_ALERTING`, `newCall` →
///   `EC_NEW_CALL`), as do the private enumerations (`UE_`, `LAI_`, `OR_`, `AR_`);
/// - the UCID comes from `callLinkageData` (`callLinkageDataList/newCallLinkageData` on a transfer or conference),
///   the UUI from `userData` (hex: printable text becomes `UUI_IA5_ASCII`, anything else `UUI_USER_SPECIFIC`);
/// - renamed fields: `transferredToDevice` → `transferredDevice`, `conferencingDevice` → `confController`,
///   `networkInterfaceUsed` → `trunkUsed`, `outboundConnection` → `connection`, connection lists' items
///   `{newConnection, endpoint}` → `{party, staticDevice}`, `acdGroup` → `split`.
/// An element the mapping does not know is left in the XML and named in `unknownElements`; it is never an error.
package struct DMCCEvent: Sendable, Equatable {
    /// The TSAPI event name.
    package var type: String
    /// The monitor that reported it (`monitorCrossRefID`).
    package var monitor: String
    /// `csta` and `att` as JSON text.
    package var csta: String
    package var att: String?
    /// The callID and device of the event's own connection, for routing and for telling monitor copies apart.
    package var callID: Int64?
    package var device: String?
    /// Elements of the event the mapping does not know, by local name.
    package var unknownElements: [String]

    /// The TSAPI name of each call-control event DMCC reports.
    package static let types: [String: String] = [
        "DeliveredEvent": "CSTA_DELIVERED", "EstablishedEvent": "CSTA_ESTABLISHED",
        "ConnectionClearedEvent": "CSTA_CONNECTION_CLEARED", "CallClearedEvent": "CSTA_CALL_CLEARED",
        "HeldEvent": "CSTA_HELD", "RetrievedEvent": "CSTA_RETRIEVED", "TransferedEvent": "CSTA_TRANSFERRED",
        "TransferredEvent": "CSTA_TRANSFERRED", "ConferencedEvent": "CSTA_CONFERENCED",
        "DivertedEvent": "CSTA_DIVERTED", "FailedEvent": "CSTA_FAILED", "QueuedEvent": "CSTA_QUEUED",
        "OriginatedEvent": "CSTA_ORIGINATED", "NetworkReachedEvent": "CSTA_NETWORK_REACHED",
        "ServiceInitiatedEvent": "CSTA_SERVICE_INITIATED", "EnteredDigitsEvent": "ATT_ENTERED_DIGITS",
        "MonitorEndedEvent": "CSTA_MONITOR_ENDED",
    ]

    /// Whether `name` is an event this mapping reads.
    package static func isEvent(_ name: String) -> Bool { types[name] != nil }

    /// Maps one event. `vdns` and `stations` are the link's configured devices: a Delivered takes its
    /// `deliveredType` from where it alerts (a VDN: `DELIVERED_TO_ACD`; a station: `DELIVERED_TO_STATION`; a
    /// trunk party elsewhere, as an outbound call's far end: `DELIVERED_OTHER`).
    package init(_ element: XMLElement, vdns: Set<String>, stations: Set<String>) throws(DMCCError) {
        guard let type = Self.types[element.name] else {
            throw DMCCError(.unexpectedMessage, "\(element.name) is not a call-control event")
        }
        guard let monitor = element.text(of: "monitorCrossRefID") else {
            throw DMCCError(.unexpectedMessage, "\(element.name) has no monitorCrossRefID")
        }
        self.type = type
        self.monitor = monitor
        var mapper = Mapper()
        var csta = JSONWriter(capacity: 512)
        var connection: (callID: Int64?, device: String?)?
        csta.object { o in
            for child in element.children {
                guard let (name, kind) = Self.cstaField(child.name) else {
                    if !Self.readElsewhere.contains(child.name) { mapper.unknown.append(child.name) }
                    continue
                }
                o.key(name)
                mapper.write(child, as: kind, to: &o)
                if connection == nil, kind == .connection {
                    connection = (
                        child.text(of: "callID").flatMap { Int64($0) }, child.text(of: "deviceID").map(Self.extensionOf)
                    )
                }
            }
        }
        self.csta = csta.text
        self.callID = connection?.callID
        self.device = connection?.device
        self.att = mapper.att(element, type: type, vdns: vdns, stations: stations, connectionDevice: connection?.device)
        self.unknownElements = mapper.unknown
    }

    // MARK: - The CSTA part

    enum Kind: Equatable {
        case connection, device, connectionList, localConnectionInfo, cause, number, text
    }

    /// Each DMCC element of an event's CSTA part, with its TSAPI name and how to write it.
    static func cstaField(_ name: String) -> (String, Kind)? {
        switch name {
        case "connection", "establishedConnection", "droppedConnection", "clearedCall", "heldConnection",
            "retrievedConnection", "failedConnection", "queuedConnection", "originatedConnection",
            "initiatedConnection", "primaryOldCall", "secondaryOldCall":
            (name, .connection)
        case "outboundConnection": ("connection", .connection)
        case "alertingDevice", "callingDevice", "calledDevice", "lastRedirectionDevice", "answeringDevice",
            "releasingDevice", "holdingDevice", "retrievingDevice", "transferringDevice", "addedParty",
            "divertingDevice", "newDestination", "failingDevice", "queue", "originatingDevice", "initiatingDevice",
            "networkCallingDevice", "networkCalledDevice", "associatedCallingDevice", "associatedCalledDevice":
            (name, .device)
        case "transferredToDevice": ("transferredDevice", .device)
        case "conferencingDevice": ("confController", .device)
        case "networkInterfaceUsed": ("trunkUsed", .device)
        case "transferredConnections", "conferenceConnections": (name, .connectionList)
        case "localConnectionInfo": (name, .localConnectionInfo)
        case "cause": (name, .cause)
        case "numberQueued", "callsInFront": (name, .number)
        case "digits": (name, .text)
        default: nil
        }
    }

    /// Elements read for `att` or kept in the XML on purpose (what CallTrail has no use for yet).
    static let readElsewhere: Set<String> = [
        "monitorCrossRefID", "callLinkageData", "callLinkageDataList", "userData", "extensions", "correlatorData",
        "servicesPermitted", "mediaCallCharacteristics", "callCharacteristics", "connectionInfo",
        "establishedConnectionInfo", "heldConnectionInfo", "retrievedConnectionInfo", "droppedConnectionInfo",
        "failedConnectionInfo", "queuedConnectionInfo", "originatedConnectionInfo", "initiatedConnectionInfo",
        "outboundConnectionInfo", "deviceHistory", "chargingInfo", "originatingNIDConnection",
        "originatinNIDConnection", "networkCapability", "networkCapabilities",
    ]

    /// The extension of a DMCC device ID (`5001:CM1::0` → `5001`).
    static func extensionOf(_ device: String) -> String {
        String(device.prefix { $0 != ":" })
    }
}

/// Writes the parts of one event, collecting the names it does not know.
struct Mapper {
    var unknown: [String] = []

    mutating func write(_ element: XMLElement, as kind: DMCCEvent.Kind, to w: inout JSONWriter) {
        switch kind {
        case .connection: connection(element, to: &w)
        case .device: device(element, to: &w)
        case .connectionList:
            let items = element.children.filter { $0.name == "connectionListItem" }
            w.object { list in
                list.add("count", number: items.count)
                list.add("connection", array: items) { a, item in
                    a.object { c in
                        if let party = item["newConnection"] ?? item["oldConnection"] {
                            c.key("party")
                            connection(party, to: &c)
                        }
                        if let endpoint = item["endpoint"] {
                            c.key("staticDevice")
                            device(endpoint, to: &c)
                        }
                    }
                }
            }
        case .localConnectionInfo: w.string(Self.connectionState(element.text.trimmed))
        case .cause: w.string(Self.enumeration(element.text.trimmed, prefix: "EC_"))
        case .number:
            let text = element.text.trimmed
            if let number = Int64(text) { w.number(number) } else { w.string(text) }
        case .text: w.string(element.text.trimmed)
        }
    }

    /// `{callID, deviceID, devIDType}`: a trunk party (`T1001#1`) is dynamic, any other device static.
    func connection(_ element: XMLElement, to w: inout JSONWriter) {
        let device = element.text(of: "deviceID").map(DMCCEvent.extensionOf) ?? ""
        w.object { c in
            if let callID = element.text(of: "callID") {
                if let number = Int64(callID) { c.add("callID", number: number) } else { c.add("callID", callID) }
            }
            c.add("deviceID", device)
            c.add("devIDType", Self.isTrunk(device) ? "DYNAMIC_ID" : "STATIC_ID")
        }
    }

    static func isTrunk(_ device: String) -> Bool { device.hasPrefix("T") && device.contains("#") }

    /// A device: the extension as a string when it is known, else `{deviceID: "", deviceIDStatus}`.
    func device(_ element: XMLElement, to w: inout JSONWriter) {
        if let known = Self.deviceText(element) {
            w.string(known)
        } else {
            w.object { d in
                d.add("deviceID", "")
                d.add("deviceIDStatus", element["notRequired"] != nil ? "ID_NOT_REQUIRED" : "ID_NOT_KNOWN")
            }
        }
    }

    /// The extension a device element names, if any: `<deviceIdentifier>`, `<numberDialed>`, or the element's
    /// own text (as in `<acdGroup>3001:CM1::0</acdGroup>`).
    static func deviceText(_ element: XMLElement) -> String? {
        let text =
            element.text(of: "deviceIdentifier") ?? element.text(of: "numberDialed") ?? element.text(
                of: "explicitPublic")
            ?? element.text(of: "implicitPublic") ?? element.text(of: "explicitPrivate") ?? element.text(
                of: "implicitPrivate")
            ?? element.text(of: "other") ?? (element.children.isEmpty ? element.text.trimmed : nil)
        guard let text, !text.isEmpty else { return nil }
        return DMCCEvent.extensionOf(text)
    }

    /// `alerting` → `CS_ALERTING`: TSAPI's LocalConnectionState names.
    static func connectionState(_ value: String) -> String {
        switch value {
        case "null": "CS_NULL"
        case "initiated": "CS_INITIATE"
        case "alerting": "CS_ALERTING"
        case "connected": "CS_CONNECT"
        case "hold": "CS_HOLD"
        case "queued": "CS_QUEUED"
        case "fail": "CS_FAIL"
        default: value
        }
    }

    /// `newCall` → `EC_NEW_CALL`: camelCase to TSAPI's prefixed UPPER_SNAKE. A value already in that form stays.
    static func enumeration(_ value: String, prefix: String) -> String {
        guard !value.isEmpty, value != value.uppercased() else { return value }
        var out = prefix
        for character in value {
            if character.isUppercase, !out.hasSuffix("_") { out += "_" }
            out += character.uppercased()
        }
        return out
    }

    // MARK: - Avaya private data

    /// `att`: the UCID, the UUI, `deliveredType`, and the event's private data under TSAPI's names.
    mutating func att(
        _ event: XMLElement, type: String, vdns: Set<String>, stations: Set<String>, connectionDevice: String?
    ) -> String? {
        let isMerge = type == "CSTA_TRANSFERRED" || type == "CSTA_CONFERENCED"
        let linkage = isMerge ? event.find("callLinkageDataList", "newCallLinkageData") : event["callLinkageData"]
        let ucid = linkage.flatMap(Self.ucid)
        let privateData = event.find("extensions", "privateData", "private")?.children.first
        var members = 0
        let text = JSONWriter.object { a in
            if type == "CSTA_DELIVERED" {
                let alerting = event["alertingDevice"].flatMap(Self.deviceText) ?? connectionDevice ?? ""
                let kind =
                    vdns.contains(alerting)
                    ? "DELIVERED_TO_ACD"
                    : stations.contains(alerting) || !Self.isTrunk(connectionDevice ?? "")
                        ? "DELIVERED_TO_STATION" : "DELIVERED_OTHER"
                a.add("deliveredType", kind)
                members += 1
            }
            if let ucid {
                a.add("ucid", ucid)
                members += 1
            }
            if let userData = event["userData"], let info = Self.userInfo(userData) {
                a.key("userInfo")
                info(&a)
                members += 1
            }
            guard let privateData else { return }
            for field in privateData.children {
                if writePrivate(field, to: &a) { members += 1 }
            }
        }
        return members == 0 ? nil : text
    }

    /// One member of a `...PrivateData` element; false (and counted) for a name the mapping does not know.
    mutating func writePrivate(_ field: XMLElement, to a: inout JSONWriter) -> Bool {
        switch field.name {
        case "trunkGroup", "trunkMember", "progressLocation", "progressDescription":
            a.add(field.name, field.text.trimmed)
        case "acdGroup":
            a.addIfPresent("split", Self.deviceText(field))
        case "logicalAgent":
            a.addIfPresent("logicalAgent", Self.deviceText(field))
        case "distributingDevice", "distributingVDN":
            a.key(field.name)
            device(field, to: &a)
        case "reason":
            a.add("reason", Self.enumeration(field.text.trimmed, prefix: "AR_"))
        case "consultMode":
            a.add("consultMode", Self.enumeration(field.text.trimmed, prefix: "ATT_CM_"))
        case "lookAheadInfo":
            a.key("lookaheadInfo")
            lookahead(field, to: &a)
        case "userEnteredCode":
            a.key("userEnteredCode")
            userEnteredCode(field, to: &a)
        case "userData":
            guard let info = Self.userInfo(field) else { return false }
            a.key("userInfo")
            info(&a)
        case "originalCallInfo":
            a.key("originalCallInfo")
            originalCallInfo(field, to: &a)
        case "trunkList":
            let items = field.children
            a.add("trunkList", array: items) { list, item in
                list.object { t in
                    if let connection = item["connection"] ?? item["connection_asn"] {
                        t.key("connection")
                        self.connection(connection, to: &t)
                    }
                    t.addIfPresent("trunkGroup", item.text(of: "trunkGroup"))
                    t.addIfPresent("trunkMember", item.text(of: "trunkMember"))
                }
            }
        case "channelType", "deviceHistory":
            return true  // known, not read by CallTrail; kept in the XML
        default:
            unknown.append(field.name)
            return false
        }
        return true
    }

    func lookahead(_ element: XMLElement, to w: inout JSONWriter) {
        w.object { l in
            if let type = element.text(of: "type") { l.add("type", Self.enumeration(type, prefix: "LAI_")) }
            if let priority = element.text(of: "priority") {
                l.add("priority", Self.enumeration(priority, prefix: "LAI_"))
            }
            for unit in ["hours", "minutes", "seconds"] {
                if let value = element.text(of: unit).flatMap({ Int64($0) }) { l.add(unit, number: value) }
            }
            if let vdn = element["sourceVDN"].flatMap(Self.deviceText) { l.add("sourceVDN", vdn) }
        }
    }

    func userEnteredCode(_ element: XMLElement, to w: inout JSONWriter) {
        w.object { u in
            u.add("type", Self.enumeration(element.text(of: "userEnteredCodeType") ?? "none", prefix: "UE_"))
            if let indicator = element.text(of: "userEnteredCodeIndicator") {
                u.add("indicator", Self.enumeration(indicator, prefix: "UE_"))
            }
            u.addIfPresent("data", element.text(of: "data") ?? element.text(of: "digits"))
            u.addIfPresent("collectVDN", element["collectVDN"].flatMap(Self.deviceText))
        }
    }

    func originalCallInfo(_ element: XMLElement, to w: inout JSONWriter) {
        w.object { o in
            if let reason = element.text(of: "reason") { o.add("reason", Self.enumeration(reason, prefix: "OR_")) }
            if let calling = element["networkCallingDevice"] ?? element["callingDevice"] {
                o.key("callingDevice")
                device(calling, to: &o)
            }
            if let called = element["networkCalledDevice"] ?? element["calledDevice"] {
                o.key("calledDevice")
                device(called, to: &o)
            }
            o.addIfPresent("trunkGroup", element.text(of: "trunkGroup"))
            o.addIfPresent("trunkMember", element.text(of: "trunkMember"))
            if let lookahead = element["lookAheadInfo"] {
                o.key("lookaheadInfo")
                self.lookahead(lookahead, to: &o)
            }
            if let code = element["userEnteredCode"] {
                o.key("userEnteredCode")
                userEnteredCode(code, to: &o)
            }
            if let userData = element["userData"], let info = Self.userInfo(userData) {
                o.key("userInfo")
                info(&o)
            }
            o.addIfPresent("ucid", element["callLinkageData"].flatMap(Self.ucid))
        }
    }

    /// The UCID of a `callLinkageData` element.
    static func ucid(_ linkage: XMLElement) -> String? {
        linkage.descendant("globallyUniqueCallLinkageID").map(\.text.trimmed).flatMap { $0.isEmpty ? nil : $0 }
    }

    /// TSAPI's `userInfo` from DMCC's `userData` (`<string>` of hex): printable text is `UUI_IA5_ASCII`, anything
    /// else `UUI_USER_SPECIFIC` with the hex as it came.
    static func userInfo(_ userData: XMLElement) -> ((inout JSONWriter) -> Void)? {
        guard let hex = userData.text(of: "string") ?? (userData.children.isEmpty ? userData.text.trimmed : nil),
            !hex.isEmpty
        else { return nil }
        let bytes = Self.bytes(hex: hex)
        let isText = bytes.map { !$0.isEmpty && $0.allSatisfy { $0 >= 0x20 && $0 < 0x7F } } ?? false
        return { w in
            w.object { u in
                if isText, let bytes {
                    u.add("type", "UUI_IA5_ASCII")
                    u.add("data", String(decoding: bytes, as: UTF8.self))
                } else {
                    u.add("type", "UUI_USER_SPECIFIC")
                    u.add("data", hex.uppercased())
                }
            }
        }
    }

    static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = Self.nibble(digits[index]), let low = Self.nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
