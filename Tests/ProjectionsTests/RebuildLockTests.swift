import PostgresNIO
import Projections
import TestSupport
import Testing

/// A rebuild owns `projection_next` while it runs: a second one is refused, not interleaved.
struct RebuildLockTests {
    @Test func aSecondRebuildIsRefusedWhileOneRuns() async throws {
        try await TestDatabase.with { database in
            try await database.withClient { pool in
                let store = PostgresJourneyStore(client: pool, logger: database.logger)
                try await pool.withConnection { holder in
                    #expect(try await store.tryLock(.rebuild, on: holder))
                    let refused = await #expect(throws: ProjectionsError.self) {
                        try await ProjectionRebuilder(store: store, logger: database.logger).run()
                    }
                    #expect(refused?.code == .rebuildRunning)
                    try await store.unlock(.rebuild, on: holder)
                }
                let report = try await ProjectionRebuilder(store: store, logger: database.logger).run()
                #expect(report.events == 0)
            }
        }
    }
}
