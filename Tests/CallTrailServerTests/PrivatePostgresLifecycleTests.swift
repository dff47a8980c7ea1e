import CallTrailServer
import EventStore
import Foundation
import Logging
import Testing

/// The private PostgreSQL `calltrail serve` runs without `DATABASE_URL` is the application's: a start that cannot
/// go on (here, a migration that fails) stops it again, and leaves no server behind holding the folder.
struct PrivatePostgresLifecycleTests {
    @Test func aFailedMigrationStopsThePrivateServer() async throws {
        let folder = URL(fileURLWithPath: "/tmp/calltrail-lifecycle-\(UUID().uuidString.prefix(8))")
        let migrations = folder.appendingPathComponent("migrations")
        try FileManager.default.createDirectory(at: migrations, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try "CREATE TABLE first (id int);\nSELECT no_such_column FROM no_such_table;\n".write(
            to: migrations.appendingPathComponent("0001_broken.sql"), atomically: true, encoding: .utf8)

        var arguments = TestArguments()
        arguments.dataDirectory = folder.appendingPathComponent("data").path
        arguments.migrationsDirectory = migrations.path
        let postgres = EmbeddedPostgres(
            dataDirectory: URL(fileURLWithPath: arguments.dataDirectory), logger: Logger(label: "test"))
        let error = await #expect(throws: EventStoreError.self) { _ = try await buildApplication(arguments) }
        #expect(error?.code == .migration)
        #expect(error?.description.contains("0001_broken.sql") == true, "\(String(describing: error))")

        let socket = "\(try #require(postgres.url.socketDirectory))/.s.PGSQL.\(postgres.url.port)"
        #expect(!FileManager.default.fileExists(atPath: socket), "the private server was stopped")
    }
}
