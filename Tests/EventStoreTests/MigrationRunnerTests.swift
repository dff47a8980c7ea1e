import EventStore
import Foundation
import Logging
import PostgresNIO
import TestSupport
import Testing

struct MigrationRunnerTests {
    @Test func appliesEachMigrationOnceEvenWhenTwoProcessesStartTogether() async throws {
        try await TestDatabase.with(migrate: false) { database in
            let migrations = try TestDatabase.migrations
            // Two "processes" (separate pools) migrate at the same moment: the advisory lock makes them take turns.
            async let first = DatabaseBootstrap.withTemporaryClient(database.url, logger: database.logger) { client in
                try await MigrationRunner(client: client, migrations: migrations, logger: database.logger).migrate()
            }
            async let second = DatabaseBootstrap.withTemporaryClient(database.url, logger: database.logger) { client in
                try await MigrationRunner(client: client, migrations: migrations, logger: database.logger).migrate()
            }
            let applied = try await [first, second]
            #expect(
                applied.flatMap { $0 }.sorted() == migrations.map(\.version), "every migration applied exactly once")
            try await database.withClient(asOwner: true) { client in
                let runner = MigrationRunner(client: client, migrations: migrations, logger: database.logger)
                #expect(try await runner.migrate() == [], "a third run has nothing to do")
                #expect(try await runner.pending() == [])
                var count = 0
                for try await value in try await client.query("SELECT count(*)::int FROM calltrail_migrations").decode(
                    Int.self)
                {
                    count = value
                }
                #expect(count == migrations.count)
            }
        }
    }

    @Test func aChangedAppliedMigrationIsAnError() async throws {
        try await TestDatabase.with { database in
            var edited = try TestDatabase.migrations
            edited[0].sql += "\n-- an innocent-looking edit\n"
            let changed = edited
            try await database.withClient(asOwner: true) { client in
                let error = await #expect(throws: EventStoreError.self) {
                    try await MigrationRunner(client: client, migrations: changed, logger: database.logger).migrate()
                }
                #expect(error?.description.contains("0001_event_store.sql was changed after it was applied") == true)
            }
        }
    }

    @Test func aFailingMigrationLeavesNothingBehindAndNamesTheStatement() async throws {
        try await TestDatabase.with { database in
            var migrations = try TestDatabase.migrations
            migrations.append(
                Migration(
                    version: 9999, name: "9999_broken.sql",
                    sql: "CREATE TABLE half_done (x int);\nSELECT * FROM no_such_table;"))
            let all = migrations
            try await database.withClient(asOwner: true) { client in
                let runner = MigrationRunner(client: client, migrations: all, logger: database.logger)
                let error = await #expect(throws: EventStoreError.self) { try await runner.migrate() }
                #expect(error?.description.contains("9999_broken.sql, statement 2") == true)
                #expect(try await runner.pending().map(\.version) == [9999])
                var exists = true
                for try await value in try await client.query("SELECT to_regclass('half_done') IS NOT NULL").decode(
                    Bool.self)
                {
                    exists = value
                }
                #expect(!exists, "the migration's transaction rolled back")
            }
        }
    }

    @Test func loadsNumberedFilesInOrderAndRejectsBadNames() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("migrations-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try "SELECT 2;".write(to: folder.appendingPathComponent("0010_second.sql"), atomically: true, encoding: .utf8)
        try "SELECT 1;".write(to: folder.appendingPathComponent("0002_first.sql"), atomically: true, encoding: .utf8)
        try "not sql".write(to: folder.appendingPathComponent("README.md"), atomically: true, encoding: .utf8)
        #expect(try Migration.load(from: folder).map(\.version) == [2, 10])
        try "SELECT 3;".write(to: folder.appendingPathComponent("third.sql"), atomically: true, encoding: .utf8)
        #expect(throws: EventStoreError.self) { try Migration.load(from: folder) }
    }
}
