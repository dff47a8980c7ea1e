import AESLink
import Hummingbird

/// `GET /v1/links` and `GET /v1/links/{name}`: the state of each AES link, for operators and their monitoring
/// (docs/links.md says how to read it).
struct LinkRoutes<Context: RequestContext>: Sendable {
    let board: LinkBoard

    func register(on router: Router<Context>) {
        router.get("/v1/links") { _, _ in try Response.encoded(Links(links: board.all)) }
        router.get("/v1/links/{name}") { _, context in
            let name = context.parameters.get("name") ?? ""
            guard let status = board.status(name) else {
                throw APIError(.notFound, "no link named \(name); GET /v1/links lists them", field: "name")
            }
            return try Response.encoded(status)
        }
    }

    struct Links: Encodable {
        var links: [LinkStatus]
    }
}
