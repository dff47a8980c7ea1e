import EventStore
import Foundation
import TSAPI
import Testing

@testable import CallTrailServer

/// How a stored event reads: its body as received, CallTrail's facts before it, each name once.
struct StoredEventJSONTests {
    static func linkRecord(body: String) -> StoredEvent {
        StoredEvent(
            position: 4, id: "calltrail-S1-1010-4", source: "calltrail", switchName: "S1", seq: nil, monitor: nil,
            type: EventType.ucidLinked.rawValue, isKnownType: true, time: Date(timeIntervalSince1970: 1_790_000_000),
            ucid: UCID(node: 2, sequence: 42, time: 1_700_000_001), streamVersion: 4, callID: 1010, body: body,
            storedAt: Date(timeIntervalSince1970: 1_790_000_000))
    }

    /// How many times `name` is a member's name in `json`.
    static func count(_ name: String, in json: String) -> Int {
        json.components(separatedBy: "\"\(name)\":").count - 1
    }

    @Test func aLinkRecordReadsWithItsStreamsUCIDOnce() throws {
        let now = Self.linkRecord(
            body:
                #"{"type":"CALLTRAIL_UCID_LINKED","source":"calltrail","switch":"S1","time":"2026-09-21T13:46:40Z","callID":1010,"positions":[1,2]}"#
        )
        let text = StoredEventJSON.render(now)
        #expect(Self.count("ucid", in: text) == 1, "\(text)")
        #expect(text.hasPrefix(#"{"position":4,"ucid":"00002000421700000001","streamVersion":4"#), "\(text)")
    }

    /// Link records written before their body lost its `ucid` are read from the log as they were stored: the body's
    /// `ucid` (the same UCID) is the only one.
    @Test func anOlderLinkRecordDoesNotRepeatItsUCID() throws {
        let older = Self.linkRecord(
            body:
                #"{"type":"CALLTRAIL_UCID_LINKED","source":"calltrail","switch":"S1","time":"2026-09-21T13:46:40Z","ucid":"00002000421700000001","callID":1010,"positions":[1,2]}"#
        )
        let text = StoredEventJSON.render(older)
        #expect(Self.count("ucid", in: text) == 1, "\(text)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object["ucid"] as? String == "00002000421700000001")
        #expect(object["position"] as? Int == 4)
    }

    /// Any other event keeps the fact, whatever its body holds below the top level.
    @Test func otherEventsGetTheirUCIDAsAFact() throws {
        var event = Self.linkRecord(
            body: #"{"type":"CSTA_DELIVERED","source":"aes1","att":{"ucid":"00002000421700000001"}}"#)
        event.type = "CSTA_DELIVERED"
        let text = StoredEventJSON.render(event)
        #expect(Self.count("ucid", in: text) == 2, "the fact and the ATT member: \(text)")
        #expect(text.hasPrefix(#"{"position":4,"ucid":"00002000421700000001""#), "\(text)")
    }
}
