import Foundation
import TSAPI

/// A key's user data as `GET /v1/userdata/{key}` returns it: the data, the UUI to send, and the call it was set
/// on with that call's customer data at that moment (original ANI/DNIS, VDN, split, digits, UUI).
package struct UserDataDocument: Sendable {
    package var record: UserDataRecord

    package init(_ record: UserDataRecord) { self.record = record }

    /// The document's JSON, written with `JSONWriter` rather than `Codable`: the data goes out exactly as the client
    /// stored it, its members in their order and its numbers as written (an encoder would sort the one and
    /// normalise the other). Every member is present, `null` when not known.
    package var json: String {
        let origin = record.origin
        return JSONWriter.object(capacity: 512) { d in
            d.add("key", record.key?.rawValue)
            d.add("uui", record.key?.rawValue)
            d.add("uuiHex", record.key?.hex)
            d.add("data", tree: record.data)
            d.add("ucid", record.ucid?.rawValue)
            d.add("journeyId", origin.journeyId)
            d.add("device", origin.device)
            d.add("originalAni", origin.originalAni)
            d.add("originalDnis", origin.originalDnis)
            d.add("vdn", origin.vdn)
            d.add("split", origin.split)
            d.add("userEnteredCode", origin.userEnteredCode)
            d.add("originalUui", origin.uui)
            d.add("createdAt", Timestamp.format(record.createdAt))
            d.add("updatedAt", Timestamp.format(record.updatedAt))
            d.add("expiresAt", Timestamp.format(record.expiresAt))
            d.add("version", number: record.version)
        }
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
    private enum ActorKeys: String, CodingKey { case token, address, certificate, name, userAgent }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(position, forKey: .position)
        try c.encode(change.operation.rawValue, forKey: .operation)
        try c.encode(Timestamp.format(change.time), forKey: .time)
        var by = c.nestedContainer(keyedBy: ActorKeys.self, forKey: .by)
        try by.encodeIfPresent(change.actor.token, forKey: .token)
        try by.encodeIfPresent(change.actor.address, forKey: .address)
        try by.encodeIfPresent(change.actor.certificate, forKey: .certificate)
        try by.encode(change.actor.name, forKey: .name)
        try by.encode(change.actor.userAgent, forKey: .userAgent)
        try c.encodeIfPresent(change.data, forKey: change.operation == .merge ? .patch : .data)
        try c.encodeIfPresent(change.ucid, forKey: .ucid)
        try c.encodeIfPresent(change.expiresAt.map { Timestamp.format($0) }, forKey: .expiresAt)
        try c.encodeIfPresent(change.origin, forKey: .origin)
    }
}
