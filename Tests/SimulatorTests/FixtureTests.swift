import Foundation
import Simulator
import TSAPI
import Testing

/// The committed scenario fixtures are what the simulator produces, and their expectation files speak of the
/// identifiers in them.
struct FixtureTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/scenarios")

    static func generate(_ scenario: Scenario) -> String {
        Array(Traffic.fixture(scenario)).map { $0 + "\n" }.joined()
    }

    @Test(arguments: Scenario.allCases)
    func fixtureIsWhatTheSimulatorProduces(_ scenario: Scenario) throws {
        let committed = try String(
            contentsOf: Self.folder.appendingPathComponent("\(scenario.rawValue).ndjson"), encoding: .utf8)
        #expect(committed == Self.generate(scenario), "regenerate the fixture and its expectation together")
    }

    @Test(arguments: Scenario.allCases)
    func expectationNamesWhatTheFixtureHolds(_ scenario: Scenario) throws {
        let data = try Data(contentsOf: Self.folder.appendingPathComponent("\(scenario.rawValue).expected.json"))
        let expected = try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let journey = try #require(expected["journey"] as? [String: Any])
        let events = try IngestBatchParser.parse(Array(Self.generate(scenario).utf8))
        let ucids = Set(events.compactMap { $0.ucid?.rawValue })
        let ucid = try #require(journey["ucid"] as? String)
        #expect(ucids.contains(ucid))
        for linked in journey["linkedUcids"] as? [String] ?? [] { #expect(ucids.contains(linked)) }
        let outcomes = ["answered", "abandoned", "transferred", "conferenced", "redirected", "outbound"]
        #expect(outcomes.contains(journey["outcome"] as? String ?? ""))
        // Agents are those who answer, or, on an outbound call, the one who dials.
        let talking = Set(
            events.compactMap { event -> String? in
                let body = try? JSONSerialization.jsonObject(with: Data(event.rawJSON.utf8)) as? [String: Any]
                let csta = body?["csta"] as? [String: Any]
                switch event.eventType {
                case .established: return csta?["answeringDevice"] as? String
                case .originated where journey["outcome"] as? String == "outbound":
                    return csta?["callingDevice"] as? String
                default: return nil
                }
            })
        for agent in journey["agents"] as? [String] ?? [] { #expect(talking.contains(agent), "\(agent) talks") }
        for offer in journey["offers"] as? [[String: Any]] ?? [] {
            let device = try #require(offer["device"] as? String)
            #expect(
                events.contains {
                    $0.eventType == .delivered && $0.rawJSON.contains("\"alertingDevice\":\"\(device)\"")
                })
        }
    }
}
