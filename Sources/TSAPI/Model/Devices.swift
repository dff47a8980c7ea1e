/// A CSTA device: `ExtendedDeviceID_t` (also Calling/Called/Subject/RedirectionDeviceID_t).
///
/// Adapters serialise it either as a bare string (`"5001"`) or as `{deviceID, deviceIDType, deviceIDStatus}`;
/// both must decode everywhere (the ingest envelope, docs/api.md). It re-encodes in the object form.
package struct DeviceID: Codable, Hashable, Sendable, ExpressibleByStringLiteral {
    package var deviceID: String
    package var deviceIDType: String?
    package var deviceIDStatus: String?

    package init(_ deviceID: String, type: String? = nil, status: String? = nil) {
        self.deviceID = deviceID
        self.deviceIDType = type
        self.deviceIDStatus = status
    }

    package init(stringLiteral value: String) { self.init(value) }

    private enum CodingKeys: String, CodingKey { case deviceID, deviceIDType, deviceIDStatus }

    package init(from decoder: any Decoder) throws {
        if let single = try? decoder.singleValueContainer(), let text = try? single.decode(String.self) {
            self.init(text)
            return
        }
        let container = try decoder.container(keyedBy: CodingKeys.self)
        guard container.contains(.deviceID) || container.contains(.deviceIDStatus) || container.contains(.deviceIDType)
        else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a device"))
        }
        self.init(
            (try? container.decodeIfPresent(String.self, forKey: .deviceID)) ?? "",
            type: try? container.decodeIfPresent(String.self, forKey: .deviceIDType),
            status: try? container.decodeIfPresent(String.self, forKey: .deviceIDStatus))
    }

    /// TSAPI reports "no device" as an empty ID or `ID_NOT_KNOWN`.
    package var isKnown: Bool { !deviceID.isEmpty && deviceIDStatus != "ID_NOT_KNOWN" }
}

/// `ConnectionID_t`: one device's leg of one call. callID 0 means "absent" (old Lucent V5 quirk).
package struct ConnectionID: Codable, Hashable, Sendable {
    package var callID: Int64
    package var deviceID: String
    package var devIDType: String?

    package init(callID: Int64, deviceID: String, devIDType: String? = nil) {
        self.callID = callID
        self.deviceID = deviceID
        self.devIDType = devIDType
    }

    private enum CodingKeys: String, CodingKey { case callID, deviceID, devIDType }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.callID = try container.decodeLenientInteger(forKey: .callID) ?? 0
        // deviceID is sometimes itself an ExtendedDeviceID object.
        self.deviceID = (try? container.decodeIfPresent(DeviceID.self, forKey: .deviceID))?.deviceID ?? ""
        self.devIDType = try? container.decodeIfPresent(String.self, forKey: .devIDType)
    }

    package var isTrunk: Bool { devIDType == "DYNAMIC_ID" }
}

/// `Connection_t`: a party of a merged call and the static device behind it.
package struct Connection: Codable, Hashable, Sendable {
    package var party: ConnectionID
    package var staticDevice: DeviceID?

    package init(party: ConnectionID, staticDevice: DeviceID? = nil) {
        self.party = party
        self.staticDevice = staticDevice
    }

    private enum CodingKeys: String, CodingKey { case party, staticDevice }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let party = try? container.decode(ConnectionID.self, forKey: .party) {
            self.party = party
        } else {
            // Some serialisers flatten the struct to {callID, deviceID, ...}.
            self.party = try ConnectionID(from: decoder)
        }
        self.staticDevice = try? container.decodeIfPresent(DeviceID.self, forKey: .staticDevice)
    }
}

/// A TSAPI list (`ConnectionList_t`, `ATTTrunkList_t`, `DeviceHistory_t`) as a plain array or as the
/// `{count, <items>: [...]}` struct.
package struct FlexibleList<Element: Codable & Sendable & Hashable>: Codable, Hashable, Sendable {
    package var items: [Element]

    package init(_ items: [Element]) { self.items = items }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    package init(from decoder: any Decoder) throws {
        if var array = try? decoder.unkeyedContainer() {
            var items: [Element] = []
            while !array.isAtEnd {
                if let item = try? array.decode(Element.self) {
                    items.append(item)
                } else {
                    _ = try? array.decode(SkippedValue.self)
                }
            }
            self.items = items
            return
        }
        let container = try decoder.container(keyedBy: AnyKey.self)
        for key in container.allKeys where key.stringValue != "count" {
            if let items = try? container.decode(FlexibleList<Element>.self, forKey: key) {
                self.items = items.items
                return
            }
        }
        self.items = []
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(items)
    }
}

/// Decodes and discards any JSON value, so a list can skip an element it cannot read.
struct SkippedValue: Decodable {
    init(from decoder: any Decoder) throws {}
}

extension KeyedDecodingContainer {
    /// An integer written as a number or as a numeric string; anything else gives nil rather than an error.
    func decodeLenientInteger(forKey key: Key) throws -> Int64? {
        if let value = try? decodeIfPresent(Int64.self, forKey: key) { return value }
        if let text = try? decodeIfPresent(String.self, forKey: key) { return Int64(text) }
        return nil
    }
}
