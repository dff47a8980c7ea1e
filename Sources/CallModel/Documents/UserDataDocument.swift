import Foundation
import TSAPI

/// A key's user data as `GET /v1/userdata/{key}` returns it: the data, the UUI to send, and the call it was set
/// on with that call's customer data at that moment (original ANI/DNIS, VDN, split, digits, UUI).
/// Written through `Codable` like every document served at request speed.
package struct UserDataDocument: Sendable, Encodable {
    package var record: UserDataRecord

    package init(_ record: UserDataRecord) { self.record = record }

    private enum Keys: String, CodingKey {
        case key, uui, uuiHex, data, ucid, journeyId, device, originalAni, originalDnis, vdn, split
        case userEnteredCode, originalUui, createdAt, updatedAt, expiresAt, version
    }

    /// Every member is present, `null` when not known: a client reads the same members from every answer.
    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        let origin = record.origin
        try c.encode(record.key?.rawValue, forKey: .key)
        try c.encode(record.key?.rawValue, forKey: .uui)
        try c.encode(record.key?.hex, forKey: .uuiHex)
        try c.encode(record.data, forKey: .data)
        try c.encode(record.ucid?.rawValue, forKey: .ucid)
        try c.encode(origin.journeyId, forKey: .journeyId)
        try c.encode(origin.device, forKey: .device)
        try c.encode(origin.originalAni, forKey: .originalAni)
        try c.encode(origin.originalDnis, forKey: .originalDnis)
        try c.encode(origin.vdn, forKey: .vdn)
        try c.encode(origin.split, forKey: .split)
        try c.encode(origin.userEnteredCode, forKey: .userEnteredCode)
        try c.encode(origin.uui, forKey: .originalUui)
        try c.encode(Timestamp.format(record.createdAt), forKey: .createdAt)
        try c.encode(Timestamp.format(record.updatedAt), forKey: .updatedAt)
        try c.encode(Timestamp.format(record.expiresAt), forKey: .expiresAt)
        try c.encode(record.version, forKey: .version)
    }
}

/// One change of a key's history (`GET /v1/userdata/{key}/history`): who, when, what.
package struct UserDataHistoryItem: Encodable, Sendable {
    package var position: Int64
    package var change: UserDataChange

    package init(position: Int64, change: UserDataChange) {
        self.position = position
        self.change = change
    }

    private enum Keys: String, CodingKey { case position, operation, time, by, data, patch, ucid, expiresAt, origin }
    private enum ActorKeys: String, CodingKey { case name, userAgent }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(position, forKey: .position)
        try c.encode(change.operation.rawValue, forKey: .operation)
        try c.encode(Timestamp.format(change.time), forKey: .time)
        var by = c.nestedContainer(keyedBy: ActorKeys.self, forKey: .by)
        try by.encode(change.actor.name, forKey: .name)
        try by.encode(change.actor.userAgent, forKey: .userAgent)
        try c.encodeIfPresent(change.data, forKey: change.operation == .merge ? .patch : .data)
        try c.encodeIfPresent(change.ucid, forKey: .ucid)
        try c.encodeIfPresent(change.expiresAt.map { Timestamp.format($0) }, forKey: .expiresAt)
        try c.encodeIfPresent(change.origin, forKey: .origin)
    }
}
