import PostgresNIO
import TestSupport
import Testing

@testable import EventStore

/// Body refs drawn in blocks (migration 0006): unique across processes, across block boundaries, and next to
/// the single draws of the careful path, which still call `nextval` once a ref.
struct RefBlocksTests {
    /// Within a block, across one, several at once, exactly one.
    static let counts = [1, 1_000, 30, 2_500, 1_024, 7]

    @Test func refsAreUniqueAcrossBlocksProcessesAndSingleDraws() async throws {
        try await TestDatabase.with { database in
            try await database.withClient { client in
                // Two allocators stand for two processes on one database.
                let first = RefBlocks(), second = RefBlocks()
                var refs: [Int64] = []
                try await client.withConnection { connection in
                    for count in Self.counts {
                        let taken = try await first.take(count, on: connection, logger: database.logger)
                        #expect(taken.count == count)
                        refs += taken
                        refs += try await second.take(count, on: connection, logger: database.logger)
                        for try await single in try await connection.query(
                            "SELECT nextval('event_ref_seq')", logger: database.logger
                        ).decode(Int64.self) {
                            refs.append(single)
                        }
                    }
                }
                let expected = 2 * Self.counts.reduce(0, +) + Self.counts.count
                #expect(refs.count == expected)
                #expect(Set(refs).count == refs.count)
            }
        }
    }
}
