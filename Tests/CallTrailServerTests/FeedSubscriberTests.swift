import CallModel
import Foundation
import TSAPI
import Testing

@testable import CallTrailServer

/// `FeedSubscriber`'s bookkeeping, which is pure logic: what it queues, in what order, and what it passes over.
struct FeedSubscriberTests {
    static func delivery(_ position: Int64, device: String, kind: FeedMessage.Kind = .connect) -> FeedDelivery {
        let message = FeedMessage(
            storedJSON: """
                {"kind":"\(kind.rawValue)","eventPosition":\(position * 10),"device":"\(device)","switch":"cm1","callID":1001,\
                "party":"\(device)","journeyId":"j\(position)","parties":["\(device)"],"time":"2026-11-20T10:00:0\(position % 10).000Z"}
                """)!
        return FeedDelivery(position: position, message: message, userData: nil, json: "{\"position\":\(position)}")
    }

    /// The positions of the queued feed messages (`nil` for a snapshot or a response), in queue order.
    static func queued(_ subscriber: FeedSubscriber) -> [Int64?] {
        subscriber.take().items.map(\.position)
    }

    /// ctiSVR `startmonitor` mid-stream: the extension's snapshot is read at position 5. A change at 3 is in it
    /// and must not go out again, whether it reaches the subscriber while the snapshot is read or later (a
    /// subscriber still catching up); a change at 7 goes out after the snapshot, once.
    @Test func aSnapshotAndTheMessagesAroundItGiveEachChangeOnce() {
        let subscriber = FeedSubscriber(
            id: 1, format: .ctisvr, filter: FeedFilter(devices: []), cursor: 0, capacity: 100)
        subscriber.startWriting {}
        #expect(subscriber.startMonitor("5001") == (1, true))
        subscriber.deliver(Self.delivery(1, device: "5001"))
        #expect(Self.queued(subscriber) == [1])

        // 5002 is monitored mid-stream: its messages wait while its snapshot is read.
        #expect(subscriber.startMonitor("5002", holding: true) == (2, true))
        subscriber.deliver(Self.delivery(2, device: "5002"))
        subscriber.deliver(Self.delivery(3, device: "5001"))
        subscriber.deliver(Self.delivery(6, device: "5002"))
        #expect(Self.queued(subscriber) == [3], "5002's messages wait; 5001's go")

        subscriber.finishSnapshot(of: "5002", at: 5, texts: ["snapshot of 5002"])
        let items = subscriber.take().items
        #expect(
            items.map(\.text) == [
                "snapshot of 5002",
                CtiSvr.event(Self.delivery(6, device: "5002").message, referenceID: 2, userData: nil),
            ])
        #expect(items.map(\.position) == [nil, 6], "2 is in the snapshot; 6 comes after it")

        // A subscriber catching up (its cursor moved back by a new subscription) gets 5002's messages after the
        // snapshot's position only.
        subscriber.resubscribe(subscriber.filter, cursor: 3)
        subscriber.deliver(Self.delivery(4, device: "5002"))
        subscriber.deliver(Self.delivery(5, device: "5001"))
        subscriber.deliver(Self.delivery(7, device: "5002"))
        #expect(Self.queued(subscriber) == [5, 7])

        // Monitoring 5002 again changes nothing; stopping it clears its snapshot's mark.
        #expect(subscriber.startMonitor("5002", holding: true) == (2, false))
        subscriber.deliver(Self.delivery(8, device: "5002"))
        #expect(Self.queued(subscriber) == [8])
        #expect(subscriber.stopMonitor("5002"))
        #expect(subscriber.startMonitor("5002") == (3, true))
        subscriber.resubscribe(subscriber.filter, cursor: 3)
        subscriber.deliver(Self.delivery(4, device: "5002"))
        #expect(Self.queued(subscriber) == [4])
    }

    /// When the snapshot cannot be read, the messages that waited go out all the same.
    @Test func aFailedSnapshotReleasesWhatWaited() {
        let subscriber = FeedSubscriber(
            id: 1, format: .ctisvr, filter: FeedFilter(devices: []), cursor: 0, capacity: 100)
        subscriber.startWriting {}
        _ = subscriber.startMonitor("5002", holding: true)
        subscriber.deliver(Self.delivery(2, device: "5002"))
        subscriber.deliver(Self.delivery(3, device: "5002"))
        #expect(Self.queued(subscriber) == [])
        subscriber.finishSnapshot(of: "5002", at: nil, texts: [])
        #expect(Self.queued(subscriber) == [2, 3])
    }
}
