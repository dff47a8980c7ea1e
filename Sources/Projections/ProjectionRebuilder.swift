import CallModel
import EventStore
import Foundation
import Logging
import PostgresNIO
import TSAPI

/// `calltrail projections rebuild`: replays the whole store into fresh tables and swaps them in, while the
/// service goes on serving the old ones.
///
/// The fresh tables are written in `projection_next` with their own checkpoint. Once the replay has caught up
/// with the log, the swap takes the live checkpoint's row lock (so no projector batch is half-written), renames
/// the schemas and sets the live checkpoint to the rebuild's position with a new generation. A running
/// projector then sees the generation change, reloads its state from the new tables, and carries on from there.
package struct ProjectionRebuilder: Sendable {
    let store: PostgresJourneyStore
    let logger: Logger
    let readSize: Int
    /// Events between writes of the fresh tables: a rebuild writes each journey about once, not once per batch.
    let flushEvery: Int
    /// Event positions per statement when the swap appends the feed's tail (`RebuildFeedTail`).
    let feedEventsPerAppend: Int64

    package init(
        store: PostgresJourneyStore, logger: Logger, readSize: Int = 20_000, flushEvery: Int = 250_000,
        feedEventsPerAppend: Int64 = 50_000
    ) {
        self.store = store
        self.logger = logger
        self.readSize = readSize
        self.flushEvery = flushEvery
        self.feedEventsPerAppend = feedEventsPerAppend
    }

    package struct Report: Sendable {
        package var events: Int
        package var journeys: Int
        package var position: Int64
        package var seconds: Double
        package var eventsPerSecond: Double { seconds > 0 ? Double(events) / seconds : 0 }
    }

    /// Rebuilds, holding the rebuild lock throughout: two rebuilds at once would write the same fresh tables.
    package func run(progress: @Sendable (Int64, Int64) -> Void = { _, _ in }) async throws -> Report {
        try await store.client.withConnection { lockConnection in
            guard try await store.tryLock(.rebuild, on: lockConnection) else { throw ProjectionsError.rebuildRunning }
            let feedTail = RebuildFeedTail(
                connection: lockConnection, logger: logger, eventsPerAppend: feedEventsPerAppend)
            do {
                try await feedTail.create()
                let report = try await replay(progress: progress, feedTail: feedTail)
                await feedTail.drop()
                try await store.unlock(.rebuild, on: lockConnection)
                return report
            } catch {
                await feedTail.drop()
                try? await store.unlock(.rebuild, on: lockConnection)
                throw error
            }
        }
    }

    /// `feedTail`: staged on the rebuild's own connection, which holds its lock, and which the swap runs on.
    private func replay(progress: @Sendable (Int64, Int64) -> Void, feedTail: RebuildFeedTail) async throws -> Report {
        let started = ContinuousClock.now
        try await store.client.query(
            "SELECT calltrail_create_projection_tables('projection_next', false)", logger: logger)
        try await store.client.query(
            "UPDATE projection_checkpoints SET position = 0, clock = NULL WHERE name = 'journeys_rebuild'",
            logger: logger)
        let head = try await store.headPosition()
        var checkpoint = try await store.checkpoint(.rebuild)
        var tracker = JourneyTracker()
        var events = 0
        var sinceFlush = 0
        var journeys = Set<String>()
        // Feed messages of the events the live feed has not reached: the swap stores them, so subscribers miss
        // nothing that happened while the rebuild caught up.
        let feed = PostgresFeedStore(client: store.client, logger: logger)

        // Writes run in a child task while the next pages are reduced, one at a time and in order.
        try await withThrowingTaskGroup(of: Void.self) { writes in
            func flush() async throws {
                try await writes.next()
                let changes = tracker.takeChanges()
                journeys.formUnion(changes.changed.map(\.id))
                journeys.subtract(changes.removed)
                let (expected, position, clock) = (checkpoint, tracker.position, tracker.clock)
                writes.addTask {
                    try await store.commit(
                        changes, through: position, clock: clock, expected: expected, schema: .rebuild)
                }
                checkpoint.position = position
                checkpoint.clock = clock
                tracker.evictExpired()
                sinceFlush = 0
            }

            var page = try await decodedPage(after: 0)
            while let last = page.last {
                // The next page is read and decoded on another core while this one is reduced.
                async let following = decodedPage(after: last.position)
                // Messages are made only for pages the live feed has not passed: most of a rebuild makes none.
                let fed = try await feed.head().eventPosition
                tracker.emitsFeed = last.position > fed
                for event in page.events { tracker.apply(event) }
                tracker.advance(to: last.position)
                let unfed = tracker.takeFeed().filter { $0.eventPosition > fed }
                if !unfed.isEmpty { try await feedTail.add(unfed) }
                events += page.count
                sinceFlush += page.count
                if sinceFlush >= flushEvery {
                    try await flush()
                    progress(last.position, head)
                }
                page = try await following
            }
            try await flush()
            try await writes.waitForAll()
        }
        try await store.client.query("SELECT calltrail_index_projection_tables('projection_next')", logger: logger)
        try await swap(position: tracker.position, clock: tracker.clock, feed: feedTail)
        return Report(
            events: events, journeys: journeys.count, position: tracker.position,
            seconds: (ContinuousClock.now - started).seconds)
    }

    /// A page of the log, decoded; `last` is its last stored event (decoded or not), `count` how many it read.
    private struct Page: Sendable {
        var events: [CallEvent]
        var last: (position: Int64, body: String?)?
        var count: Int
    }

    private func decodedPage(after position: Int64) async throws -> Page {
        let stored = try await store.events(after: position, limit: readSize)
        return Page(events: StoredEventDecoder.decode(stored, logger: logger), last: stored.last, count: stored.count)
    }

    private func swap(position: Int64, clock: Date, feed: RebuildFeedTail) async throws {
        try await feed.connection.withTransaction(logger: logger) { connection in
            // Every row of a result must be read before the next statement on the connection.
            for try await _ in try await connection.query(
                "SELECT position FROM projection_checkpoints WHERE name = 'journeys' FOR UPDATE", logger: logger)
            {}
            // The feed first: the swap's DROP of the old tables holds their locks until commit, and journey reads
            // would wait behind a long tail.
            try await feed.append(through: position)
            for try await _ in try await connection.query(
                "SELECT calltrail_swap_projection_tables(\(position), \(clock), \(Int32(Journey.stateVersion)))",
                logger: logger)
            {}
        }
        logger.info("rebuilt projection swapped in", metadata: ["position": "\(position)"])
    }
}
