import CallModel
import Foundation
import TSAPI
import TestSupport
import Testing

/// One given-events-expect-journey test per numbered journey rule (docs/architecture.md, "Call contexts and
/// journeys"), each with the fewest events that show the rule, beside the whole-scenario tests.
struct JourneyRuleTests {
    static let customer = EventFixtures.u1
    static let consultation = EventFixtures.u2

    /// The tracker after `lines`, numbered from position 1.
    static func given(_ lines: [String]) throws -> JourneyTracker { try ScenarioFixtures.tracker(lines) }

    /// An answered call at 5001: delivered, established.
    static func answered(_ f: inout EventFixtures, _ callID: Int64, ucid: String) -> [String] {
        [f.delivered(callID, at: "5001", ucid: ucid), f.established(callID, at: "5001", ucid: ucid)]
    }

    /// Rule 1: a call is found by (switch, callID) while it lives; CallCleared ends that, since CM reuses callIDs.
    @Test func rule1_aCallIDFindsItsCallUntilCallCleared() throws {
        var f = EventFixtures()
        let other = "00001000441700000120"
        let tracker = try Self.given(
            Self.answered(&f, 1001, ucid: Self.customer)
                // No UCID on Held: the live binding of callID 1001 finds the call.
                + [f.held(1001, at: "5001"), f.callCleared(1001)]
                // CM gives the same callID to the next call: a new journey, not the old one reopened.
                + [f.delivered(1001, at: "5001", ucid: other), f.queued(1001)])
        let first = try #require(tracker.journeys[Self.customer])
        #expect(first.isEnded)
        #expect(first.segments.contains { $0.kind == .held })
        let second = try #require(tracker.journeys[other])
        #expect(!second.isEnded)
        #expect(second.split == "3001", "the queued event without a UCID went to the live call")
        #expect(tracker.journeys.count == 2)
        #expect(tracker.unattributedEvents == 0)
    }

    /// Rule 2: a call under another callID or on another switch is found by its UCID.
    @Test func rule2_theUCIDStitchesTheFarSiteIn() throws {
        var near = EventFixtures()
        var far = EventFixtures(source: "aes2", switchName: "cm2", clock: near.clock.addingTimeInterval(5))
        let tracker = try Self.given(
            Self.answered(&near, 1001, ucid: Self.customer)
                + [far.delivered(77, at: "6001", ucid: Self.customer), far.established(77, at: "6001", ucid: nil)])
        #expect(tracker.journeys.count == 1)
        let ucid = try #require(UCID(Self.customer))
        let journey = try #require(tracker.journey(ucid: ucid))
        #expect(journey.sites == ["cm1", "cm2"])
        #expect(journey.legs.map(\.role) == [.original, .farSite])
        #expect(journey.offers.map(\.device) == ["5001", "6001"])
    }

    /// The customer's call at 5001 put on hold, and a consultation from 5001 to 5002 ringing.
    static func consulting(_ f: inout EventFixtures, consultMode: String? = nil) -> [String] {
        var lines = Self.answered(&f, 1001, ucid: Self.customer) + [f.held(1001, at: "5001")]
        lines.append(
            f.event(
                "CSTA_SERVICE_INITIATED",
                csta: "{\"initiatedConnection\":\(EventFixtures.connection(1002, "5001")),"
                    + "\"localConnectionInfo\":\"CS_INITIATE\"}",
                att: "{\"ucid\":\"\(Self.consultation)\""
                    + (consultMode.map { ",\"consultMode\":\"\($0)\"" } ?? "") + "}"))
        lines.append(f.originated(1002, at: "5001", called: "5002"))
        lines.append(f.delivered(1002, at: "5002", ucid: Self.consultation, ani: "5001"))
        return lines
    }

    /// Rule 3: a call started at a station that holds a call consults about that call, unless ATT's
    /// `consultMode` says it is a new call.
    @Test func rule3_aCallFromAStationHoldingACallIsAConsultation() throws {
        var f = EventFixtures()
        let tracker = try Self.given(Self.consulting(&f))
        #expect(tracker.journeys.count == 1)
        let journey = try #require(tracker.journeys[Self.customer])
        #expect(journey.linkedUcids.map(\.rawValue) == [Self.consultation])
        #expect(journey.legs.last?.consultOf?.rawValue == Self.customer)

        var g = EventFixtures()
        let separate = try Self.given(Self.consulting(&g, consultMode: "ATT_CM_NONE"))
        #expect(separate.journeys.count == 2, "ATT_CM_NONE: the agent dialled a new call")
    }

    /// Rule 4: Transferred keeps the original UCID, links the consultation, aliases both old callIDs to the
    /// surviving one, and the late CallCleared of an old callID ends nothing.
    @Test func rule4_aTransferKeepsTheJourneyAndALateClearEndsNothing() throws {
        var f = EventFixtures()
        var lines = Self.consulting(&f)
        lines.append(f.established(1002, at: "5002", ucid: Self.consultation))
        lines.append(
            f.transferred(primary: 1001, secondary: 1002, from: "5001", to: "5002", ucid: Self.customer))
        lines.append(f.callCleared(1001))
        let talking = try Self.given(lines)
        let journey = try #require(talking.journeys[Self.customer])
        #expect(journey.id == Self.customer)
        #expect(journey.ucids.map(\.rawValue) == [Self.customer, Self.consultation])
        #expect(!journey.isEnded, "the customer still talks to 5002 on the surviving callID")
        #expect(talking.journeys.count == 1)

        let ended = try Self.given(lines + [f.callCleared(1002)])
        let done = try #require(ended.journeys[Self.customer])
        #expect(done.isEnded)
        #expect(done.outcome == .transferred)
    }

    /// Rule 5: the copies of one switch event that several monitors report count once.
    @Test func rule5_monitorCopiesCountOnce() throws {
        var f = EventFixtures()
        let delivered = f.delivered(1001, at: "5001", ucid: Self.customer, monitor: 101)
        // The same event as the station's monitor reports it: same link, time, type and connection.
        let copy = delivered.replacingOccurrences(of: "\"monitor\":101", with: "\"monitor\":201")
            .replacingOccurrences(of: "\"seq\":1,", with: "\"seq\":2,")
        #expect(copy != delivered)
        let once = try Self.given([delivered])
        let twice = try Self.given([delivered, copy])
        let one = try #require(once.journeys[Self.customer])
        let two = try #require(twice.journeys[Self.customer])
        #expect(two.offers.count == 1)
        #expect(two.eventCount == one.eventCount)
    }

    /// Rule 6: the customer's data come from the original call's first offer, or from ATT `originalCallInfo`.
    @Test func rule6_theCustomersDataComeFromTheFirstOfferOrOriginalCallInfo() throws {
        var f = EventFixtures()
        let journey = try #require(try Self.given(Self.consulting(&f)).journeys[Self.customer])
        #expect(journey.originalAni == EventFixtures.ani)
        #expect(journey.originalDnis == EventFixtures.dnis)
        #expect(journey.uui == "ACCT=998877;LANG=FR")
        #expect(journey.offers.count == 2)
        #expect(
            journey.offers.allSatisfy { $0.originalAni == EventFixtures.ani },
            "the consulted agent's offer carries the customer's number, not the agent's")

        // A call whose first event is restored by the switch: originalCallInfo names the customer.
        var g = EventFixtures()
        let restored = g.event(
            "CSTA_DELIVERED",
            csta: "{\"connection\":\(EventFixtures.connection(2001, "5003")),\"alertingDevice\":\"5003\","
                + "\"callingDevice\":\"5009\",\"calledDevice\":\"5003\",\"localConnectionInfo\":\"CS_ALERTING\"}",
            att: "{\"deliveredType\":\"DELIVERED_TO_STATION\",\"ucid\":\"\(Self.customer)\","
                + "\"originalCallInfo\":{\"reason\":\"OR_TRANSFERRED\",\"callingDevice\":\"6135550177\","
                + "\"calledDevice\":\"8005559999\"}}")
        let fromInfo = try #require(try Self.given([restored]).journeys[Self.customer])
        #expect(fromInfo.originalAni == "6135550177")
        #expect(fromInfo.originalDnis == "8005559999")
    }

    /// Rule 7: a journey ends when every call in it has cleared; its outcome follows from what happened.
    @Test func rule7_aJourneyEndsWhenItsCallsClearWithItsOutcome() throws {
        var f = EventFixtures()
        let answered = Self.answered(&f, 1001, ucid: Self.customer)
        let open = try #require(try Self.given(answered).journeys[Self.customer])
        #expect(!open.isEnded)
        #expect(open.outcome == nil)
        let cleared = try #require(try Self.given(answered + [f.callCleared(1001)]).journeys[Self.customer])
        #expect(cleared.isEnded)
        #expect(!cleared.timedOut)
        #expect(cleared.outcome == .answered)

        // Never answered: abandoned where the caller was when they hung up.
        var g = EventFixtures()
        let abandoned = try #require(
            try Self.given([
                g.delivered(1001, at: "7001", ucid: Self.customer, toACD: true), g.queued(1001),
                g.connectionCleared(1001, device: "T1001#1"), g.callCleared(1001),
            ]).journeys[Self.customer])
        #expect(abandoned.outcome == .abandoned)
        #expect(abandoned.abandonedIn == "queue")
    }
}
