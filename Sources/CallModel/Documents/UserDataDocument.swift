import Foundation
import TSAPI

/// A key's user data as `GET /v1/userdata/{key}` returns it: the data, the UUI to send, and the call it was set
/// on with that call's customer data at that moment (original ANI/DNIS, VDN, split, digits, UUI).
public struct UserDataDocument: Sendable {
    public var record: UserDataRecord

    public init(_ record: UserDataRecord) { self.record = record }

    /// The document's JSON, written by hand: the data goes out as the text it was stored as, with no encoder
    /// in between (a `GET` is the service's most frequent request).
    public var json: String {
        let origin = record.origin
        let fields: [(String, String)] = [
            ("key", JSONText.quote(record.key?.rawValue)),
            ("uui", JSONText.quote(record.key?.rawValue)),
            ("uuiHex", JSONText.quote(record.key?.hex)),
            ("data", record.data.text),
            ("ucid", JSONText.quote(record.ucid?.rawValue)),
            ("journeyId", JSONText.quote(origin.journeyId)),
            ("device", JSONText.quote(origin.device)),
            ("originalAni", JSONText.quote(origin.originalAni)),
            ("originalDnis", JSONText.quote(origin.originalDnis)),
            ("vdn", JSONText.quote(origin.vdn)),
            ("split", JSONText.quote(origin.split)),
            ("userEnteredCode", JSONText.quote(origin.userEnteredCode)),
            ("originalUui", JSONText.quote(origin.uui)),
            ("createdAt", JSONText.quote(Timestamp.format(record.createdAt))),
            ("updatedAt", JSONText.quote(Timestamp.format(record.updatedAt))),
            ("expiresAt", JSONText.quote(Timestamp.format(record.expiresAt))),
            ("version", String(record.version)),
        ]
        return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }
}

/// One change of a key's history (`GET /v1/userdata/{key}/history`): who, when, what.
public struct UserDataHistoryItem: Encodable, Sendable {
    public var position: Int64
    public var change: UserDataChange

    public init(position: Int64, change: UserDataChange) {
        self.position = position
        self.change = change
    }

    private enum Keys: String, CodingKey { case position, operation, time, by, data, patch, ucid, expiresAt, origin }
    private enum ActorKeys: String, CodingKey { case name, userAgent }

    public func encode(to encoder: any Encoder) throws {
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
