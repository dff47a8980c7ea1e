import Foundation
import Hummingbird
import TSAPI

/// `/v1/tokens` (scope `admin`): the same as `calltrail tokens` over HTTP. A new token's secret is in the answer to
/// its `POST`, and nowhere else ever. Making and revoking a token are recorded in the log, with the token that did it.
struct TokenRoutes<Context: CallerRequestContext>: Sendable {
    let access: AccessControl

    func register(on router: Router<Context>) {
        router.get("/v1/tokens") { _, _ in
            let tokens = try await access.store.all()
            return try Response.encoded(Tokens(tokens: tokens.map(TokenDocument.init)))
        }
        router.post("/v1/tokens") { request, context in
            var request = request
            let buffer = try await request.body(
                limit: 16 * 1024, else: APIError(.contentTooLarge, "the body is larger than 16 KB"))
            let body: NewToken
            do {
                body = try JSONDecoder().decode(NewToken.self, from: Data(buffer.readableBytesView))
            } catch {
                throw APIError(
                    .unprocessableContent,
                    "the body must be {\"name\": \"crm-east\", \"scopes\": [\"calls:read\"], \"expiresInDays\": 90}")
            }
            guard APIToken.isValidName(body.name) else {
                throw APIError(
                    .unprocessableContent, "name must be 1 to 64 letters, digits, '.', '_' or '-'", field: "name")
            }
            var scopes = Set<Scope>()
            for (index, text) in body.scopes.enumerated() {
                guard let scope = Scope(rawValue: text) else {
                    throw APIError(
                        .unprocessableContent,
                        "scopes[\(index)] \(text) is not a scope; scopes: "
                            + Scope.allCases.map(\.rawValue).joined(separator: ", "), index: index, field: "scopes")
                }
                scopes.insert(scope)
            }
            guard !scopes.isEmpty else {
                throw APIError(.unprocessableContent, "name at least one scope", field: "scopes")
            }
            if let days = body.expiresInDays, !(1...3650).contains(days) {
                throw APIError(.unprocessableContent, "expiresInDays must be 1 to 3650", field: "expiresInDays")
            }
            let expiresAt = body.expiresInDays.map { Date().addingTimeInterval(Double($0) * 86_400) }
            let secret: String
            do {
                secret = try await access.store.create(name: body.name, scopes: scopes, expiresAt: expiresAt)
            } catch PostgresTokenStore.Refusal.nameTaken {
                throw APIError(.conflict, "a token named \(body.name) exists", field: "name")
            }
            await access.recorder.record(
                AccessEvent.tokenCreated(
                    name: body.name, scopes: scopes, expiresAt: expiresAt, by: .caller(context.caller)))
            // The token counts here at once; should this read fail, the next one (within a second) brings it.
            try? await access.load()
            return try Response.encoded(
                Created(
                    name: body.name, token: secret, scopes: scopes.map(\.rawValue).sorted(),
                    expiresAt: expiresAt.map { Timestamp.format($0) }),
                status: .created)
        }
        router.delete("/v1/tokens/{name}") { _, context in
            let name = context.parameters.get("name") ?? ""
            guard try await access.store.revoke(name: name) else {
                throw APIError(.notFound, "no token named \(name) that is not revoked already", field: "name")
            }
            access.revoked(name)
            await access.recorder.record(AccessEvent.tokenRevoked(name: name, by: .caller(context.caller)))
            return try Response.encoded(Revoked(name: name, revoked: true))
        }
    }

    struct NewToken: Decodable {
        var name: String
        var scopes: [String]
        var expiresInDays: Int?
    }

    struct Created: Encodable {
        var name: String
        var token: String
        var scopes: [String]
        var expiresAt: String?
    }

    struct Revoked: Encodable {
        var name: String
        var revoked: Bool
    }

    struct Tokens: Encodable {
        var tokens: [TokenDocument]
    }

    /// A token as the list shows it: never its secret, nor its digest.
    struct TokenDocument: Encodable {
        var name: String
        var scopes: [String]
        var createdAt: String
        var lastUsedAt: String?
        var expiresAt: String?
        var revokedAt: String?

        init(_ token: APIToken) {
            name = token.name
            scopes = token.scopes.map(\.rawValue).sorted()
            createdAt = Timestamp.format(token.createdAt)
            lastUsedAt = token.lastUsedAt.map { Timestamp.format($0) }
            expiresAt = token.expiresAt.map { Timestamp.format($0) }
            revokedAt = token.revokedAt.map { Timestamp.format($0) }
        }

        enum CodingKeys: String, CodingKey { case name, scopes, createdAt, lastUsedAt, expiresAt, revokedAt }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(name, forKey: .name)
            try c.encode(scopes, forKey: .scopes)
            try c.encode(createdAt, forKey: .createdAt)
            try c.encode(lastUsedAt, forKey: .lastUsedAt)
            try c.encode(expiresAt, forKey: .expiresAt)
            try c.encode(revokedAt, forKey: .revokedAt)
        }
    }
}
