import Foundation
import Logging
import PostgresNIO

/// The API tokens in PostgreSQL (`api_tokens`, migration 0011).
package struct PostgresTokenStore: Sendable {
    let client: PostgresClient
    let logger: Logger

    package init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// What `create` refuses.
    package enum Refusal: Error, Equatable {
        case nameTaken
    }

    /// Makes a token and returns its secret: the only time anyone sees it.
    package func create(name: String, scopes: Set<Scope>, expiresAt: Date?) async throws -> String {
        let secret = APIToken.makeSecret()
        let digest = APIToken.digest(of: secret)
        var inserted = false
        let rows = try await client.query(
            """
            INSERT INTO api_tokens (name, digest, scopes, expires_at)
            VALUES (\(name), \(Data(digest)), \(scopes.map(\.rawValue).sorted()), \(expiresAt))
            ON CONFLICT (name) DO NOTHING
            RETURNING 1
            """, logger: logger)
        for try await _ in rows { inserted = true }
        guard inserted else { throw Refusal.nameTaken }
        return secret
    }

    /// Every token, revoked ones too, by name.
    package func all() async throws -> [APIToken] {
        var tokens: [APIToken] = []
        let rows = try await client.query(
            """
            SELECT name, digest, scopes, created_at, expires_at, last_used_at, revoked_at
            FROM api_tokens ORDER BY name
            """, logger: logger)
        for try await (name, digest, scopes, created, expires, used, revoked) in rows.decode(
            (String, Data, [String], Date, Date?, Date?, Date?).self)
        {
            tokens.append(
                APIToken(
                    name: name, scopes: Set(scopes.compactMap(Scope.init(rawValue:))), createdAt: created,
                    expiresAt: expires, lastUsedAt: used, revokedAt: revoked, digest: Array(digest)))
        }
        return tokens
    }

    /// Revokes a token; false when there is no such token (or it was revoked already).
    package func revoke(name: String) async throws -> Bool {
        var revoked = false
        let rows = try await client.query(
            "UPDATE api_tokens SET revoked_at = now() WHERE name = \(name) AND revoked_at IS NULL RETURNING 1",
            logger: logger)
        for try await _ in rows { revoked = true }
        return revoked
    }

    /// Records when tokens were last used (written in batches, not on every request).
    func markUsed(_ names: [String], at time: Date) async throws {
        guard !names.isEmpty else { return }
        try await client.query(
            "UPDATE api_tokens SET last_used_at = \(time) WHERE name = ANY(\(names))", logger: logger)
    }
}
