import CallModel
import Foundation
import TSAPI
import TestSupport
import Testing

/// The stored state JSON must read back as the very journey that wrote it, and rows already stored must keep
/// reading: the shape of state version 3 is frozen in a fixture.
struct JourneyStateJSONTests {
    @Test func everyJourneyOfBusyTrafficRoundTrips() throws {
        let (events, _) = try SimulatedTrafficJourneyTests.events(calls: 600, agents: 40, seed: 9, rate: 2)
        var tracker = JourneyTracker()
        var checked = 0
        for (index, event) in events.enumerated() {
            tracker.apply(event)
            // Open journeys mid-call too: timers running, parties on hold, consultations not yet merged.
            if index % 997 == 0 || index == events.count - 1 {
                for journey in tracker.journeys.values {
                    let decoded = try Journey(stateJSON: journey.stateJSON)
                    #expect(decoded == journey, "\(journey.id)")
                    checked += 1
                }
            }
        }
        #expect(checked > 600)
    }

    static let fixture = ScenarioFixtures.folder.deletingLastPathComponent()
        .appendingPathComponent("journey-state-v3.json")

    /// A consultative transfer's journey as state version 3 stores it (the shape rows of earlier CallTrail
    /// versions have). The reader must read it into the journey the rules make today, and the writer must write
    /// the same text: a field renamed on both sides would pass the round trip but fail here. To record the
    /// fixture again after a deliberate change (with a new `stateVersion`), run with CALLTRAIL_RECORD_FIXTURES=1.
    @Test func aStoredRowOfStateVersion3ReadsBack() throws {
        var tracker = JourneyTracker()
        for event in try ScenarioFixtures.callEvents("c-consultative-transfer") { tracker.apply(event) }
        let journey = try #require(tracker.journeys["00001000011795168800"])
        if ProcessInfo.processInfo.environment["CALLTRAIL_RECORD_FIXTURES"] == "1" {
            try journey.stateJSON.write(to: Self.fixture, atomically: true, encoding: .utf8)
        }
        #expect(Journey.stateVersion == 3, "a new version needs a new fixture beside this one")
        let stored = try String(contentsOf: Self.fixture, encoding: .utf8)
        #expect(try Journey(stateJSON: stored) == journey)
        #expect(journey.stateJSON == stored)
    }
}
