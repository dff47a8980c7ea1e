import CallModel
import CallTrailServer
import Foundation
import Testing

/// The feed's own messages keep their text exactly: `type` first, the members in the order integrations know.
struct FeedControlMessageTests {
    @Test func theirTextIsFixed() throws {
        #expect(FeedControlMessage.live(position: 42).text == #"{"type":"live","position":42}"#)
        #expect(
            FeedControlMessage.heartbeat(position: 7, time: Date(timeIntervalSince1970: 1_795_168_800)).text
                == #"{"type":"heartbeat","position":7,"time":"2026-11-20T10:00:00.000Z"}"#)
        #expect(
            FeedControlMessage.error(field: nil, message: "the \"after\" is gone").text
                == #"{"type":"error","field":null,"message":"the \"after\" is gone"}"#)
        let filter = try FeedFilter(query: { ["devices": "5002,5001", "events": "offer"][$0] })
        #expect(
            FeedControlMessage.subscribed(filter: filter, after: nil).text
                == #"{"type":"subscribed","filter":{"devices":["5001","5002"],"agents":null,"vdns":null,"splits":null,"#
                + #""events":["offer"]},"after":null}"#)
    }
}
