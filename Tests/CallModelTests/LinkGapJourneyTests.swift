import CallModel
import Foundation
import TSAPI
import TestSupport
import Testing

/// Given a call's events, a gap in the link's events and the snapshots taken after it, expect the journeys to say
/// what the gap hid: calls that ended in it ended (`link-gap`, with the gap), calls that started in it taken up.
struct LinkGapJourneyTests {
    static let ucid = "00001000011795168800"

    static func events(_ lines: [String], from position: Int) throws -> [CallEvent] {
        try lines.enumerated().map { index, line in
            CallEvent(
                position: Int64(position + index),
                event: try JSONDecoder().decode(TSAPIEvent.self, from: Data(line.utf8)))
        }
    }

    /// A LINK_SNAPSHOT of `device` as the link stores it, after a gap from 10:00:40 to 10:00:50.
    static func snapshot(
        _ device: String, kind: String = "station", calls: [(Int, String)] = [], time: String = "2026-11-20T10:00:51Z"
    ) -> String {
        let list = calls.map { "{\"callID\":\($0.0),\"state\":\"\($0.1)\"}" }.joined(separator: ",")
        return """
            {"source":"aes1","switch":"cm1","seq":90,"time":"\(time)","type":"LINK_SNAPSHOT",\
            "link":{"aes":"tcp://aes1:4721","sessionID":"S1","reason":"resynchronising",\
            "gap":{"from":"2026-11-20T10:00:40Z","to":"2026-11-20T10:00:50Z"}},\
            "device":"\(device)","kind":"\(kind)","calls":[\(list)]}
            """
    }

    /// The inbound-answered scenario up to its answer: the caller talks to 5001.
    static func answered() throws -> [String] {
        let lines = try ScenarioFixtures.lines("a-inbound-answered")
        let answer = try #require(lines.lastIndex { $0.contains("CSTA_ESTABLISHED") })
        return Array(lines[...answer])
    }

    static func document(_ journey: Journey) throws -> [String: Any] {
        let data = try JSONEncoder().encode(JourneyDocument(journey))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test func aSnapshotWithoutTheCallEndsItInTheGapAndKeepsWhatWasKnown() throws {
        var tracker = JourneyTracker()
        for event in try Self.events(try Self.answered(), from: 1) { tracker.apply(event) }
        _ = tracker.takeFeed()
        for event in try Self.events([Self.snapshot("5001")], from: 50) { tracker.apply(event) }

        let journey = try #require(tracker.journeys[Self.ucid])
        #expect(journey.isEnded)
        #expect(journey.endedInGap)
        #expect(journey.outcome == .answered, "what was known stays")
        #expect(journey.endedAt == Timestamp.parse("2026-11-20T10:00:40Z"), "ended at the gap's start")
        #expect(journey.legs.allSatisfy { $0.endedBy == .linkGap })
        let document = try Self.document(journey)
        #expect(document["endedBy"] as? String == "link-gap")
        let gap = try #require(document["gap"] as? [String: Any])
        #expect(gap["from"] as? String == "2026-11-20T10:00:40.000Z")
        #expect(gap["to"] as? String == "2026-11-20T10:00:50.000Z")
        let leg = try #require((document["legs"] as? [[String: Any]])?.first)
        #expect(leg["endedBy"] as? String == "link-gap")
        #expect(leg["gap"] is [String: Any])

        // The desktop at 5001 is told its call ended, and why.
        let feed = tracker.takeFeed()
        #expect(feed.map(\.device) == ["5001"])
        #expect(feed.first?.kind == .disconnect)
        #expect(feed.first?.endedBy == "link-gap")
        #expect(feed.first?.callID == 1001)

        // The journey's stored state gives it back, gap and all.
        #expect(try Journey(stateJSON: journey.stateJSON) == journey)

        // A late monitor copy of the lost CallCleared changes nothing.
        let clearing = try ScenarioFixtures.lines("a-inbound-answered").last!
        for event in try Self.events([clearing], from: 60) { tracker.apply(event) }
        #expect(tracker.journeys[Self.ucid]?.endedAt == journey.endedAt)
        #expect(tracker.journeys.count == 1)
    }

    @Test func aSnapshotThatHoldsTheCallKeepsItWithTheDevicesStateNow() throws {
        var tracker = JourneyTracker()
        for event in try Self.events(try Self.answered(), from: 1) { tracker.apply(event) }
        for event in try Self.events([Self.snapshot("5001", calls: [(1001, "CS_HOLD")])], from: 50) {
            tracker.apply(event)
        }
        let journey = try #require(tracker.journeys[Self.ucid])
        #expect(!journey.isEnded)
        #expect(journey.legs[0].parties.first { $0.device == "5001" }?.state == .held)
        #expect(journey.gap == nil, "nothing was hidden from it")
    }

    @Test func aSnapshotOfAnotherStationLeavesTheCallAlone() throws {
        var tracker = JourneyTracker()
        for event in try Self.events(try Self.answered(), from: 1) { tracker.apply(event) }
        let before = try #require(tracker.journeys[Self.ucid])
        for event in try Self.events([Self.snapshot("5002")], from: 50) { tracker.apply(event) }
        #expect(tracker.journeys[Self.ucid] == before)
    }

    @Test func aQueuedCallTheVDNNoLongerHoldsWasAbandonedInTheGap() throws {
        let lines = try ScenarioFixtures.lines("a-inbound-answered")
        var tracker = JourneyTracker()
        for event in try Self.events(Array(lines.prefix(2)), from: 1) { tracker.apply(event) }
        for event in try Self.events([Self.snapshot("7001", kind: "vdn")], from: 50) { tracker.apply(event) }
        let journey = try #require(tracker.journeys[Self.ucid])
        #expect(journey.isEnded)
        #expect(journey.endedInGap)
        #expect(journey.outcome == .abandoned)
    }

    @Test func aCallAtAStationThatAVDNSnapshotLacksIsLeftToTheStation() throws {
        var tracker = JourneyTracker()
        for event in try Self.events(try Self.answered(), from: 1) { tracker.apply(event) }
        for event in try Self.events([Self.snapshot("7001", kind: "vdn")], from: 50) { tracker.apply(event) }
        #expect(tracker.journeys[Self.ucid]?.isEnded == false)
    }

    @Test func aCallThatStartedInTheGapIsTakenUpAndItsEventsCarryOnThere() throws {
        var tracker = JourneyTracker()
        for event in try Self.events([Self.snapshot("5001", calls: [(1001, "CS_CONNECT")])], from: 1) {
            tracker.apply(event)
        }
        let adopted = try #require(tracker.journeys.values.first)
        #expect(tracker.journeys.count == 1)
        #expect(!adopted.isEnded)
        #expect(adopted.agents == ["5001"])
        #expect(adopted.gap != nil)
        #expect(adopted.legs[0].parties.map(\.device) == ["5001"])
        let offered = tracker.takeFeed()
        #expect(offered.map(\.kind) == [.connect], "the desktop at 5001 learns of the call it is on")

        // The call's next events (an Established copy carries its UCID): the same journey, named by the UCID now,
        // and ended by its CallCleared.
        let lines = try ScenarioFixtures.lines("a-inbound-answered")
        for event in try Self.events(Array(lines.suffix(5)), from: 10) { tracker.apply(event) }
        #expect(tracker.journeys.count == 1, "\(tracker.journeys.keys)")
        let journey = try #require(tracker.journeys[Self.ucid])
        #expect(journey.isEnded)
        #expect(!journey.endedInGap)
        #expect(journey.outcome == .answered)
        #expect(journey.gap == adopted.gap)
    }

    /// The caller moved in the gap (a transfer to 5002 under a new callID): 5001's snapshot ends the call there,
    /// 5002's holds a callID no journey knew, and its next event carries the caller's UCID: one journey goes on.
    @Test func aCallTakenUpThatTurnsOutKnownJoinsItsJourney() throws {
        var tracker = JourneyTracker()
        for event in try Self.events(try Self.answered(), from: 1) { tracker.apply(event) }
        let snapshots = [Self.snapshot("5001"), Self.snapshot("5002", calls: [(2002, "CS_CONNECT")])]
        for event in try Self.events(snapshots, from: 50) { tracker.apply(event) }
        #expect(tracker.journeys.count == 2, "the original, ended in the gap, and the call taken up")
        let lines = try ScenarioFixtures.lines("a-inbound-answered")
        let established = try #require(lines.last { $0.contains("CSTA_ESTABLISHED") })
            .replacingOccurrences(of: "\"callID\":1001", with: "\"callID\":2002")
            .replacingOccurrences(of: "10:00:", with: "10:01:")
        for event in try Self.events([established], from: 60) { tracker.apply(event) }
        #expect(tracker.journeys.count == 1, "\(tracker.journeys.keys.sorted())")
        let journey = try #require(tracker.journeys[Self.ucid])
        #expect(!journey.isEnded, "the contact goes on at 5002")
        #expect(journey.originalAni == "6135555493", "what was known of the caller stays")
        #expect(journey.legs.contains { $0.endedBy == .linkGap })
    }

    @Test func aSecondStationOnAKnownCallJoinsIt() throws {
        var tracker = JourneyTracker()
        for event in try Self.events(try Self.answered(), from: 1) { tracker.apply(event) }
        for event in try Self.events([Self.snapshot("5002", calls: [(1001, "CS_CONNECT")])], from: 50) {
            tracker.apply(event)
        }
        let journey = try #require(tracker.journeys[Self.ucid])
        #expect(tracker.journeys.count == 1)
        #expect(Set(journey.legs[0].parties.map(\.device)).isSuperset(of: ["5001", "5002"]))
        #expect(journey.agents.contains("5002"))
    }

    @Test func bothDecodersReadTheSnapshot() throws {
        let line = Self.snapshot("5001", calls: [(1001, "CS_CONNECT")])
        let decoded = try JSONDecoder().decode(TSAPIEvent.self, from: Data(line.utf8))
        let read = try Array(line.utf8).withUnsafeBytes { try TSAPIEvent(json: $0) }
        #expect(decoded.snapshot != nil)
        #expect(decoded.snapshot == read.snapshot)
        #expect(decoded.snapshot?.calls == [LinkSnapshot.Call(callID: 1001, state: "CS_CONNECT")])
    }
}
