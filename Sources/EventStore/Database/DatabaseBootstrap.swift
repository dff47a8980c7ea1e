import Logging
import PostgresNIO

/// Brings a database to the current schema before the service opens its pool, and tells which role the pool
/// should work as.
///
/// Migrations need the owner's privileges; serving must not have them (the app role cannot UPDATE or DELETE
/// events), so this runs first on a short-lived client of its own.
package enum DatabaseBootstrap {
    /// The role the migrations grant exactly the privileges the service needs.
    package static let appRole = "calltrail_app"

    /// Migrates, then returns `appRole` when the connecting user may act as it (nil: work as the user itself,
    /// with the append-only trigger as the guard).
    package static func migrate(_ url: DatabaseURL, migrations: [Migration], logger: Logger) async throws -> String? {
        try await withTemporaryClient(url, logger: logger) { client in
            try await MigrationRunner(client: client, migrations: migrations, logger: logger).migrate()
            let rows = try await client.query(
                """
                SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = \(appRole))
                   AND pg_has_role(current_user, \(appRole), 'MEMBER')
                """, logger: logger)
            for try await usable in rows.decode(Bool.self) { return usable ? appRole : nil }
            return nil
        }
    }

    /// Runs `body` with a client whose pool runs only for that long.
    package static func withTemporaryClient<Result: Sendable>(
        _ url: DatabaseURL, role: String? = nil, logger: Logger,
        _ body: @Sendable (PostgresClient) async throws -> Result
    ) async throws -> Result {
        // The pool may log that it is leased before its run loop starts; that race is harmless here.
        var quiet = logger
        quiet.logLevel = .error
        let client = PostgresClient(
            configuration: url.clientConfiguration(role: role, maximumConnections: 4), backgroundLogger: quiet)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }
}
