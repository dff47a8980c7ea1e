import Logging
import PostgresNIO

/// Applies migrations in order, each once, each in its own transaction, recorded in `calltrail_migrations`
/// with a checksum so an edited released file is caught.
///
/// A session advisory lock makes two processes starting together take turns: the second finds the work done.
package struct MigrationRunner: Sendable {
    /// The advisory lock key: "CallTrai" read as a 64-bit number, so it will not clash with an application's.
    static let lockKey: Int64 = 0x43616C6C54726169

    let client: PostgresClient
    let migrations: [Migration]
    let logger: Logger

    package init(client: PostgresClient, migrations: [Migration], logger: Logger) {
        self.client = client
        self.migrations = migrations
        self.logger = logger
    }

    /// Applies what is missing; returns the versions it applied.
    @discardableResult
    package func migrate() async throws -> [Int] {
        try await client.withConnection { connection in
            try await connection.query("SELECT pg_advisory_lock(\(Self.lockKey))", logger: logger)
            do {
                let applied = try await apply(on: connection)
                try await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
                return applied
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
                throw error
            }
        }
    }

    /// The migrations not yet applied (empty when the schema is current); `GET /ready` uses it.
    package func pending() async throws -> [Migration] {
        let applied = try await appliedChecksums(using: { try await client.query($0, logger: logger) })
        return migrations.filter { applied[$0.version] == nil }
    }

    private func apply(on connection: PostgresConnection) async throws -> [Int] {
        try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS calltrail_migrations (
                version integer PRIMARY KEY,
                name text NOT NULL,
                checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """, logger: logger)
        let applied = try await appliedChecksums(using: { try await connection.query($0, logger: logger) })
        var done: [Int] = []
        for migration in migrations {
            let checksum = try await md5(migration.sql, on: connection)
            if let existing = applied[migration.version] {
                guard existing.checksum == checksum else {
                    throw EventStoreError.migration(.changedAfterApply(migration.name))
                }
                continue
            }
            try await connection.query("BEGIN", logger: logger)
            do {
                for (index, statement) in SQLStatementSplitter.split(migration.sql).enumerated() {
                    do {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    } catch let error as PSQLError {
                        throw EventStoreError.migration(
                            .statementFailed(migration.name, index, error.serverInfo?[.message] ?? "\(error.code)"))
                    }
                }
                try await connection.query(
                    "INSERT INTO calltrail_migrations (version, name, checksum) VALUES (\(migration.version), \(migration.name), \(checksum))",
                    logger: logger)
                try await connection.query("COMMIT", logger: logger)
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
            logger.info("applied migration", metadata: ["migration": "\(migration.name)"])
            done.append(migration.version)
        }
        let known = Set(migrations.map(\.version))
        if let unknown = applied.first(where: { !known.contains($0.key) }) {
            throw EventStoreError.migration(.unknownApplied(unknown.key, unknown.value.name))
        }
        return done
    }

    private func appliedChecksums(
        using run: (PostgresQuery) async throws -> PostgresRowSequence
    ) async throws -> [Int: (name: String, checksum: String)] {
        let exists = try await run("SELECT to_regclass('calltrail_migrations') IS NOT NULL")
        var present = false
        for try await value in exists.decode(Bool.self) { present = value }
        guard present else { return [:] }
        var result: [Int: (name: String, checksum: String)] = [:]
        for try await (version, name, checksum) in try await run(
            "SELECT version, name, checksum FROM calltrail_migrations"
        )
        .decode((Int, String, String).self) {
            result[version] = (name, checksum)
        }
        return result
    }

    private func md5(_ text: String, on connection: PostgresConnection) async throws -> String {
        var checksum = ""
        for try await value in try await connection.query("SELECT md5(\(text))", logger: logger).decode(String.self) {
            checksum = value
        }
        return checksum
    }
}
