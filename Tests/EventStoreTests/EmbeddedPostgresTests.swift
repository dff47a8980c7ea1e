import EventStore
import Foundation
import Logging
import PostgresNIO
import Testing

/// The embedded default of `calltrail serve`: a private server under a data folder, reused on the next start.
struct EmbeddedPostgresTests {
    @Test func startsMigratesStopsAndReusesItsData() async throws {
        let folder = URL(fileURLWithPath: "/tmp/calltrail-embedded-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        let logger = Logger(label: "test")
        let migrations = try Migration.load(from: Migration.defaultDirectory())

        let postgres = EmbeddedPostgres(dataDirectory: folder, logger: logger)
        let url = try await EmbeddedPostgres.offPool { try postgres.start() }
        #expect(url.database == "calltrail")
        let role = try await DatabaseBootstrap.migrate(url, migrations: migrations, logger: logger)
        #expect(role == "calltrail_app")
        try await DatabaseBootstrap.withTemporaryClient(url, logger: logger) { client in
            try await client.query("INSERT INTO streams VALUES ('00001000421700000000', 1, 1, 1)")
            // The small, early-written buffer pool that keeps the kernel's writeback steady.
            for (name, value) in EmbeddedPostgres.serverSettings {
                var current: String?
                for try await setting in try await client.query("SELECT current_setting(\(name))").decode(String.self) {
                    current = setting
                }
                #expect(current == value, "\(name)")
            }
        }
        try await EmbeddedPostgres.offPool { postgres.stop() }
        let socket = "\(try #require(url.socketDirectory))/.s.PGSQL.\(url.port)"
        #expect(!FileManager.default.fileExists(atPath: socket), "the server is down after stop()")

        // A second start against the same folder finds the data.
        let again = EmbeddedPostgres(dataDirectory: folder, logger: logger)
        let url2 = try await EmbeddedPostgres.offPool { try again.start() }
        defer { again.stop() }
        let count = try await DatabaseBootstrap.withTemporaryClient(url2, logger: logger) { client in
            var count = 0
            for try await value in try await client.query("SELECT count(*)::int FROM streams").decode(Int.self) {
                count = value
            }
            return count
        }
        #expect(count == 1)
    }

    @Test func aPrivateServerThatStoppedIsStartedAgain() async throws {
        let folder = URL(fileURLWithPath: "/tmp/calltrail-embedded-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        let logger = Logger(label: "test")
        let postgres = EmbeddedPostgres(dataDirectory: folder, logger: logger)
        let url = try await EmbeddedPostgres.offPool { try postgres.start() }
        defer { postgres.stop() }
        #expect(
            try await EmbeddedPostgres.offPool { try postgres.restartIfStopped() } == false, "running: nothing to do")
        try await EmbeddedPostgres.offPool { postgres.stop() }
        #expect(try await EmbeddedPostgres.offPool { try postgres.restartIfStopped() } == true)
        let answer = try await DatabaseBootstrap.withTemporaryClient(url, logger: logger) { client in
            var value = 0
            for try await one in try await client.query("SELECT 1").decode(Int.self) { value = one }
            return value
        }
        #expect(answer == 1)
    }
}
