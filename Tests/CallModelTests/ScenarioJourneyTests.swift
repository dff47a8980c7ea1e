import CallModel
import Foundation
import TSAPI
import Testing
import TestSupport

/// Given the events of each scenario in the library, expect the journey its expectation file describes.
struct ScenarioJourneyTests {
    static let scenarios = (try? ScenarioFixtures.names) ?? []

    static func events(_ name: String) throws -> [CallEvent] {
        let decoder = JSONDecoder()
        return try ScenarioFixtures.lines(name).enumerated().map { index, line in
            CallEvent(position: Int64(index + 1), event: try decoder.decode(TSAPIEvent.self, from: Data(line.utf8)))
        }
    }

    static func document(_ journey: Journey) throws -> [String: Any] {
        let data = try JSONEncoder().encode(JourneyDocument(journey))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test func theLibraryHasEveryScenario() {
        #expect(Self.scenarios.count == 14)
    }

    @Test(arguments: scenarios)
    func journeyMatchesItsExpectation(_ name: String) throws {
        var tracker = JourneyTracker()
        for event in try Self.events(name) { tracker.apply(event) }
        let expected = try ScenarioFixtures.expectedJourney(name)
        let ucidText = try #require(expected["ucid"] as? String)
        let ucid = try #require(UCID(ucidText))
        let journey = try #require(tracker.journey(ucid: ucid), "no journey for \(ucid)")
        #expect(tracker.journeys.count == 1, "one contact is one journey")
        #expect(tracker.unattributedEvents == 0)
        let problems = ScenarioFixtures.mismatches(journey: try Self.document(journey), expected: expected)
        #expect(problems.isEmpty, "\(name):\n\(problems.joined(separator: "\n"))")
    }
}
