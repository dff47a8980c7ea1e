import Foundation

/// `TSAPIEvent` read from JSON bytes by hand, with exactly the leniency of its `Decodable` conformance (a field
/// of the wrong shape is nil, never an error) at a fraction of the cost: the projections decode every event.
extension TSAPIEvent {
    package init(json bytes: UnsafeRawBufferPointer) throws(TSAPIError) {
        let tree: JSONTree
        do {
            tree = try JSONTree.parse(bytes, only: Self.membersRead)
        } catch {
            throw TSAPIError(.event, "not JSON: \(error.message) at byte \(error.offset)")
        }
        try self.init(tree: tree)
    }

    init(tree: JSONTree) throws(TSAPIError) {
        guard tree.isObject else { throw TSAPIError(.event, "an event is a JSON object") }
        func optionalString(_ key: String) throws(TSAPIError) -> String? {
            switch tree[key] {
            case nil, .null?: return nil
            case .string(let text)?: return text
            default: throw TSAPIError(.event, "\(key) must be a string")
            }
        }
        guard let source = tree["source"]?.string else { throw TSAPIError(.event, "source is missing") }
        guard let timeText = tree["time"]?.string else { throw TSAPIError(.event, "time is missing") }
        guard let time = Timestamp.parse(timeText) else { throw TSAPIError(.event, "not RFC 3339: \(timeText)") }
        guard let type = tree["type"]?.string else { throw TSAPIError(.event, "type is missing") }
        self.id = try optionalString("id")
        self.source = source
        self.switchName = try optionalString("switch")
        self.seq = tree["seq"]?.lenientInteger
        self.time = time
        self.monitor = tree["monitor"]?.lenientInteger
        self.type = type
        let eventType = EventType(rawValue: type)
        self.csta = tree["csta"].map { CSTAEvent(eventType, tree: $0) } ?? .other
        self.att = tree["att"].flatMap(ATTPrivateData.init(tree:))
        self.snapshot = eventType == .linkSnapshot ? LinkSnapshot(envelope: tree) : nil
    }
}

extension CSTAEvent {
    init(_ type: EventType?, tree f: JSONTree) {
        guard f.isObject else {
            self = .other
            return
        }
        func device(_ key: String) -> DeviceID? { f[key].flatMap(DeviceID.init(tree:)) }
        func connection(_ key: String) -> ConnectionID? { f[key].flatMap(ConnectionID.init(tree:)) }
        let info = f["localConnectionInfo"]?.enumName
        let cause = f["cause"]?.enumName
        switch type {
        case .delivered:
            self = .delivered(
                Delivered(
                    connection: connection("connection"), alertingDevice: device("alertingDevice"),
                    callingDevice: device("callingDevice"), calledDevice: device("calledDevice"),
                    lastRedirectionDevice: device("lastRedirectionDevice"), localConnectionInfo: info, cause: cause))
        case .established:
            self = .established(
                Established(
                    establishedConnection: connection("establishedConnection"),
                    answeringDevice: device("answeringDevice"),
                    callingDevice: device("callingDevice"), calledDevice: device("calledDevice"),
                    lastRedirectionDevice: device("lastRedirectionDevice"), localConnectionInfo: info, cause: cause))
        case .connectionCleared:
            self = .connectionCleared(
                ConnectionCleared(
                    droppedConnection: connection("droppedConnection"), releasingDevice: device("releasingDevice"),
                    localConnectionInfo: info, cause: cause))
        case .callCleared:
            self = .callCleared(
                CallCleared(clearedCall: connection("clearedCall"), localConnectionInfo: info, cause: cause))
        case .held:
            self = .held(
                Held(
                    heldConnection: connection("heldConnection"), holdingDevice: device("holdingDevice"),
                    localConnectionInfo: info, cause: cause))
        case .retrieved:
            self = .retrieved(
                Retrieved(
                    retrievedConnection: connection("retrievedConnection"),
                    retrievingDevice: device("retrievingDevice"),
                    localConnectionInfo: info, cause: cause))
        case .transferred:
            self = .transferred(
                Merged(
                    primaryOldCall: connection("primaryOldCall"), secondaryOldCall: connection("secondaryOldCall"),
                    controller: device("transferringDevice"), addedParty: device("transferredDevice"),
                    connections: f["transferredConnections"]?.flexibleList(Connection.init(tree:)) ?? [],
                    localConnectionInfo: info, cause: cause))
        case .conferenced:
            self = .conferenced(
                Merged(
                    primaryOldCall: connection("primaryOldCall"), secondaryOldCall: connection("secondaryOldCall"),
                    controller: device("confController"), addedParty: device("addedParty"),
                    connections: f["conferenceConnections"]?.flexibleList(Connection.init(tree:)) ?? [],
                    localConnectionInfo: info, cause: cause))
        case .diverted:
            self = .diverted(
                Diverted(
                    connection: connection("connection"), divertingDevice: device("divertingDevice"),
                    newDestination: device("newDestination"), localConnectionInfo: info, cause: cause))
        case .failed:
            self = .failed(
                Failed(
                    failedConnection: connection("failedConnection"), failingDevice: device("failingDevice"),
                    calledDevice: device("calledDevice"), localConnectionInfo: info, cause: cause))
        case .queued:
            self = .queued(
                Queued(
                    queuedConnection: connection("queuedConnection"), queue: device("queue"),
                    callingDevice: device("callingDevice"), calledDevice: device("calledDevice"),
                    lastRedirectionDevice: device("lastRedirectionDevice"),
                    numberQueued: f["numberQueued"]?.lenientInteger.map { Int($0) }, localConnectionInfo: info,
                    cause: cause))
        case .originated:
            self = .originated(
                Originated(
                    originatedConnection: connection("originatedConnection"), callingDevice: device("callingDevice"),
                    calledDevice: device("calledDevice"), localConnectionInfo: info, cause: cause))
        case .networkReached:
            self = .networkReached(
                NetworkReached(
                    connection: connection("connection"), trunkUsed: device("trunkUsed"),
                    calledDevice: device("calledDevice"),
                    localConnectionInfo: info, cause: cause))
        case .serviceInitiated:
            self = .serviceInitiated(
                ServiceInitiated(
                    initiatedConnection: connection("initiatedConnection"), localConnectionInfo: info, cause: cause))
        case .monitorEnded, .linkUp, .linkDown, .linkSnapshot, .ucidLinked, .userDataSet, .userDataReplaced,
            .userDataMerged,
            .userDataDeleted, .callUserDataSet, .tokenCreated, .tokenRevoked, .accessRefused, nil:
            self = .other
        }
    }
}

extension JSONTree {
    /// `FlexibleList`'s shapes: an array, or an object wrapping one (with a `count` beside it).
    func flexibleList<Element>(_ element: (JSONTree) -> Element?) -> [Element]? {
        switch self {
        case .array(let items):
            return items.compactMap(element)
        case .object(let members):
            for member in members where member.key != "count" {
                switch member.value {
                case .array, .object: return member.value.flexibleList(element) ?? []
                default: continue
                }
            }
            return []
        default:
            return nil
        }
    }
}

extension DeviceID {
    init?(tree: JSONTree) {
        switch tree {
        case .string(let text):
            self.init(text)
        case .object:
            guard tree["deviceID"] != nil || tree["deviceIDType"] != nil || tree["deviceIDStatus"] != nil else {
                return nil
            }
            self.init(
                tree["deviceID"]?.string ?? "", type: tree["deviceIDType"]?.string,
                status: tree["deviceIDStatus"]?.string)
        default:
            return nil
        }
    }
}

extension ConnectionID {
    init?(tree: JSONTree) {
        guard tree.isObject else { return nil }
        self.init(
            callID: tree["callID"]?.lenientInteger ?? 0,
            deviceID: tree["deviceID"].flatMap(DeviceID.init(tree:))?.deviceID ?? "",
            devIDType: tree["devIDType"]?.string)
    }
}

extension Connection {
    init?(tree: JSONTree) {
        guard tree.isObject else { return nil }
        let party = tree["party"].flatMap(ConnectionID.init(tree:)) ?? ConnectionID(tree: tree)!
        self.init(party: party, staticDevice: tree["staticDevice"].flatMap(DeviceID.init(tree:)))
    }
}

extension ATTPrivateData {
    init?(tree f: JSONTree) {
        guard f.isObject else { return nil }
        self.init()
        deliveredType = f["deliveredType"]?.enumName
        trunkGroup = f["trunkGroup"]?.enumName
        trunkMember = f["trunkMember"]?.enumName
        split = f["split"].flatMap(DeviceID.init(tree:))?.deviceID
        lookaheadInfo = f["lookaheadInfo"].flatMap(LookaheadInfo.init(tree:))
        userEnteredCode = f["userEnteredCode"].flatMap(UserEnteredCode.init(tree:))
        userInfo = f["userInfo"].flatMap(UserToUserInfo.init(tree:))
        reason = f["reason"]?.enumName
        originalCallInfo = f["originalCallInfo"].flatMap(OriginalCallInfo.init(tree:))
        distributingDevice = f["distributingDevice"].flatMap(DeviceID.init(tree:))
        distributingVDN = f["distributingVDN"].flatMap(DeviceID.init(tree:))
        ucid = f["ucid"]?.string
        trunkList = f["trunkList"]?.flexibleList(TrunkInfo.init(tree:)) ?? []
        deviceHistory = f["deviceHistory"]?.flexibleList(DeviceHistoryEntry.init(tree:)) ?? []
        logicalAgent = f["logicalAgent"].flatMap(DeviceID.init(tree:))?.deviceID
        consultMode = f["consultMode"]?.enumName
        progressLocation = f["progressLocation"]?.enumName
        progressDescription = f["progressDescription"]?.enumName
        callingDevice = f["callingDevice"].flatMap(DeviceID.init(tree:))
    }
}

extension UserToUserInfo {
    init?(tree: JSONTree) {
        guard tree.isObject else { return nil }
        let data: String
        switch tree["data"] {
        case .string(let text)?: data = text
        case let nested? where nested["value"]?.string != nil: data = nested["value"]!.string!
        default: data = ""
        }
        self.init(type: tree["type"]?.string, data: data)
    }
}

extension UserEnteredCode {
    init?(tree: JSONTree) {
        guard tree.isObject else { return nil }
        self.init(
            type: tree["type"]?.enumName, indicator: tree["indicator"]?.enumName, data: tree["data"]?.enumName,
            collectVDN: tree["collectVDN"].flatMap(DeviceID.init(tree:))?.deviceID)
    }
}

extension LookaheadInfo {
    init?(tree: JSONTree) {
        guard tree.isObject else { return nil }
        self.init(
            type: tree["type"]?.enumName, priority: tree["priority"]?.enumName,
            hours: tree["hours"]?.lenientInteger.map { Int($0) },
            minutes: tree["minutes"]?.lenientInteger.map { Int($0) },
            seconds: tree["seconds"]?.lenientInteger.map { Int($0) },
            sourceVDN: tree["sourceVDN"].flatMap(DeviceID.init(tree:))?.deviceID)
    }
}

extension OriginalCallInfo {
    init?(tree f: JSONTree) {
        guard f.isObject else { return nil }
        self.init(
            reason: f["reason"]?.enumName, callingDevice: f["callingDevice"].flatMap(DeviceID.init(tree:)),
            calledDevice: f["calledDevice"].flatMap(DeviceID.init(tree:)), trunkGroup: f["trunkGroup"]?.enumName,
            trunkMember: f["trunkMember"]?.enumName,
            lookaheadInfo: f["lookaheadInfo"].flatMap(LookaheadInfo.init(tree:)),
            userEnteredCode: f["userEnteredCode"].flatMap(UserEnteredCode.init(tree:)),
            userInfo: f["userInfo"].flatMap(UserToUserInfo.init(tree:)), ucid: f["ucid"]?.string,
            deviceHistory: f["deviceHistory"]?.flexibleList(DeviceHistoryEntry.init(tree:)) ?? [])
    }
}

extension TrunkInfo {
    init?(tree: JSONTree) {
        guard tree.isObject else { return nil }
        self.init(
            connection: tree["connection"].flatMap(ConnectionID.init(tree:)), trunkGroup: tree["trunkGroup"]?.enumName,
            trunkMember: tree["trunkMember"]?.enumName)
    }
}

extension DeviceHistoryEntry {
    init?(tree: JSONTree) {
        guard tree.isObject else { return nil }
        self.init(
            olddeviceID: tree["olddeviceID"].flatMap(DeviceID.init(tree:))?.deviceID, cause: tree["cause"]?.enumName,
            oldconnectionID: tree["oldconnectionID"].flatMap(ConnectionID.init(tree:)))
    }
}
