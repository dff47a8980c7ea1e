import CallModel
import Foundation
import Projections
import TSAPI
import TestSupport
import Testing

/// `calltrail_commit_projection` (migration 0006) on a real PostgreSQL, as the app role: a batch's journeys,
/// feed messages and checkpoint go in together, and a batch whose checkpoint moved under it goes in not at all.
struct ProjectionCommitTests {
    @Test func aBatchIsWrittenWholeAndAStaleOneNotAtAll() async throws {
        try await TestDatabase.with { database in
            try await database.withClient { pool in
                let store = PostgresJourneyStore(client: pool, logger: database.logger)
                let feed = PostgresFeedStore(client: pool, logger: database.logger)
                let start = try await store.checkpoint()
                #expect(start.position == 0)

                var (first, through) = try ScenarioFixtures.batch("a-inbound-answered", from: 1)
                let changes = first.takeChanges()
                let messages = first.takeFeed()
                #expect(!changes.changed.isEmpty && !messages.isEmpty)
                try await store.commit(changes, feed: messages, through: through, clock: first.clock, expected: start)

                let written = try await store.checkpoint()
                #expect(written.position == through)
                #expect(written.generation == start.generation)
                for journey in changes.changed { #expect(try await store.journey(id: journey.id) != nil) }
                let head = try await feed.head()
                #expect(head.position == Int64(messages.count))
                #expect(head.eventPosition == through)

                // Another batch, committed by a projector that still believes the checkpoint is at 0.
                var (second, secondThrough) = try ScenarioFixtures.batch("b-abandon-in-queue", from: through + 1)
                let staleChanges = second.takeChanges()
                let staleMessages = second.takeFeed()
                #expect(!staleChanges.changed.isEmpty && !staleMessages.isEmpty)
                do {
                    try await store.commit(
                        staleChanges, feed: staleMessages, through: secondThrough, clock: second.clock, expected: start)
                    Issue.record("a batch against a moved checkpoint was committed")
                } catch let error as ProjectionsError {
                    let move = try #require(error.checkpointMove, "\(error)")
                    #expect(move.expected == 0)
                    #expect(move.found == through)
                }
                #expect(try await store.checkpoint() == written)
                #expect(try await feed.head() == head)
                // The fixtures share UCIDs, so a journey may be found under the same id: it must be the first batch's.
                for journey in staleChanges.changed {
                    #expect((try await store.journey(id: journey.id)?.lastPosition ?? 0) <= through)
                }
            }
        }
    }
}
