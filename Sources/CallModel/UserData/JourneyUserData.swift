import Foundation
import TSAPI

/// The user data of one journey, as its call contexts and the journey show it: each key its calls carried or
/// that was set on one of its UCIDs, the data attached to its calls, and what they add up to.
package struct JourneyUserData: Sendable {
    package struct Entry: Sendable {
        package var record: UserDataRecord
        /// The call that carried the key in its UUI, and when; nil for data set on the journey's own calls.
        package var carried: CarriedKey?
        package var status: UserDataRecord.Status
    }

    /// In the order the data entered the journey.
    package var entries: [Entry]
    /// The customer's numbers from the earliest key that came from another call: a call that arrives from
    /// another site shows the transferring agent as its caller, and the key carries who really called.
    package var originalAni: String?
    package var originalDnis: String?

    package init(journey: Journey, records: [UserDataRecord], now: Date) {
        self.init(carried: journey.userDataKeys, ucids: journey.ucids, records: records, now: now)
    }

    /// The user data of the calls `ucids` that carried the keys `carried` (a feed message names both), from
    /// `records`, which may hold other calls' records too.
    package init(carried keys: [CarriedKey], ucids journeyUcids: [UCID], records: [UserDataRecord], now: Date) {
        let byID = Dictionary(records.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var entries: [Entry] = []
        var seen = Set<String>()
        for carried in keys {
            guard let record = byID[carried.key.rawValue], seen.insert(record.id).inserted else { continue }
            entries.append(Entry(record: record, carried: carried, status: record.status(at: now)))
        }
        let ucids = Set(journeyUcids)
        for record in records where !seen.contains(record.id) && record.ucid.map(ucids.contains) == true {
            seen.insert(record.id)
            entries.append(Entry(record: record, carried: nil, status: record.status(at: now)))
        }
        entries.sort { ($0.carried?.time ?? $0.record.createdAt) < ($1.carried?.time ?? $1.record.createdAt) }
        self.entries = entries
        let foreign = entries.filter { entry in
            entry.carried != nil && entry.record.origin.ucid.map { !ucids.contains($0) } == true
        }.sorted { $0.record.createdAt < $1.record.createdAt }
        originalAni = foreign.lazy.compactMap(\.record.origin.originalAni).first
        originalDnis = foreign.lazy.compactMap(\.record.origin.originalDnis).first
    }

    /// The data a desktop pops: every live entry's data, merged in order (RFC 7396: objects combine, a later
    /// non-object replaces); nil when there is none.
    package var merged: JSONTree? {
        var result: JSONTree?
        for entry in entries where entry.status == .active {
            result = (result ?? .object([])).merged(with: entry.record.data)
        }
        return result
    }

}

/// `userDataKeys` of a call context or a journey: one object per entry. An expired or deleted entry keeps its
/// place and status but shows no data.
extension JourneyUserData.Entry: Encodable {
    private enum Keys: String, CodingKey {
        case key, ucid, status, data, carriedBy, carriedAt, origin, setAt, updatedAt, expiresAt
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(record.key, forKey: .key)
        try c.encode(record.ucid, forKey: .ucid)
        try c.encode(status.rawValue, forKey: .status)
        try c.encode(status == .active ? record.data : JSONTree.null, forKey: .data)
        try c.encode(carried?.ucid, forKey: .carriedBy)
        try c.encode(carried.map { Timestamp.format($0.time) }, forKey: .carriedAt)
        try c.encode(record.origin, forKey: .origin)
        try c.encode(Timestamp.format(record.createdAt), forKey: .setAt)
        try c.encode(Timestamp.format(record.updatedAt), forKey: .updatedAt)
        try c.encode(Timestamp.format(record.expiresAt), forKey: .expiresAt)
    }
}

extension UserDataOrigin: Encodable {
    /// Every field, null when not known.
    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: MemberName.self)
        for (name, value) in fields { try c.encode(value, forKey: MemberName(name)) }
    }
}
