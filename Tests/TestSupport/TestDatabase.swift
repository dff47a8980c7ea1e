import EventStore
import Foundation
import Logging
import PostgresNIO

/// A fresh database for one test, on the PostgreSQL the test command started, migrated like production.
///
/// Each test gets its own database so tests run in parallel without seeing each other's events. The server is
/// named by `CALLTRAIL_TEST_DATABASE_URL`, which `scripts/test` sets; without it the test fails and says so.
package struct TestDatabase: Sendable {
    package let url: DatabaseURL
    /// The role the service works as (`calltrail_app`), as `buildApplication` would choose it.
    package let role: String?
    package let logger: Logger

    package static var serverURL: DatabaseURL {
        get throws {
            guard let text = ProcessInfo.processInfo.environment["CALLTRAIL_TEST_DATABASE_URL"], !text.isEmpty else {
                throw TestDatabaseError(
                    "CALLTRAIL_TEST_DATABASE_URL is not set: run the tests with scripts/test, which starts a private PostgreSQL"
                )
            }
            return try DatabaseURL(text)
        }
    }

    package static var migrations: [Migration] {
        get throws { try Migration.load(from: Migration.defaultDirectory()) }
    }

    /// Creates and migrates a new database.
    package static func create(migrate: Bool = true) async throws -> TestDatabase {
        let logger = {
            var logger = Logger(label: "test")
            logger.logLevel = .warning
            return logger
        }()
        let server = try serverURL
        let name = "ct_test_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased())"
        _ = try await DatabaseBootstrap.withTemporaryClient(server, logger: logger) { client in
            try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
        }
        let url = server.with(database: name)
        let role = migrate ? try await DatabaseBootstrap.migrate(url, migrations: try migrations, logger: logger) : nil
        return TestDatabase(url: url, role: role, logger: logger)
    }

    /// Runs `body` with a new, migrated database and drops it afterwards, whether `body` succeeded or threw.
    package static func with<Result: Sendable>(
        migrate: Bool = true, _ body: (TestDatabase) async throws -> Result
    ) async throws -> Result {
        let database = try await create(migrate: migrate)
        do {
            let result = try await body(database)
            await database.drop()
            return result
        } catch {
            await database.drop()
            throw error
        }
    }

    /// Runs `body` with a pool working as the app role, like the service.
    package func withClient<Result: Sendable>(
        asOwner: Bool = false, _ body: @Sendable (PostgresClient) async throws -> Result
    ) async throws -> Result {
        try await DatabaseBootstrap.withTemporaryClient(url, role: asOwner ? nil : role, logger: logger, body)
    }

    /// Drops the database (best effort: a failed test may leave it, and the scratch server goes away anyway).
    package func drop() async {
        let name = url.database
        let logger = self.logger
        _ = try? await DatabaseBootstrap.withTemporaryClient(try TestDatabase.serverURL, logger: logger) { client in
            try await client.query(
                PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"), logger: logger)
        }
    }
}

package struct TestDatabaseError: Error, CustomStringConvertible {
    package var description: String
    package init(_ description: String) { self.description = description }
}
