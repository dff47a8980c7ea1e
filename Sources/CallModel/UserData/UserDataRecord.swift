import Foundation
import TSAPI

/// A key's (or a call's) user data now: the projection of its `UserDataChange` events, applied in order.
package struct UserDataRecord: Sendable, Equatable {
    /// The key, or `call:` and the UCID for data attached to a call.
    package var id: String
    package var key: UserDataKey?
    /// The call the data was set on (a key) or attached to.
    package var ucid: UCID?
    /// The data; `null` once deleted.
    package var data: JSONTree
    package var origin: UserDataOrigin
    package var createdAt: Date
    package var updatedAt: Date
    package var expiresAt: Date
    package var deletedAt: Date?
    /// How many changes made it: 1 after the set.
    package var version: Int

    package init(
        id: String, key: UserDataKey?, ucid: UCID?, data: JSONTree, origin: UserDataOrigin, createdAt: Date,
        updatedAt: Date, expiresAt: Date, deletedAt: Date?, version: Int
    ) {
        self.id = id
        self.key = key
        self.ucid = ucid
        self.data = data
        self.origin = origin
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.expiresAt = expiresAt
        self.deletedAt = deletedAt
        self.version = version
    }

    package enum Status: String, Sendable {
        case active, expired, deleted
    }

    package func status(at now: Date) -> Status {
        if deletedAt != nil { return .deleted }
        return now >= expiresAt ? .expired : .active
    }

    /// The record after `change`. A set or attach starts a record (an attach on an existing one replaces its
    /// data and renews it); any other change to a record that does not exist changes nothing, since the
    /// service only writes one after finding the record.
    package static func applying(_ change: UserDataChange, to record: UserDataRecord?) -> UserDataRecord? {
        switch change.operation {
        case .set, .attach:
            guard let data = change.data, let expiresAt = change.expiresAt else { return record }
            if change.operation == .attach, var record {
                record.data = data
                record.expiresAt = expiresAt
                record.deletedAt = nil
                record.updatedAt = change.time
                record.version += 1
                return record
            }
            return UserDataRecord(
                id: change.recordID, key: change.key, ucid: change.ucid, data: data,
                origin: change.origin ?? UserDataOrigin(ucid: change.ucid), createdAt: change.time,
                updatedAt: change.time, expiresAt: expiresAt, deletedAt: nil, version: 1)
        case .replace, .merge, .delete:
            guard var record else { return nil }
            switch change.operation {
            case .replace: record.data = change.data ?? .null
            case .merge: record.data = record.data.merged(with: change.data ?? .object([]))
            default:
                record.data = .null
                record.deletedAt = change.time
            }
            if let expiresAt = change.expiresAt { record.expiresAt = expiresAt }
            record.updatedAt = change.time
            record.version += 1
            return record
        }
    }
}
