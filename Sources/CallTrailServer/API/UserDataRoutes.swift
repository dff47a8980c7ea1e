import CallModel
import Foundation
import HTTPTypes
import Hummingbird
import Projections
import TSAPI

/// How long user data lives and how large it may be; `calltrail serve` sets these from flags.
package struct UserDataPolicy: Sendable {
    /// The TTL of data set without `ttlSeconds`.
    package var defaultTTL: Int
    /// The longest TTL a client may ask for.
    package var maxTTL: Int
    /// The largest request body of the user-data routes.
    package var maxBodyBytes: Int

    package init(defaultTTL: Int = 7_200, maxTTL: Int = 86_400, maxBodyBytes: Int = 65_536) {
        self.defaultTTL = defaultTTL
        self.maxTTL = maxTTL
        self.maxBodyBytes = maxBodyBytes
    }
}

/// The UUI key service: data of any size under a short key that fits in UUI, with
/// the call's original ANI/DNIS, and data attached to a call without a key.
struct UserDataRoutes<Context: CallerRequestContext>: Sendable {
    let service: UserDataService
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
        var ucid: UCID?
        var device: String?
        if let ucidText {
            guard let valid = ucidText.string.flatMap(UCID.init) else {
                throw APIError(
                    .unprocessableContent, "ucid must be a UCID: 20 digits, not all zeros; got \(ucidText.text)",
                    field: "ucid")
            }
            ucid = valid
        } else if let deviceText {
            guard let valid = deviceText.string, !valid.isEmpty else {
                throw APIError(
                    .unprocessableContent, "device must be a device number such as \"5001\"; got \(deviceText.text)",
                    field: "device")
            }
            device = valid
        }
        let record = try await service.create(
            data: data, ucid: ucid, device: device, ttl: ttl, actor: actor(request, context))
        return .json(UserDataDocument(record).json, status: .created)
    }

    @Sendable func read(_ request: Request, context: Context) async throws -> Response {
        .json(UserDataDocument(try await service.read(try keyParameter(context))).json)
    }

    /// `{"data": any JSON, "ttlSeconds"?}`: new data, and a new expiry counted from now when `ttlSeconds` is given.
    @Sendable func replace(_ request: Request, context: Context) async throws -> Response {
        let key = try keyParameter(context)
        var request = request
        let body = try await object(&request)
        let data = try required("data", in: body)
        let ttl = try ttlSeconds(in: body)
        return .json(
            UserDataDocument(try await service.replace(key, data: data, ttl: ttl, actor: actor(request, context))).json)
    }

    /// The body is an RFC 7396 merge patch of the data: members set, `null` members removed.
    @Sendable func merge(_ request: Request, context: Context) async throws -> Response {
        let key = try keyParameter(context)
        var request = request
        let patch = try await json(&request)
        return .json(UserDataDocument(try await service.merge(key, patch: patch, actor: actor(request, context))).json)
    }

    @Sendable func delete(_ request: Request, context: Context) async throws -> Response {
        try await service.delete(try keyParameter(context), actor: actor(request, context))
        return Response(status: .noContent)
    }

    @Sendable func history(_ request: Request, context: Context) async throws -> Response {
        let key = try keyParameter(context)
        return try .encoded(History(key: key, changes: try await service.history(key)))
    }

    struct History: Encodable {
        var key: UserDataKey
        var changes: [UserDataHistoryItem]
    }

    /// `{"data": any JSON, "ttlSeconds"?}` attached to the call itself.
    @Sendable func attach(_ request: Request, context: Context) async throws -> Response {
        let ucid = try context.parameters.ucid()
        var request = request
        let body = try await object(&request)
        let data = try required("data", in: body)
        let ttl = try ttlSeconds(in: body)
        return .json(
            UserDataDocument(try await service.attach(ucid, data: data, ttl: ttl, actor: actor(request, context))).json)
    }

    @Sendable func attached(_ request: Request, context: Context) async throws -> Response {
        .json(UserDataDocument(try await service.attached(to: try context.parameters.ucid())).json)
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
            else: APIError(
                .contentTooLarge, "the body is larger than the user-data limit of \(limit) bytes (--userdata-max-bytes)"
            ))
        let parsed = buffer.withUnsafeReadableBytes { bytes in
            Result { () throws(TSAPIError) -> JSONTree in try JSONTree(validating: bytes) }
        }
        switch parsed {
        case .success(let tree): return tree
        case .failure(let error) where error.isUnstorableText:
            // Text PostgreSQL cannot store: name where it is, and store nothing.
            throw APIError(.unprocessableContent, "\(error.field ?? "the body") \(error.message)", field: error.field)
        case .failure(let error):
            throw APIError(.badRequest, "the body is not JSON: \(error)")
        }
    }

    private func object(_ request: inout Request) async throws -> JSONTree {
        let body = try await json(&request)
        guard body.isObject else {
            throw APIError(.unprocessableContent, "the body must be a JSON object such as {\"data\": {...}}")
        }
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

    /// Who makes a change: the caller access control admitted (the token's name), and what the client says of
    /// itself (`CallTrail-Actor`, `User-Agent`).
    private func actor(_ request: Request, _ context: Context) -> UserDataActor {
        context.caller.actor(name: request.headers[Self.actorHeader], userAgent: request.headers[.userAgent])
    }
}
