import AESLink
import EventStore
import Hummingbird
import TSAPI

/// `GET /v1/links` and `GET /v1/links/{name}`: the state of each AES link, for operators and their monitoring
/// (docs/links.md says how to read it); `POST /v1/links/{name}/switch` moves a link to its other AES;
/// `POST /v1/links/{name}/devices` and `DELETE /v1/links/{name}/devices/{extension}` change what it monitors.
struct LinkRoutes<Context: RequestContext>: Sendable {
    let board: LinkBoard
    let links: [String: AESLink]

    func register(on router: Router<Context>) {
        router.get("/v1/links") { _, _ in try Response.encoded(Links(links: board.all)) }
        router.get("/v1/links/{name}") { _, context in
            let name = context.parameters.get("name") ?? ""
            guard let status = board.status(name) else {
                throw APIError(.notFound, "no link named \(name); GET /v1/links lists them", field: "name")
            }
            return try Response.encoded(status)
        }
        // The session on the AES the link is on is stopped, and one is made on the other (resuming the old session
        // there first): 202, as the move is under way when the answer is written; GET the link to follow it.
        router.post("/v1/links/{name}/switch") { _, context in
            let name = context.parameters.get("name") ?? ""
            guard let link = links[name], board.status(name) != nil else {
                throw APIError(.notFound, "no link named \(name); GET /v1/links lists them", field: "name")
            }
            guard link.isOwner else {
                let owner = board.status(name)?.owner.map { "\($0.host) pid \($0.pid)" } ?? "another process"
                throw APIError(
                    .conflict, "the link \(name) is owned by \(owner), which holds its session: ask that process")
            }
            guard link.switchAES() else {
                throw APIError(.conflict, "the link \(name) has no standby AES to move to (standby in the links file)")
            }
            return try Response.encoded(board.status(name), status: .accepted)
        }
        // 200 with the link's document once AES has answered for each device (one it refused is in `failed`); 202
        // when the link is not up: the change is kept, and the next session monitors the devices as they are.
        router.post("/v1/links/{name}/devices") { request, context in
            let link = try self.link(context)
            var request = request
            let (stations, vdns) = try await Self.devices(&request)
            let outcome = try await Self.storing { try await link.addDevices(stations: stations, vdns: vdns) }
            return try Response.encoded(board.status(link.name), status: outcome == .applied ? .ok : .accepted)
        }
        router.delete("/v1/links/{name}/devices/{extension}") { _, context in
            let link = try self.link(context)
            let number = context.parameters.get("extension") ?? ""
            guard let outcome = try await Self.storing({ try await link.removeDevice(number) }) else {
                throw APIError(
                    .notFound,
                    "the link \(link.name) does not monitor \(number); GET /v1/links/\(link.name) lists its devices",
                    field: "extension")
            }
            return try Response.encoded(board.status(link.name), status: outcome == .applied ? .ok : .accepted)
        }
    }

    private func link(_ context: Context) throws -> AESLink {
        let name = context.parameters.get("name") ?? ""
        guard let link = links[name] else {
            throw APIError(.notFound, "no link named \(name); GET /v1/links lists them", field: "name")
        }
        return link
    }

    /// The most devices one request adds (ranges expanded).
    static var maxDevicesPerRequest: Int { 10_000 }

    /// `{"stations": [...], "vdns": [...]}`, ranges such as `5001-5050` expanded; 422 naming the field and index of
    /// what is wrong.
    static func devices(_ request: inout Request) async throws -> (stations: [String], vdns: [String]) {
        let limit = 256 * 1024
        let buffer = try await request.body(
            limit: limit, else: APIError(.contentTooLarge, "the body is larger than \(limit) bytes"))
        let tree: JSONTree
        do {
            tree = try buffer.withUnsafeReadableBytes { bytes throws(TSAPIError) in try JSONTree(validating: bytes) }
        } catch {
            throw APIError(.badRequest, "the body is not JSON: \(error)")
        }
        guard tree.isObject else {
            throw APIError(.unprocessableContent, "the body must be a JSON object such as {\"stations\": [\"5001\"]}")
        }
        var lists: [String: [String]] = [:]
        for field in ["stations", "vdns"] {
            guard let value = tree[field], value != .null else { continue }
            guard case .array(let items) = value else {
                throw APIError(.unprocessableContent, "\(field) must be an array of extensions", field: field)
            }
            var entries: [String] = []
            for (index, item) in items.enumerated() {
                guard let text = item.string else {
                    throw APIError(
                        .unprocessableContent, "\(field)[\(index)] must be a string such as \"5001\" or \"5001-5050\"",
                        index: index, field: field)
                }
                do {
                    entries += try LinkConfiguration.expand([text], field: "\(field)[\(index)]")
                } catch {
                    throw APIError(.unprocessableContent, error.description, index: index, field: field)
                }
                guard entries.count <= maxDevicesPerRequest else {
                    throw APIError(
                        .unprocessableContent, "at most \(maxDevicesPerRequest) devices in one request", field: field)
                }
            }
            lists[field] = entries
        }
        let stations = lists["stations"] ?? []
        let vdns = lists["vdns"] ?? []
        guard !stations.isEmpty || !vdns.isEmpty else {
            throw APIError(
                .unprocessableContent, "name at least one device: {\"stations\": [\"5001\"], \"vdns\": [\"7001\"]}",
                field: "stations")
        }
        if let both = Set(stations).intersection(vdns).sorted().first {
            throw APIError(.unprocessableContent, "\(both) is named both as a station and as a VDN", field: "vdns")
        }
        return (stations, vdns)
    }

    /// A change the database could not keep is not made: 503, to be sent again.
    static func storing<Value>(_ body: () async throws -> Value) async throws -> Value {
        do {
            return try await body()
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError(.serviceUnavailable, "the change could not be stored; nothing was changed", retryAfter: 2)
        }
    }

    struct Links: Encodable {
        var links: [LinkStatus]
    }
}
