import CallModel
import Foundation
import TSAPI
import TestSupport
import Testing

/// Given the events of each scenario in the library, expect the journey its expectation file describes.
struct ScenarioJourneyTests {
    static let scenarios = (try? ScenarioFixtures.names) ?? []

    static func events(_ name: String) throws -> [CallEvent] { try ScenarioFixtures.callEvents(name) }

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

/// A journey whose CallCleared never comes (a link went down) is ended once its calls have been silent for
/// `JourneyTracker.silenceLimit`, as of its last event.
struct SilentJourneyTests {
    @Test func aCallThatNeverClearsEndsAfterTheSilenceLimit() throws {
        let decoder = JSONDecoder()
        func events(_ lines: [String], from position: Int) throws -> [CallEvent] {
            try lines.enumerated().map { index, line in
                CallEvent(
                    position: Int64(position + index), event: try decoder.decode(TSAPIEvent.self, from: Data(line.utf8))
                )
            }
        }
        // Answered, then nothing more: the last three events (the clearing) are lost.
        let answered = Array(try ScenarioFixtures.lines("a-inbound-answered").dropLast(3))
        // Another caller five hours later, on another callID and UCID.
        let later = try ScenarioFixtures.lines("b-abandon-in-queue").map {
            $0.replacingOccurrences(of: "2026-11-20T10:", with: "2026-11-20T15:")
                .replacingOccurrences(of: "00001000011795168800", with: "00001000091795186800")
                .replacingOccurrences(of: "\"callID\":1001", with: "\"callID\":1009")
                .replacingOccurrences(of: "\"seq\":", with: "\"seq\":10")
        }
        var tracker = JourneyTracker()
        let first = try events(answered, from: 1)
        for event in first { tracker.apply(event) }
        let silent = try #require(tracker.journeys["00001000011795168800"])
        #expect(!silent.isEnded, "still talking as far as anyone knows")

        for event in try events(later, from: 100) { tracker.apply(event) }
        let ended = try #require(tracker.journeys["00001000011795168800"])
        #expect(ended.isEnded)
        #expect(ended.timedOut)
        #expect(ended.endedAt == first.last?.time)
        #expect(ended.outcome == .answered)
        #expect(ended.legs.allSatisfy { $0.isEnded })
        let other = try #require(tracker.journeys["00001000091795186800"])
        #expect(other.outcome == .abandoned)
        #expect(!other.timedOut)
    }
}
