import CallModel
import Foundation
import Simulator
import TSAPI
import Testing

/// Simulated contact-center traffic through the reducer: each call the simulator places is one journey, and
/// every journey ends with an outcome.
struct SimulatedTrafficJourneyTests {
    static func events(
        calls: Int, agents: Int, seed: UInt64, rate: Double = 0.5
    ) throws -> (events: [CallEvent], calls: Int) {
        var options = Traffic.Options()
        options.calls = calls
        options.rate = rate
        options.agents = agents
        options.seed = seed
        var traffic = Traffic(options)
        let decoder = JSONDecoder()
        var events: [CallEvent] = []
        while let line = traffic.next() {
            events.append(
                CallEvent(
                    position: Int64(events.count + 1), event: try decoder.decode(TSAPIEvent.self, from: Data(line.utf8))
                ))
        }
        return (events, traffic.callsGenerated)
    }

    /// The last case is busy: 10 calls a second for 200 agents, so agents hold two calls at once and consult
    /// about either (the simulator double-books); the merges must still sort each consultation to its call.
    @Test(arguments: [(UInt64(11), 12, 150, 0.5), (7, 12, 150, 0.5), (3, 200, 150, 0.5), (1, 200, 4_000, 10)])
    func everyCallIsOneJourneyWithAnOutcome(seed: UInt64, agents: Int, calls: Int, rate: Double) throws {
        let (events, calls) = try Self.events(calls: calls, agents: agents, seed: seed, rate: rate)
        var tracker = JourneyTracker()
        for event in events { tracker.apply(event) }
        #expect(tracker.unattributedEvents == 0)
        #expect(tracker.journeys.count == calls, "one journey per call placed")
        let unended = tracker.journeys.values.filter { $0.outcome == nil }
        #expect(unended.isEmpty, "journeys without an outcome: \(unended.map(\.id))")
    }
}

/// The tracker is a cache of its stored journeys: restarting it from the rows (open journeys and those still
/// linkable) at any point, as the projector does after a crash, ends with the same rows as never stopping.
struct JourneyTrackerRestartTests {
    /// What the projector's table would hold: every journey written, minus those removed.
    struct Table {
        var rows: [String: Journey] = [:]

        mutating func write(_ changes: (changed: [Journey], removed: [String])) throws {
            for id in changes.removed { rows[id] = nil }
            for journey in changes.changed {
                // Through JSON, as the rows are stored.
                rows[journey.id] = try Journey(stateJSON: journey.stateJSON)
            }
        }
    }

    @Test(arguments: [1, 37, 500])
    func restartingFromTheRowsChangesNothing(every interval: Int) throws {
        let (events, _) = try SimulatedTrafficJourneyTests.events(calls: 120, agents: 12, seed: 21)
        var continuous = JourneyTracker()
        var expected = Table()
        for event in events { continuous.apply(event) }
        try expected.write(continuous.takeChanges())

        var table = Table()
        var tracker = JourneyTracker()
        for (index, event) in events.enumerated() {
            tracker.apply(event)
            if (index + 1) % interval == 0 {
                try table.write(tracker.takeChanges())
                tracker.evictExpired()
                let horizon = tracker.clock.addingTimeInterval(-tracker.linkGrace)
                let restorable = table.rows.values.filter { $0.endedAt.map { $0 >= horizon } ?? true }
                tracker = JourneyTracker(restoring: Array(restorable), position: tracker.position, clock: tracker.clock)
            }
        }
        try table.write(tracker.takeChanges())
        #expect(table.rows.count == expected.rows.count)
        #expect(table.rows == expected.rows)
    }
}
