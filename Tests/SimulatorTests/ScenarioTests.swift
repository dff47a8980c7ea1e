import Foundation
import Simulator
import TSAPI
import Testing

/// Each scenario against its ordered table of events: event types, which monitors get
/// a copy, callIDs and UCIDs. The expected lists are written from the reference, one line per switch event.
struct ScenarioTests {
    /// One call of `scenario` with agents A = 5001, B = 5002, C = 5003, reported by the links.
    static func envelopes(_ scenario: Scenario, seed: UInt64 = 7) -> [[String: Any]] {
        var options = Traffic.Options()
        options.calls = 1
        options.mix = [(scenario, 1)]
        options.agents = 3
        options.seed = seed
        return Array(Traffic(options)).map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    }

    /// "TYPE monitors" per switch event, merging the consecutive monitor copies of one event.
    static func steps(_ envelopes: [[String: Any]]) -> [String] {
        var steps: [(source: String, type: String, time: String, callID: Int, monitors: [Int])] = []
        for envelope in envelopes {
            let type = (envelope["type"] as! String).replacingOccurrences(of: "CSTA_", with: "")
            let source = envelope["source"] as! String
            let time = envelope["time"] as! String
            let callID = callIDs(envelope).first ?? 0
            let monitor = envelope["monitor"] as! Int
            if let last = steps.last, last.source == source, last.type == type, last.time == time, last.callID == callID
            {
                steps[steps.count - 1].monitors.append(monitor)
            } else {
                steps.append((source, type, time, callID, [monitor]))
            }
        }
        return steps.map { step in
            (step.source == "aes1" ? "" : "\(step.source) ") + "\(step.type) \(step.callID) "
                + step.monitors.map(String.init).joined(separator: ",")
        }
    }

    /// The callIDs of the event's connections, in field order.
    static func callIDs(_ envelope: [String: Any]) -> [Int] {
        let csta = envelope["csta"] as? [String: Any] ?? [:]
        let fields = [
            "connection", "establishedConnection", "droppedConnection", "clearedCall", "heldConnection",
            "retrievedConnection",
            "queuedConnection", "originatedConnection", "initiatedConnection", "primaryOldCall", "secondaryOldCall",
        ]
        return fields.compactMap { (csta[$0] as? [String: Any])?["callID"] as? Int }
    }

    static func ucid(_ envelope: [String: Any]) -> String? {
        (envelope["att"] as? [String: Any])?["ucid"] as? String
    }

    @Test func aInboundAnswered() {
        #expect(
            Self.steps(Self.envelopes(.inboundAnswered)) == [
                "DELIVERED 1001 101", "QUEUED 1001 101", "DELIVERED 1001 101,201", "ESTABLISHED 1001 101,201",
                "CONNECTION_CLEARED 1001 101,201", "CALL_CLEARED 1001 101,201",
            ])
    }

    @Test func bAbandons() {
        #expect(
            Self.steps(Self.envelopes(.abandonInQueue)) == [
                "DELIVERED 1001 101", "QUEUED 1001 101", "CONNECTION_CLEARED 1001 101", "CALL_CLEARED 1001 101",
            ])
        #expect(
            Self.steps(Self.envelopes(.abandonWhileRinging)) == [
                "DELIVERED 1001 101", "QUEUED 1001 101", "DELIVERED 1001 101,201", "CONNECTION_CLEARED 1001 101,201",
                "CALL_CLEARED 1001 101,201",
            ])
    }

    @Test func cConsultativeTransfer() throws {
        let envelopes = Self.envelopes(.consultativeTransfer)
        #expect(
            Self.steps(envelopes) == [
                "DELIVERED 1001 101", "QUEUED 1001 101", "DELIVERED 1001 101,201", "ESTABLISHED 1001 101,201",
                "HELD 1001 101,201", "SERVICE_INITIATED 1002 201", "ORIGINATED 1002 201", "DELIVERED 1002 201,202",
                "ESTABLISHED 1002 201,202", "TRANSFERRED 1001 101,201,202", "CALL_CLEARED 1001 101",
                "CONNECTION_CLEARED 1002 101,202", "CALL_CLEARED 1002 101,202",
            ])
        let u1 = try #require(Self.ucid(envelopes[0]))
        let initiated = try #require(envelopes.first { $0["type"] as? String == "CSTA_SERVICE_INITIATED" })
        let u2 = try #require(Self.ucid(initiated))
        #expect(u1 != u2, "the consultation has its own UCID")
        let transferred = try #require(envelopes.first { $0["type"] as? String == "CSTA_TRANSFERRED" })
        #expect(Self.ucid(transferred) == u1, "the merged call keeps the original UCID")
        #expect(Self.callIDs(transferred) == [1001, 1002])
        let list = try #require(
            ((transferred["csta"] as? [String: Any])?["transferredConnections"] as? [String: Any])?["connection"]
                as? [[String: Any]])
        #expect(
            list.compactMap { ($0["party"] as? [String: Any])?["callID"] as? Int } == [1002, 1002],
            "the survivor comes from the list")
        // The consulted agent's offer already carries the original call in originalCallInfo.
        let offerToB = try #require(
            envelopes.first { $0["type"] as? String == "CSTA_DELIVERED" && $0["monitor"] as? Int == 202 })
        let original = try #require((offerToB["att"] as? [String: Any])?["originalCallInfo"] as? [String: Any])
        #expect(original["reason"] as? String == "OR_CONSULTATION")
        #expect(original["ucid"] as? String == u1)
        let ani = ((envelopes[0]["csta"] as? [String: Any])?["callingDevice"] as? [String: Any])?["deviceID"] as? String
        #expect(ani != nil)
        #expect(
            (original["callingDevice"] as? [String: Any])?["deviceID"] as? String == ani,
            "the customer's ANI, not agent A")
    }

    @Test func dTransfers() {
        #expect(
            Self.steps(Self.envelopes(.blindTransfer)) == [
                "DELIVERED 1001 101", "QUEUED 1001 101", "DELIVERED 1001 101,201", "ESTABLISHED 1001 101,201",
                "HELD 1001 101,201", "SERVICE_INITIATED 1002 201", "ORIGINATED 1002 201", "DELIVERED 1002 201,202",
                "TRANSFERRED 1001 101,201,202", "CALL_CLEARED 1001 101", "ESTABLISHED 1002 101,202",
                "CONNECTION_CLEARED 1002 101,202", "CALL_CLEARED 1002 101,202",
            ])
        #expect(
            Self.steps(Self.envelopes(.singleStepTransfer)) == [
                "DELIVERED 1001 101", "QUEUED 1001 101", "DELIVERED 1001 101,201", "ESTABLISHED 1001 101,201",
                "TRANSFERRED 1001 101,201,202", "DELIVERED 1002 101,202", "ESTABLISHED 1002 101,202",
                "CONNECTION_CLEARED 1002 101,202", "CALL_CLEARED 1002 101,202",
            ])
    }

    @Test func eConferenceThenTheControllerDrops() {
        #expect(
            Self.steps(Self.envelopes(.conferenceThenDrop)) == [
                "DELIVERED 1001 101", "QUEUED 1001 101", "DELIVERED 1001 101,201", "ESTABLISHED 1001 101,201",
                "HELD 1001 101,201", "SERVICE_INITIATED 1002 201", "ORIGINATED 1002 201", "DELIVERED 1002 201,202",
                "ESTABLISHED 1002 201,202", "CONFERENCED 1001 101,201,202", "CALL_CLEARED 1001 101",
                "CONNECTION_CLEARED 1002 101,201,202", "CONNECTION_CLEARED 1002 101,202", "CALL_CLEARED 1002 101,202",
            ])
    }

    @Test func fRONA() {
        #expect(
            Self.steps(Self.envelopes(.rona)) == [
                "DELIVERED 1001 101", "QUEUED 1001 101", "DELIVERED 1001 101,201", "DIVERTED 1001 101,201",
                "QUEUED 1001 101", "DELIVERED 1001 101,202", "ESTABLISHED 1001 101,202",
                "CONNECTION_CLEARED 1001 101,202", "CALL_CLEARED 1001 101,202",
            ])
    }

    @Test func gOutbound() throws {
        let envelopes = Self.envelopes(.outbound)
        #expect(
            Self.steps(envelopes) == [
                "SERVICE_INITIATED 1001 201", "ORIGINATED 1001 201", "NETWORK_REACHED 1001 201", "DELIVERED 1001 201",
                "ESTABLISHED 1001 201", "CONNECTION_CLEARED 1001 201", "CALL_CLEARED 1001 201",
            ])
        #expect(Self.ucid(envelopes[0]) != nil, "ServiceInitiated carries the outbound call's UCID (V8+)")
    }

    @Test func hTransferToAnotherVDN() {
        #expect(
            Self.steps(Self.envelopes(.transferToVDN)) == [
                "DELIVERED 1001 101", "QUEUED 1001 101", "DELIVERED 1001 101,201", "ESTABLISHED 1001 101,201",
                "HELD 1001 101,201", "SERVICE_INITIATED 1002 201", "ORIGINATED 1002 201", "DELIVERED 1002 102,201",
                "QUEUED 1002 102,201", "TRANSFERRED 1001 101,102,201", "CALL_CLEARED 1001 101",
                "DELIVERED 1002 101,102,203", "ESTABLISHED 1002 101,102,203", "CONNECTION_CLEARED 1002 101,102,203",
                "CALL_CLEARED 1002 101,102,203",
            ])
    }

    @Test func iTransferToAnotherSite() throws {
        let envelopes = Self.envelopes(.transferToSite)
        #expect(
            Self.steps(envelopes) == [
                "DELIVERED 1001 101", "QUEUED 1001 101", "DELIVERED 1001 101,201", "ESTABLISHED 1001 101,201",
                "HELD 1001 101,201", "SERVICE_INITIATED 1002 201", "ORIGINATED 1002 201", "NETWORK_REACHED 1002 201",
                "aes2 DELIVERED 1001 101", "aes2 QUEUED 1001 101", "TRANSFERRED 1001 101,201", "CALL_CLEARED 1001 101",
                "aes2 DELIVERED 1001 101,201", "aes2 ESTABLISHED 1001 101,201", "CONNECTION_CLEARED 1002 101",
                "CALL_CLEARED 1002 101", "aes2 CONNECTION_CLEARED 1001 101,201", "aes2 CALL_CLEARED 1001 101,201",
            ])
        // Only the consultation's UCID reaches site 2.
        let initiated = try #require(envelopes.first { $0["type"] as? String == "CSTA_SERVICE_INITIATED" })
        let site2 = try #require(envelopes.first { $0["source"] as? String == "aes2" })
        #expect(Self.ucid(site2) == Self.ucid(initiated))
        #expect(site2["switch"] as? String == "cm2")
        #expect(UCID(Self.ucid(site2)!)?.node == 1, "the UCID was made on site 1's node")
    }

    @Test func holdRetrieveAndTheOthers() {
        #expect(
            Self.steps(Self.envelopes(.holdRetrieve)) == [
                "DELIVERED 1001 101", "QUEUED 1001 101", "DELIVERED 1001 101,201", "ESTABLISHED 1001 101,201",
                "HELD 1001 101,201", "RETRIEVED 1001 101,201", "CONNECTION_CLEARED 1001 101,201",
                "CALL_CLEARED 1001 101,201",
            ])
        #expect(
            Self.steps(Self.envelopes(.callerHangsUpDuringConsult)) == [
                "DELIVERED 1001 101", "QUEUED 1001 101", "DELIVERED 1001 101,201", "ESTABLISHED 1001 101,201",
                "HELD 1001 101,201", "SERVICE_INITIATED 1002 201", "ORIGINATED 1002 201", "DELIVERED 1002 201,202",
                "ESTABLISHED 1002 201,202", "CONNECTION_CLEARED 1001 101,201", "CALL_CLEARED 1001 101,201",
                "CONNECTION_CLEARED 1002 201,202", "CALL_CLEARED 1002 202",
            ])
        let threeWay = Self.steps(Self.envelopes(.threeAgentConference))
        #expect(
            threeWay.filter { $0.hasPrefix("CONFERENCED") } == [
                "CONFERENCED 1001 101,201,202", "CONFERENCED 1002 101,201,202,203",
            ])
        // The third leg takes callID 1001, free again since the first conference cleared it (CM reuses callIDs).
        #expect(threeWay.last == "CALL_CLEARED 1001 101,202,203")
    }

    @Test func everyEnvelopeIsValidIngestWithNothingUninterpreted() throws {
        for scenario in Scenario.allCases {
            var options = Traffic.Options()
            options.calls = 1
            options.mix = [(scenario, 1)]
            let text = Array(Traffic(options)).joined(separator: "\n")
            let events = try IngestBatchParser.parse(Array(text.utf8))
            #expect(events.allSatisfy { $0.eventType != nil && $0.uninterpretedFields.isEmpty }, "\(scenario)")
            #expect(Set(events.map(\.id)).count == events.count, "\(scenario): ids are unique")
            for line in text.split(separator: "\n") {
                _ = try JSONDecoder().decode(TSAPIEvent.self, from: Data(line.utf8))
            }
        }
    }
}
