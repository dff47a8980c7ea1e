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

    /// Runs `body` with a client whose pool runs only for that long: for start-up steps and the commands that
    /// run once and end (`calltrail tokens`, `calltrail projections rebuild`), whose failures are thrown, not logged.
    package static func withTemporaryClient<Result: Sendable>(
        _ url: DatabaseURL, role: String? = nil, maximumConnections: Int = 4, logger: Logger,
        _ body: @Sendable (PostgresClient) async throws -> Result
    ) async throws -> Result {
        // The pool warns when it is leased before its run loop has started, which a body that queries at once
        // races; that is harmless here, and a command's user should not read a warning for it.
        var quiet = logger
        quiet.logLevel = .error
        let client = PostgresClient(
            configuration: url.clientConfiguration(role: role, maximumConnections: maximumConnections),
            backgroundLogger: quiet)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }
}
