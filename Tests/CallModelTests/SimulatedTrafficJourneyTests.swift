import CallModel
import Foundation
import Simulator
import TSAPI
import Testing

/// Simulated contact-center traffic through the reducer: each call the simulator places is one journey, and
/// every journey ends with an outcome.
struct SimulatedTrafficJourneyTests {
    static func events(calls: Int, agents: Int, seed: UInt64, rate: Double = 0.5) throws -> (events: [CallEvent], calls: Int) {
        var options = Traffic.Options()
        options.calls = calls
        options.rate = rate
        options.agents = agents
        options.seed = seed
        var traffic = Traffic(options)
        let decoder = JSONDecoder()
        var events: [CallEvent] = []
        while let line = traffic.next() {
            events.append(CallEvent(
                position: Int64(events.count + 1), event: try decoder.decode(TSAPIEvent.self, from: Data(line.utf8))))
        }
        return (events, traffic.callsGenerated)
    }

    @Test(arguments: [(UInt64(11), 12), (7, 12), (3, 200)])
    func everyCallIsOneJourneyWithAnOutcome(seed: UInt64, agents: Int) throws {
        let (events, calls) = try Self.events(calls: 150, agents: agents, seed: seed)
        var tracker = JourneyTracker()
        for event in events { tracker.apply(event) }
        #expect(tracker.unattributedEvents == 0)
        #expect(tracker.journeys.count == calls, "one journey per call placed")
        let unended = tracker.journeys.values.filter { $0.outcome == nil }
        #expect(unended.isEmpty, "journeys without an outcome: \(unended.map(\.id))")
    }
}
