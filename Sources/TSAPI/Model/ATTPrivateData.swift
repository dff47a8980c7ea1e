/// Avaya private data (`att`) of V7–V9+ events, one union of every field the event types carry.
///
/// A union rather than one struct per ATT event type: the projections ask "does this event carry a UCID, UUI,
/// originalCallInfo?" regardless of type, and a field that appears on a type where the header does not list it
/// (serialisers differ) is still useful. Every field decodes leniently.
package struct ATTPrivateData: Sendable, Hashable, Codable {
    package var deliveredType: String?
    package var trunkGroup: String?
    package var trunkMember: String?
    package var split: String?
    package var lookaheadInfo: LookaheadInfo?
    package var userEnteredCode: UserEnteredCode?
    package var userInfo: UserToUserInfo?
    package var reason: String?
    package var originalCallInfo: OriginalCallInfo?
    package var distributingDevice: DeviceID?
    package var distributingVDN: DeviceID?
    /// The raw `ucid` text; `ucidValue` is the validated form.
    package var ucid: String?
    package var trunkList: [TrunkInfo]
    package var deviceHistory: [DeviceHistoryEntry]
    package var logicalAgent: String?
    package var consultMode: String?
    package var progressLocation: String?
    package var progressDescription: String?
    package var callingDevice: DeviceID?

    /// The UCID, when the event carries a valid one (all zeros or empty mean none).
    package var ucidValue: UCID? { ucid.flatMap { UCID($0) } }

    package init(from decoder: any Decoder) throws {
        let fields = try LenientFields(decoder)
        deliveredType = fields.enumName("deliveredType")
        trunkGroup = fields.enumName("trunkGroup")
        trunkMember = fields.enumName("trunkMember")
        split = (fields["split"] as DeviceID?)?.deviceID
        lookaheadInfo = fields["lookaheadInfo"]
        userEnteredCode = fields["userEnteredCode"]
        userInfo = fields["userInfo"]
        reason = fields.enumName("reason")
        originalCallInfo = fields["originalCallInfo"]
        distributingDevice = fields["distributingDevice"]
        distributingVDN = fields["distributingVDN"]
        ucid = fields["ucid"]
        trunkList = (fields["trunkList"] as FlexibleList<TrunkInfo>?)?.items ?? []
        deviceHistory = (fields["deviceHistory"] as FlexibleList<DeviceHistoryEntry>?)?.items ?? []
        logicalAgent = (fields["logicalAgent"] as DeviceID?)?.deviceID
        consultMode = fields.enumName("consultMode")
        progressLocation = fields.enumName("progressLocation")
        progressDescription = fields.enumName("progressDescription")
        callingDevice = fields["callingDevice"]
    }

    package init() {
        trunkList = []
        deviceHistory = []
    }
}

/// `ATTUserToUserInfo_t`: text for `UUI_IA5_ASCII`, hex for `UUI_USER_SPECIFIC` (the ingest envelope, docs/api.md).
package struct UserToUserInfo: Sendable, Hashable, Codable {
    package var type: String?
    package var data: String

    package init(type: String?, data: String) {
        self.type = type
        self.data = data
    }

    private enum CodingKeys: String, CodingKey { case type, data }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        type = try? container.decodeIfPresent(String.self, forKey: .type)
        if let text = try? container.decodeIfPresent(String.self, forKey: .data) {
            data = text
        } else if let nested = try? container.decodeIfPresent(NestedData.self, forKey: .data) {
            // The C struct's {length, value} form.
            data = nested.value
        } else {
            data = ""
        }
    }

    private struct NestedData: Decodable {
        var value: String
    }

    /// The UUI's bytes: hex-decoded for user-specific UUI, UTF-8 otherwise.
    package var bytes: [UInt8] {
        guard type == "UUI_USER_SPECIFIC" else { return Array(data.utf8) }
        var bytes: [UInt8] = []
        var high: UInt8?
        for character in data.utf8 {
            guard let nibble = Self.nibble(character) else { continue }
            if let value = high {
                bytes.append(value << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        return bytes
    }

    private static func nibble(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// `ATTUserEnteredCode_t`: digits from the most recent vector collect step.
package struct UserEnteredCode: Sendable, Hashable, Codable {
    package var type: String?
    package var indicator: String?
    package var data: String?
    package var collectVDN: String?

    package init(type: String? = nil, indicator: String? = nil, data: String? = nil, collectVDN: String? = nil) {
        self.type = type
        self.indicator = indicator
        self.data = data
        self.collectVDN = collectVDN
    }

    package init(from decoder: any Decoder) throws {
        let fields = try LenientFields(decoder)
        type = fields.enumName("type")
        indicator = fields.enumName("indicator")
        data = fields.enumName("data")
        collectVDN = (fields["collectVDN"] as DeviceID?)?.deviceID
    }
}

/// `ATTLookaheadInfo_t`: interflow data from another site.
package struct LookaheadInfo: Sendable, Hashable, Codable {
    package var type: String?
    package var priority: String?
    package var hours: Int?
    package var minutes: Int?
    package var seconds: Int?
    package var sourceVDN: String?

    init(type: String?, priority: String?, hours: Int?, minutes: Int?, seconds: Int?, sourceVDN: String?) {
        self.type = type
        self.priority = priority
        self.hours = hours
        self.minutes = minutes
        self.seconds = seconds
        self.sourceVDN = sourceVDN
    }

    package init(from decoder: any Decoder) throws {
        let fields = try LenientFields(decoder)
        type = fields.enumName("type")
        priority = fields.enumName("priority")
        hours = fields.integer("hours").map { Int($0) }
        minutes = fields.integer("minutes").map { Int($0) }
        seconds = fields.integer("seconds").map { Int($0) }
        sourceVDN = (fields["sourceVDN"] as DeviceID?)?.deviceID
    }
}

/// `ATTOriginalCallInfo_t`: the original call's ANI, DNIS, UUI, digits and UCID, carried after a transfer or
/// conference so the next agent sees the customer, not the transferring agent.
package struct OriginalCallInfo: Sendable, Hashable, Codable {
    package var reason: String?
    package var callingDevice: DeviceID?
    package var calledDevice: DeviceID?
    package var trunkGroup: String?
    package var trunkMember: String?
    package var lookaheadInfo: LookaheadInfo?
    package var userEnteredCode: UserEnteredCode?
    package var userInfo: UserToUserInfo?
    package var ucid: String?
    package var deviceHistory: [DeviceHistoryEntry]

    package var ucidValue: UCID? { ucid.flatMap { UCID($0) } }

    init(
        reason: String?, callingDevice: DeviceID?, calledDevice: DeviceID?, trunkGroup: String?, trunkMember: String?,
        lookaheadInfo: LookaheadInfo?, userEnteredCode: UserEnteredCode?, userInfo: UserToUserInfo?, ucid: String?,
        deviceHistory: [DeviceHistoryEntry]
    ) {
        self.reason = reason
        self.callingDevice = callingDevice
        self.calledDevice = calledDevice
        self.trunkGroup = trunkGroup
        self.trunkMember = trunkMember
        self.lookaheadInfo = lookaheadInfo
        self.userEnteredCode = userEnteredCode
        self.userInfo = userInfo
        self.ucid = ucid
        self.deviceHistory = deviceHistory
    }

    package init(from decoder: any Decoder) throws {
        let fields = try LenientFields(decoder)
        reason = fields.enumName("reason")
        callingDevice = fields["callingDevice"]
        calledDevice = fields["calledDevice"]
        trunkGroup = fields.enumName("trunkGroup")
        trunkMember = fields.enumName("trunkMember")
        lookaheadInfo = fields["lookaheadInfo"]
        userEnteredCode = fields["userEnteredCode"]
        userInfo = fields["userInfo"]
        ucid = fields["ucid"]
        deviceHistory = (fields["deviceHistory"] as FlexibleList<DeviceHistoryEntry>?)?.items ?? []
    }
}

/// `ATTTrunkInfo_t`.
package struct TrunkInfo: Sendable, Hashable, Codable {
    package var connection: ConnectionID?
    package var trunkGroup: String?
    package var trunkMember: String?

    init(connection: ConnectionID?, trunkGroup: String?, trunkMember: String?) {
        self.connection = connection
        self.trunkGroup = trunkGroup
        self.trunkMember = trunkMember
    }

    package init(from decoder: any Decoder) throws {
        let fields = try LenientFields(decoder)
        connection = fields["connection"]
        trunkGroup = fields.enumName("trunkGroup")
        trunkMember = fields.enumName("trunkMember")
    }
}

/// `DeviceHistoryEntry_t`: a device that was on the call and left, and why.
package struct DeviceHistoryEntry: Sendable, Hashable, Codable {
    package var olddeviceID: String?
    package var cause: String?
    package var oldconnectionID: ConnectionID?

    init(olddeviceID: String?, cause: String?, oldconnectionID: ConnectionID?) {
        self.olddeviceID = olddeviceID
        self.cause = cause
        self.oldconnectionID = oldconnectionID
    }

    package init(from decoder: any Decoder) throws {
        let fields = try LenientFields(decoder)
        olddeviceID = (fields["olddeviceID"] as DeviceID?)?.deviceID
        cause = fields.enumName("cause")
        oldconnectionID = fields["oldconnectionID"]
    }
}
