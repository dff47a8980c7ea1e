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
public struct ProjectionRebuilder: Sendable {
    let store: PostgresJourneyStore
    let logger: Logger
    let readSize: Int
    /// Events between writes of the fresh tables: a rebuild writes each journey about once, not once per batch.
    let flushEvery: Int

    public init(store: PostgresJourneyStore, logger: Logger, readSize: Int = 10_000, flushEvery: Int = 100_000) {
        self.store = store
        self.logger = logger
        self.readSize = readSize
        self.flushEvery = flushEvery
    }

    public struct Report: Sendable {
        public var events: Int
        public var journeys: Int
        public var position: Int64
        public var seconds: Double
        public var eventsPerSecond: Double { seconds > 0 ? Double(events) / seconds : 0 }
    }

    public func run(progress: @Sendable (Int64, Int64) -> Void = { _, _ in }) async throws -> Report {
        let started = ContinuousClock.now
        try await store.client.query("SELECT calltrail_create_projection_tables('projection_next')", logger: logger)
        try await store.client.query(
            "UPDATE projection_checkpoints SET position = 0, clock = NULL WHERE name = 'journeys_rebuild'", logger: logger)
        var checkpoint = try await store.checkpoint(.rebuild)
        var tracker = JourneyTracker()
        var events = 0
        var sinceFlush = 0
        var journeys = Set<String>()

        func flush() async throws {
            let changes = tracker.takeChanges()
            journeys.formUnion(changes.changed.map(\.id))
            journeys.subtract(changes.removed)
            try await store.commit(changes, through: tracker.position, clock: tracker.clock, expected: checkpoint, schema: .rebuild)
            checkpoint.position = tracker.position
            checkpoint.clock = tracker.clock
            tracker.evictExpired()
            sinceFlush = 0
        }

        let head = try await store.headPosition()
        var page = try await store.events(after: 0, limit: readSize)
        while let last = page.last?.position {
            // Reading the next page overlaps with reducing this one.
            async let following = store.events(after: last, limit: readSize)
            for event in StoredEventDecoder.decode(page, logger: logger) { tracker.apply(event) }
            tracker.advance(to: last)
            events += page.count
            sinceFlush += page.count
            if sinceFlush >= flushEvery {
                try await flush()
                progress(last, head)
            }
            page = try await following
        }
        try await flush()
        try await swap(position: tracker.position, clock: tracker.clock)
        let elapsed = ContinuousClock.now - started
        return Report(
            events: events, journeys: journeys.count, position: tracker.position,
            seconds: elapsed.seconds)
    }

    private func swap(position: Int64, clock: Date) async throws {
        try await store.client.withTransaction(logger: logger) { connection in
            // Every row of a result must be read before the next statement on the connection.
            for try await _ in try await connection.query(
                "SELECT position FROM projection_checkpoints WHERE name = 'journeys' FOR UPDATE", logger: logger)
            {}
            for try await _ in try await connection.query(
                "SELECT calltrail_swap_projection_tables(\(position), \(clock), \(Int32(Journey.stateVersion)))", logger: logger)
            {}
        }
        logger.info("rebuilt projection swapped in", metadata: ["position": "\(position)"])
    }
}
