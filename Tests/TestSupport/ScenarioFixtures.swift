import CallModel
import Foundation
import TSAPI

/// The scenario library of Tests/Fixtures/scenarios: each scenario's events, and the journey its
/// expectation file says a correct projection must produce.
package enum ScenarioFixtures {
    package static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/scenarios")

    package static var names: [String] {
        get throws {
            try FileManager.default.contentsOfDirectory(atPath: folder.path)
                .filter { $0.hasSuffix(".ndjson") }.map { String($0.dropLast(".ndjson".count)) }.sorted()
        }
    }

    /// The scenario's envelopes, one JSON object text per line.
    package static func lines(_ name: String) throws -> [String] {
        try String(contentsOf: folder.appendingPathComponent("\(name).ndjson"), encoding: .utf8)
            .split(separator: "\n").map(String.init).filter { !$0.isEmpty }
    }

    /// The scenario's events as the projector gets them, numbered from position `first`.
    package static func callEvents(_ name: String, from first: Int64 = 1) throws -> [CallEvent] {
        let decoder = JSONDecoder()
        return try lines(name).enumerated().map { index, line in
            CallEvent(
                position: first + Int64(index), event: try decoder.decode(TSAPIEvent.self, from: Data(line.utf8)))
        }
    }

    /// The journeys `lines` (envelopes) make, numbered from position 1.
    package static func tracker(_ lines: some Sequence<String>) throws -> JourneyTracker {
        let decoder = JSONDecoder()
        var tracker = JourneyTracker()
        for (index, line) in lines.enumerated() {
            tracker.apply(
                CallEvent(position: Int64(index + 1), event: try decoder.decode(TSAPIEvent.self, from: Data(line.utf8)))
            )
        }
        return tracker
    }

    /// The scenario reduced from position `first` on: the batch a projector would commit, and its last position.
    package static func batch(_ name: String, from first: Int64) throws -> (tracker: JourneyTracker, through: Int64) {
        var tracker = JourneyTracker()
        let events = try callEvents(name, from: first)
        for event in events { tracker.apply(event) }
        let through = events.last?.position ?? first - 1
        tracker.advance(to: through)
        return (tracker, through)
    }

    package static func expectedJourney(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: folder.appendingPathComponent("\(name).expected.json"))
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        guard let journey = object?["journey"] as? [String: Any] else {
            throw TestDatabaseError("\(name).expected.json has no journey")
        }
        return journey
    }

    /// JSON text with sorted keys, so values read from different JSON documents compare by content.
    static func canonical(_ value: Any?) -> String {
        let data = try? JSONSerialization.data(withJSONObject: [value ?? NSNull()], options: [.sortedKeys])
        return data.map { String(decoding: $0, as: UTF8.self) } ?? "\(value ?? "nil")"
    }

    /// What differs between a journey document (as `GET /v1/journeys/{id}` returns it) and the expectation;
    /// empty when the journey is right. Durations may differ by a millisecond of rounding.
    /// `ignoringTimes` leaves out the times and durations: for events stamped when they were received (an AES
    /// link's), not when the switch made them.
    package static func mismatches(
        journey: [String: Any], expected: [String: Any], ignoringTimes: Bool = false
    ) -> [String] {
        var problems: [String] = []
        func check(_ name: String, _ actual: Any?, _ wanted: Any?) {
            let (got, want) = (canonical(actual), canonical(wanted))
            if got != want { problems.append("\(name): got \(got), expected \(want)") }
        }
        check("id", journey["id"], expected["ucid"])
        check("ucid", journey["ucid"], expected["ucid"])
        for key in [
            "linkedUcids", "outcome", "agents", "originalAni", "originalDnis", "vdn", "split", "uui", "userEnteredCode",
        ]
        where expected[key] != nil {
            check(key, journey[key], expected[key])
        }
        let home = ((journey["sites"] as? [String])?.first) ?? ""
        let callIDs = (journey["calls"] as? [[String: Any]] ?? []).filter { $0["switch"] as? String == home }
            .compactMap { $0["callID"] as? Int }
        check("callIds", callIDs.sorted(), expected["callIds"])
        if let far = expected["farSiteUcid"] as? String {
            check("farSiteUcids", journey["farSiteUcids"], [far])
        }
        let offerKeys = ["device", "ucid", "originalAni", "originalDnis", "uui", "userEnteredCode"]
        let offers = (journey["offers"] as? [[String: Any]] ?? []).map { offer in
            offerKeys.map { offer[$0] ?? NSNull() }
        }
        let wantedOffers = (expected["offers"] as? [[String: Any]] ?? []).map { offer in
            offerKeys.map { offer[$0] ?? NSNull() }
        }
        check("offers", offers, wantedOffers)
        check("state", journey["state"], "ended")
        if ignoringTimes { return problems }
        let times = journey["times"] as? [String: Any] ?? [:]
        for (key, wanted) in expected["times"] as? [String: Any] ?? [:] {
            check("times.\(key)", times[key], wanted)
        }
        let durations = journey["durations"] as? [String: Double] ?? [:]
        for (key, wanted) in expected["durations"] as? [String: Double] ?? [:] {
            if abs((durations[key] ?? -1) - wanted) > 0.0015 {
                problems.append("durations.\(key): got \(durations[key].map { "\($0)" } ?? "nil"), expected \(wanted)")
            }
        }
        return problems
    }
}
