import CallModel
import Foundation
import Testing

/// The stored state JSON must read back as the very journey that wrote it.
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
}
