import CallModel
import Foundation
import HTTPTypes
import Hummingbird
import Projections
import TSAPI

/// How long user data lives and how large it may be; `calltrail serve` sets these from flags.
public struct UserDataPolicy: Sendable {
    /// The TTL of data set without `ttlSeconds`.
    public var defaultTTL: Int
    /// The longest TTL a client may ask for.
    public var maxTTL: Int
    /// The largest request body of the user-data routes.
    public var maxBodyBytes: Int

    public init(defaultTTL: Int = 7_200, maxTTL: Int = 86_400, maxBodyBytes: Int = 65_536) {
        self.defaultTTL = defaultTTL
        self.maxTTL = maxTTL
        self.maxBodyBytes = maxBodyBytes
    }
}

/// The UUI key service (architecture §5, issue 5): data of any size under a short key that fits in UUI, with
/// the call's original ANI/DNIS, and data attached to a call without a key.
struct UserDataRoutes<Context: RequestContext>: Sendable {
    let store: PostgresUserDataStore
    /// Every change goes through the writer, which commits concurrent ones together.
    let writer: UserDataWriter
    let journeys: PostgresJourneyStore
    let policy: UserDataPolicy

    static var actorHeader: HTTPField.Name { HTTPField.Name("CallTrail-Actor")! }

    func register(on router: Router<Context>) {
        router.post("/v1/userdata", use: create)
        router.get("/v1/userdata/{key}", use: read)
        router.put("/v1/userdata/{key}", use: replace)
        router.patch("/v1/userdata/{key}", use: merge)
        router.delete("/v1/userdata/{key}", use: delete)
        router.get("/v1/userdata/{key}/history", use: history)
        router.put("/v1/calls/{ucid}/userdata", use: attach)
        router.get("/v1/calls/{ucid}/userdata", use: attached)
    }

    /// `{"data": any JSON, "ucid"? | "device"?, "ttlSeconds"?}` → 201 with the key, the UUI to send and the expiry.
    @Sendable func create(_ request: Request, context: Context) async throws -> Response {
        var request = request
        let body = try await object(&request)
        let data = try required("data", in: body)
        let ttl = try ttlSeconds(in: body)
        // An explicit null is the same as leaving the member out.
        let ucidText = body["ucid"].flatMap { $0 == .null ? nil : $0 }
        let deviceText = body["device"].flatMap { $0 == .null ? nil : $0 }
        guard ucidText == nil || deviceText == nil else {
            throw APIError(.unprocessableContent, "give ucid or device, not both", field: "device")
        }
        var origin: UserDataOrigin?
        if let ucidText {
            guard let ucid = ucidText.string.flatMap(UCID.init) else {
                throw APIError(.unprocessableContent, "ucid must be a UCID: 20 digits, not all zeros; got \(ucidText.text)", field: "ucid")
            }
            origin = UserDataOrigin(ucid: ucid, journey: try await journeys.journey(id: ucid.rawValue))
        } else if let deviceText {
            guard let device = deviceText.string, !device.isEmpty else {
                throw APIError(.unprocessableContent, "device must be a device number such as \"5001\"; got \(deviceText.text)", field: "device")
            }
            origin = try await callNow(at: device)
        }
        let key = UserDataKey.random()
        let now = Date()
        let change = UserDataChange(
            operation: .set, key: key, ucid: origin?.ucid, data: data, expiresAt: now.addingTimeInterval(Double(ttl ?? policy.defaultTTL)),
            origin: origin, actor: actor(request), time: now)
        let (record, _) = try await writer.change(id: key.rawValue, new: true) { current in
            // `new`: the row is not read first (80 random bits: no collision is expected in the life of the
            // universe); when the writer groups this with other changes it is, and a taken key is refused.
            guard current == nil else { throw APIError(.conflict, "key \(key) is taken; try again") }
            return change
        }
        return .json(UserDataDocument(record).json, status: .created)
    }

    @Sendable func read(_ request: Request, context: Context) async throws -> Response {
        let key = try keyParameter(context)
        return .json(UserDataDocument(try live(try await store.record(id: key.rawValue), key.rawValue, now: Date())).json)
    }

    /// `{"data": any JSON, "ttlSeconds"?}`: new data, and a new expiry counted from now when `ttlSeconds` is given.
    @Sendable func replace(_ request: Request, context: Context) async throws -> Response {
        let key = try keyParameter(context)
        var request = request
        let body = try await object(&request)
        let data = try required("data", in: body)
        let ttl = try ttlSeconds(in: body)
        let actor = actor(request)
        let now = Date()
        let (record, _) = try await writer.change(id: key.rawValue) { current in
            let record = try live(current, key.rawValue, now: now)
            return UserDataChange(
                operation: .replace, key: key, ucid: record.ucid, data: data,
                expiresAt: ttl.map { now.addingTimeInterval(Double($0)) }, origin: nil, actor: actor, time: now)
        }
        return .json(UserDataDocument(record).json)
    }

    /// The body is an RFC 7396 merge patch of the data: members set, `null` members removed.
    @Sendable func merge(_ request: Request, context: Context) async throws -> Response {
        let key = try keyParameter(context)
        var request = request
        let patch = try await json(&request)
        let actor = actor(request)
        let now = Date()
        let (record, _) = try await writer.change(id: key.rawValue) { current in
            let record = try live(current, key.rawValue, now: now)
            return UserDataChange(
                operation: .merge, key: key, ucid: record.ucid, data: patch, expiresAt: nil, origin: nil, actor: actor, time: now)
        }
        return .json(UserDataDocument(record).json)
    }

    /// Removes the data; an expired key may be deleted too. The history stays.
    @Sendable func delete(_ request: Request, context: Context) async throws -> Response {
        let key = try keyParameter(context)
        let actor = actor(request)
        let now = Date()
        _ = try await writer.change(id: key.rawValue) { current in
            guard let current, current.deletedAt == nil else { throw notFound(current, key.rawValue) }
            return UserDataChange(
                operation: .delete, key: key, ucid: current.ucid, data: nil, expiresAt: nil, origin: nil, actor: actor, time: now)
        }
        return Response(status: .noContent)
    }

    /// Every change of a key, oldest first, with who made it; also for a deleted or expired key.
    @Sendable func history(_ request: Request, context: Context) async throws -> Response {
        let key = try keyParameter(context)
        let changes = try await store.history(id: key.rawValue)
        guard !changes.isEmpty else { throw APIError(.notFound, "no user data under key \(key)") }
        return try .encoded(History(key: key, changes: changes.map { UserDataHistoryItem(position: $0.position, change: $0.change) }))
    }

    struct History: Encodable {
        var key: UserDataKey
        var changes: [UserDataHistoryItem]
    }

    /// `{"data": any JSON, "ttlSeconds"?}` attached to the call itself: its context, and its journey's, show it.
    @Sendable func attach(_ request: Request, context: Context) async throws -> Response {
        let ucid = try context.parameters.ucid()
        var request = request
        let body = try await object(&request)
        let data = try required("data", in: body)
        let ttl = try ttlSeconds(in: body)
        let origin = UserDataOrigin(ucid: ucid, journey: try await journeys.journey(id: ucid.rawValue))
        let now = Date()
        let change = UserDataChange(
            operation: .attach, key: nil, ucid: ucid, data: data, expiresAt: now.addingTimeInterval(Double(ttl ?? policy.defaultTTL)),
            origin: origin, actor: actor(request), time: now)
        let (record, _) = try await writer.change(id: change.recordID) { _ in change }
        return .json(UserDataDocument(record).json)
    }

    @Sendable func attached(_ request: Request, context: Context) async throws -> Response {
        let ucid = try context.parameters.ucid()
        let id = UserDataChange.recordID(key: nil, ucid: ucid)
        guard let record = try await store.record(id: id) else { throw APIError(.notFound, "no user data attached to call \(ucid)") }
        return .json(UserDataDocument(try live(record, "attached to call \(ucid)", now: Date())).json)
    }

    // MARK: - Reading requests

    private func keyParameter(_ context: Context) throws -> UserDataKey {
        do {
            return try UserDataKey(validating: context.parameters.get("key") ?? "")
        } catch {
            throw APIError(.badRequest, error.description, field: "key")
        }
    }

    /// The body as one JSON value; 413 past the limit, 400 when it is not JSON.
    private func json(_ request: inout Request) async throws -> JSONTree {
        let limit = policy.maxBodyBytes
        let buffer = try await request.body(
            limit: limit,
            else: APIError(.contentTooLarge, "the body is larger than the user-data limit of \(limit) bytes (--userdata-max-bytes)"))
        do {
            return try JSONTree(parsing: String(buffer: buffer))
        } catch {
            throw APIError(.badRequest, "the body is not JSON: \(error)")
        }
    }

    private func object(_ request: inout Request) async throws -> JSONTree {
        let body = try await json(&request)
        guard body.isObject else { throw APIError(.unprocessableContent, "the body must be a JSON object such as {\"data\": {...}}") }
        return body
    }

    private func required(_ field: String, in body: JSONTree) throws -> JSONTree {
        guard let value = body[field] else {
            throw APIError(.unprocessableContent, "\(field) is required: {\"\(field)\": any JSON}", field: field)
        }
        return value
    }

    private func ttlSeconds(in body: JSONTree) throws -> Int? {
        guard let value = body["ttlSeconds"], value != .null else { return nil }
        guard case .number(let text) = value, let seconds = Int(text), (1...policy.maxTTL).contains(seconds) else {
            throw APIError(
                .unprocessableContent,
                "ttlSeconds must be a whole number of seconds from 1 to \(policy.maxTTL) (the maximum); got \(value.text)",
                field: "ttlSeconds")
        }
        return seconds
    }

    private func actor(_ request: Request) -> UserDataActor {
        UserDataActor(name: request.headers[Self.actorHeader], userAgent: request.headers[.userAgent])
    }

    /// The call now at a device, for data set by `device`: the one it is talking on, else ringing, else held.
    private func callNow(at device: String) async throws -> UserDataOrigin {
        let rank: [Party.State: Int] = [.connected: 0, .alerting: 1, .initiated: 2, .held: 3, .queued: 4]
        var best: (rank: Int, since: Date, ucid: UCID, journey: Journey)?
        for journey in try await journeys.openJourneys(device: device) {
            for call in CallContextDocument.all(in: journey) {
                for (_, party) in call.parties where party.device == device {
                    let candidate = (rank[party.state] ?? 9, party.since, call.ucid, journey)
                    if best == nil || candidate.0 < best!.rank || (candidate.0 == best!.rank && candidate.1 > best!.since) {
                        best = candidate
                    }
                }
            }
        }
        guard let best else {
            throw APIError(.unprocessableContent, "device \(device) has no call now", field: "device")
        }
        return UserDataOrigin(ucid: best.ucid, journey: best.journey, device: device)
    }
}

/// The record if it can be read now: 404 for none or deleted, 410 once expired.
private func live(_ record: UserDataRecord?, _ name: String, now: Date) throws -> UserDataRecord {
    guard let record, record.deletedAt == nil else { throw notFound(record, name) }
    guard now < record.expiresAt else {
        throw APIError(.gone, "user data \(name) expired at \(Timestamp.format(record.expiresAt))")
    }
    return record
}

private func notFound(_ record: UserDataRecord?, _ name: String) -> APIError {
    if let deleted = record?.deletedAt {
        return APIError(.notFound, "user data \(name) was deleted at \(Timestamp.format(deleted))")
    }
    return APIError(.notFound, "no user data under key \(name)")
}
