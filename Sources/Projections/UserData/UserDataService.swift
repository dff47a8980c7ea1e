import CallModel
import Foundation
import TSAPI

/// The UUI key service's operations, for every way in: the REST routes and the feed's ctiSVR `userdata`
/// requests. Errors are `ProjectionsError`s (`notFound`, `gone`, `conflict`, `behind`, `noCallNow`), whose message
/// each way in passes on; the HTTP edge gives each its status.
package struct UserDataService: Sendable {
    let store: PostgresUserDataStore
    /// Every change goes through the writer, which commits concurrent ones together.
    let writer: UserDataWriter
    let journeys: PostgresJourneyStore
    /// How long data set without a TTL lives, in seconds.
    let defaultTTL: Int
    /// How far the projections are. Data set on a call takes the call's origin (original ANI/DNIS, journey, VDN)
    /// from them, so it first waits until they have reached the call's last stored event (the log's head, for a
    /// device): an IVR that posts a call's events and at once sets data on it gets the whole origin, even while
    /// the projector steps aside for an ingest burst.
    let progress: ProjectionProgress
    /// The longest that wait may take; past it the request gets `503` with `Retry-After` and nothing is stored.
    let originWait: Duration

    package init(
        store: PostgresUserDataStore, writer: UserDataWriter, journeys: PostgresJourneyStore, defaultTTL: Int,
        progress: ProjectionProgress, originWait: Duration
    ) {
        self.store = store
        self.writer = writer
        self.journeys = journeys
        self.defaultTTL = defaultTTL
        self.progress = progress
        self.originWait = originWait
    }

    /// New data under a new key, set on the call `ucid` or the call now at `device` (or on no call).
    package func create(
        data: JSONTree, ucid: UCID?, device: String?, ttl: Int?, actor: UserDataActor
    ) async throws -> UserDataRecord {
        var origin: UserDataOrigin?
        if let ucid {
            origin = try await self.origin(of: ucid)
        } else if let device {
            try await projectionsReached(try await journeys.headPosition(), for: "the log's head")
            origin = try await callNow(at: device)
        }
        let key = UserDataKey.random()
        let now = Date()
        let change = UserDataChange(
            operation: .set, key: key, ucid: origin?.ucid, data: data,
            expiresAt: now.addingTimeInterval(Double(ttl ?? defaultTTL)),
            origin: origin, actor: actor, time: now)
        let (record, _) = try await writer.change(id: key.rawValue, new: true) { current in
            // `new`: the row is not read first (80 random bits: no collision is expected in the life of the
            // universe); when the writer groups this with other changes it is, and a taken key is refused.
            guard current == nil else { throw ProjectionsError(.conflict, "key \(key) is taken; try again") }
            return change
        }
        return record
    }

    /// The key's record if it can be read now.
    package func read(_ key: UserDataKey) async throws -> UserDataRecord {
        try live(try await store.record(id: key.rawValue), key.rawValue, now: Date())
    }

    /// New data, and a new expiry counted from now when `ttl` is given.
    package func replace(
        _ key: UserDataKey, data: JSONTree, ttl: Int?, actor: UserDataActor
    ) async throws -> UserDataRecord {
        let now = Date()
        let (record, _) = try await writer.change(id: key.rawValue) { current in
            let record = try live(current, key.rawValue, now: now)
            return UserDataChange(
                operation: .replace, key: key, ucid: record.ucid, data: data,
                expiresAt: ttl.map { now.addingTimeInterval(Double($0)) }, origin: nil, actor: actor, time: now)
        }
        return record
    }

    /// An RFC 7396 merge patch of the data.
    package func merge(_ key: UserDataKey, patch: JSONTree, actor: UserDataActor) async throws -> UserDataRecord {
        let now = Date()
        let (record, _) = try await writer.change(id: key.rawValue) { current in
            let record = try live(current, key.rawValue, now: now)
            return UserDataChange(
                operation: .merge, key: key, ucid: record.ucid, data: patch, expiresAt: nil, origin: nil, actor: actor,
                time: now)
        }
        return record
    }

    /// Removes the data; an expired key may be deleted too. The history stays.
    package func delete(_ key: UserDataKey, actor: UserDataActor) async throws {
        let now = Date()
        _ = try await writer.change(id: key.rawValue) { current in
            guard let current, current.deletedAt == nil else { throw notFound(current, key.rawValue) }
            return UserDataChange(
                operation: .delete, key: key, ucid: current.ucid, data: nil, expiresAt: nil, origin: nil, actor: actor,
                time: now)
        }
    }

    /// Data attached to the call itself: its context, and its journey's, show it.
    package func attach(_ ucid: UCID, data: JSONTree, ttl: Int?, actor: UserDataActor) async throws -> UserDataRecord {
        let origin = try await self.origin(of: ucid)
        let now = Date()
        let change = UserDataChange(
            operation: .attach, key: nil, ucid: ucid, data: data,
            expiresAt: now.addingTimeInterval(Double(ttl ?? defaultTTL)),
            origin: origin, actor: actor, time: now)
        let (record, _) = try await writer.change(id: change.recordID) { _ in change }
        return record
    }

    package func attached(to ucid: UCID) async throws -> UserDataRecord {
        let id = UserDataChange.recordID(key: nil, ucid: ucid)
        guard let record = try await store.record(id: id) else {
            throw ProjectionsError(.notFound, "no user data attached to call \(ucid)")
        }
        return try live(record, "attached to call \(ucid)", now: Date())
    }

    /// Every change of a key, oldest first, with who made it; also for a deleted or expired key.
    package func history(_ key: UserDataKey) async throws -> [UserDataHistoryItem] {
        let changes = try await store.history(id: key.rawValue)
        guard !changes.isEmpty else { throw ProjectionsError(.notFound, "no user data under key \(key)") }
        return changes.map { UserDataHistoryItem(position: $0.position, change: $0.change) }
    }

    /// The origin of the call `ucid`, read once the projections have reached its last stored event.
    package func origin(of ucid: UCID) async throws -> UserDataOrigin {
        try await projectionsReached(try await journeys.lastPosition(of: ucid), for: "call \(ucid)")
        return UserDataOrigin(ucid: ucid, journey: try await journeys.journey(id: ucid.rawValue))
    }

    /// Waits until the projections have reached `target` (nil: nothing to wait for).
    private func projectionsReached(_ target: Int64?, for what: String) async throws {
        guard let target, target > 0 else { return }
        guard try await progress.wait(until: target, timeout: originWait) != nil else {
            throw ProjectionsError(
                .behind,
                "the projections have not reached \(what) yet (position \(target)), so its origin is not known; nothing was stored: retry"
            )
        }
    }

    /// The call now at a device, for data set by `device`: the one it is talking on, else ringing, else held.
    package func callNow(at device: String) async throws -> UserDataOrigin {
        let rank: [Party.State: Int] = [.connected: 0, .alerting: 1, .initiated: 2, .held: 3, .queued: 4]
        var best: (rank: Int, since: Date, ucid: UCID, journey: Journey)?
        for journey in try await journeys.openJourneys(device: device) {
            for call in CallContextDocument.all(in: journey) {
                for (_, party) in call.parties where party.device == device {
                    let candidate = (rank[party.state] ?? 9, party.since, call.ucid, journey)
                    if best == nil || candidate.0 < best!.rank
                        || (candidate.0 == best!.rank && candidate.1 > best!.since)
                    {
                        best = candidate
                    }
                }
            }
        }
        guard let best else {
            throw ProjectionsError(.noCallNow, "device \(device) has no call now")
        }
        return UserDataOrigin(ucid: best.ucid, journey: best.journey, device: device)
    }
}

/// The record if it can be read now: 404 for none or deleted, 410 once expired.
private func live(_ record: UserDataRecord?, _ name: String, now: Date) throws -> UserDataRecord {
    guard let record, record.deletedAt == nil else { throw notFound(record, name) }
    guard now < record.expiresAt else {
        throw ProjectionsError(.gone, "user data \(name) expired at \(Timestamp.format(record.expiresAt))")
    }
    return record
}

private func notFound(_ record: UserDataRecord?, _ name: String) -> ProjectionsError {
    if let deleted = record?.deletedAt {
        return ProjectionsError(.notFound, "user data \(name) was deleted at \(Timestamp.format(deleted))")
    }
    return ProjectionsError(.notFound, "no user data under key \(name)")
}
