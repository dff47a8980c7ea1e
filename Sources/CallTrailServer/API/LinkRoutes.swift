import AESLink
import Hummingbird

/// `GET /v1/links` and `GET /v1/links/{name}`: the state of each AES link, for operators and their monitoring
/// (docs/links.md says how to read it); `POST /v1/links/{name}/switch` moves a link to its other AES.
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
            guard link.switchAES() else {
                throw APIError(.conflict, "the link \(name) has no standby AES to move to (standby in the links file)")
            }
            return try Response.encoded(board.status(name), status: .accepted)
        }
    }

    struct Links: Encodable {
        var links: [LinkStatus]
    }
}
