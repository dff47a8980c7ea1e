import EventStore
import Foundation
import Projections
import TSAPI
import TestSupport
import Testing

/// The projector steps aside while this process's appender is saturated, for no longer than its longest pause,
/// and not at all once the burst is over. A real PostgreSQL; the saturation is reported by hand, as the
/// appender's lanes would (`AppendSaturationTests` checks that side).
struct ProjectorPauseTests {
    static func append(_ scenario: String, to store: PostgresEventStore) async throws -> Int64 {
        let body = try ScenarioFixtures.lines(scenario).joined(separator: "\n")
        _ = try await store.append([try IngestBatchParser.parse(Array(body.utf8))])
        return try await store.headPosition()
    }

    static func waitForCheckpoint(_ journeys: PostgresJourneyStore, at position: Int64) async throws {
        for _ in 0..<1_000 {
            if try await journeys.checkpoint().position >= position { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("the projector did not reach position \(position) within 20 s")
    }

    @Test func aBurstHoldsTheProjectorBackForNoLongerThanItsLongestPause() async throws {
        try await TestDatabase.with { database in
            try await database.withClient { pool in
                let events = PostgresEventStore(client: pool, logger: database.logger)
                let journeys = PostgresJourneyStore(client: pool, logger: database.logger)
                let saturation = AppendSaturation()
                let longest = Duration.seconds(4)
                let projector = JourneyProjector(
                    store: journeys, logger: database.logger, idleWait: .milliseconds(100), ingest: saturation,
                    longestPauseForIngest: longest)
                let running = Task { try await projector.run() }

                // Every lane busy for longer than a burst must last: the projector waits.
                saturation.record(lanesWriting: 2, of: 2)
                try await Task.sleep(for: JourneyProjector.burst + .milliseconds(100))
                let first = try await Self.append("a-inbound-answered", to: events)
                projector.eventsAppended()
                try await Task.sleep(for: .milliseconds(500))
                #expect(
                    try await journeys.checkpoint().position == 0,
                    "projected during the burst, before its longest pause")
                // The burst goes on, but the pause has a limit.
                try await Self.waitForCheckpoint(journeys, at: first)

                // The burst is over: the next events are projected at once, not after another pause.
                saturation.record(lanesWriting: 1, of: 2)
                let second = try await Self.append("b-abandon-in-queue", to: events)
                let appended = ContinuousClock.now
                projector.eventsAppended()
                try await Self.waitForCheckpoint(journeys, at: second)
                #expect(ContinuousClock.now - appended < longest, "the projector paused after the burst was over")

                running.cancel()
                _ = await running.result
            }
        }
    }
}
