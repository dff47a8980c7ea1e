import ArgumentParser
import EventStore
import Foundation
import Logging

/// The process environment: every option of the commands falls back to a variable of it.
package let environment = ProcessInfo.processInfo.environment

/// Where the database is, shared by every command that needs one.
package struct DatabaseOptions: ParsableArguments {
    @Option(
        name: .customLong("database-url"),
        help:
            "PostgreSQL URL, e.g. postgres://user:pass@host:5432/calltrail (env DATABASE_URL). Without it, a private PostgreSQL runs under --data-dir."
    )
    var databaseURLOption: String?

    /// `--database-url`, else `DATABASE_URL`; nil for the private PostgreSQL.
    package var databaseURL: String? { databaseURLOption ?? environment["DATABASE_URL"] }

    @Option(name: .customLong("data-dir"), help: "Folder of the private PostgreSQL (env CALLTRAIL_DATA_DIR).")
    package var dataDirectory: String = environment["CALLTRAIL_DATA_DIR"] ?? "calltrail-data"

    @Option(
        name: .customLong("migrations"),
        help: "Folder of the NNNN_name.sql migrations (env CALLTRAIL_MIGRATIONS; default ./migrations).")
    var migrationsOption: String?

    /// `--migrations`, else `CALLTRAIL_MIGRATIONS`; nil for the default folder.
    package var migrationsDirectory: String? { migrationsOption ?? environment["CALLTRAIL_MIGRATIONS"] }

    @Option(
        name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (env LOG_LEVEL).")
    package var logLevelName: String = environment["LOG_LEVEL"] ?? "info"

    package var logLevel: Logger.Level { Logger.Level(rawValue: logLevelName) ?? .info }

    /// The command's logger, at `--log-level`.
    package var logger: Logger {
        var logger = Logger(label: "calltrail")
        logger.logLevel = logLevel
        return logger
    }

    package init() {}

    package func validate() throws {
        guard Logger.Level(rawValue: logLevelName) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        if let databaseURL, !databaseURL.isEmpty {
            do { _ = try DatabaseURL(databaseURL) } catch { throw ValidationError(error.description) }
        }
    }
}

extension DatabaseOptions {
    /// The database a one-shot command works on: found (or the private one started), migrated, with the role to
    /// work as. The caller stops `embedded` when done.
    package func prepare(
        logger: Logger
    ) async throws -> (url: DatabaseURL, embedded: EmbeddedPostgres?, role: String?, migrations: [Migration]) {
        let (url, embedded) = try EmbeddedPostgres.locate(
            databaseURL: databaseURL, dataDirectory: dataDirectory, logger: logger)
        do {
            let migrations = try Migration.load(
                from: migrationsDirectory.map { URL(fileURLWithPath: $0) } ?? Migration.defaultDirectory())
            let role = try await DatabaseBootstrap.migrate(url, migrations: migrations, logger: logger)
            return (url, embedded, role, migrations)
        } catch {
            embedded?.stop()
            throw error
        }
    }
}
