import CallModel
import Foundation
import TSAPI
import TestSupport
import Testing

/// The feed messages the journey reducer makes from the scenario library (docs/feed.md).
struct FeedMessageTests {
    static func feed(_ events: [CallEvent]) -> (JourneyTracker, [FeedMessage]) {
        var tracker = JourneyTracker()
        for event in events { tracker.apply(event) }
        let feed = tracker.takeFeed()
        return (tracker, feed)
    }

    /// The gap the feed closes: the consulted agent's offer names the customer, not the agent who dialled.
    @Test func theConsultedAgentsOfferCarriesTheCustomerBeforeTheTransfer() throws {
        let (_, feed) = Self.feed(try ScenarioJourneyTests.events("c-consultative-transfer"))
        let offer = try #require(feed.first { $0.kind == .offer && $0.device == "5002" })
        let transfer = try #require(feed.first { $0.kind == .transfer })
        #expect(offer.eventPosition < transfer.eventPosition)
        #expect(offer.calling == "5001", "the consultation's own caller is the agent")
        #expect(offer.originalAni == "6135555493")
        #expect(offer.originalDnis == "8005551234")
        #expect(offer.vdn == "7001")
        #expect(offer.split == "3001")
        #expect(offer.uui == "ACCT=998877;LANG=FR")
        #expect(offer.previousAgents == ["5001"])
        #expect(offer.journeyID == "00001000011795168800")
        #expect(offer.ucid?.rawValue == "00001000021795168934", "the consultation's own UCID")
        #expect(offer.journeyUcids.map(\.rawValue).contains("00001000011795168800"))

        // Both agents hear of the answer and of the transfer; the customer's trunk is nobody's desktop.
        #expect(
            Set(feed.filter { $0.kind == .connect && $0.eventPosition == offer.eventPosition + 2 }.map(\.device)) == [
                "5001", "5002",
            ])
        #expect(Set(feed.filter { $0.kind == .transfer }.map(\.device)) == ["5001", "5002"])
        #expect(transfer.party == "5001")
        #expect(feed.allSatisfy { !$0.device.hasPrefix("T") })
    }

    @Test(arguments: ScenarioJourneyTests.scenarios)
    func oneMessagePerDeviceAndEventWhateverTheMonitorCopies(_ name: String) throws {
        let events = try ScenarioJourneyTests.events(name)
        let (tracker, feed) = Self.feed(events)
        #expect(!feed.isEmpty)
        let keys = feed.map { "\($0.eventPosition)/\($0.device)/\($0.kind)" }
        #expect(Set(keys).count == keys.count, "a device hears of an event once")
        let ids = Set(tracker.journeys.keys)
        #expect(feed.allSatisfy { ids.contains($0.journeyID) })
        // Every offer to a station the journey records is in the feed, with the same customer data.
        for journey in tracker.journeys.values {
            for offer in journey.offers {
                let message = feed.first {
                    $0.kind == .offer && $0.eventPosition == offer.position && $0.device == offer.device
                }
                #expect(message?.originalAni == offer.originalAni, "\(name): offer at \(offer.device)")
                #expect(message?.originalDnis == offer.originalDnis)
                #expect(message?.userEnteredCode == offer.userEnteredCode)
            }
        }

        // Each event sent again by a second monitor, with its own sequence number: the feed is the same.
        let decoder = JSONDecoder()
        var copies: [CallEvent] = []
        for (index, line) in try ScenarioFixtures.lines(name).enumerated() {
            let copy = line.replacingOccurrences(of: "\"seq\":", with: "\"seq\":9000")
            copies.append(
                CallEvent(
                    position: Int64(2 * index + 1), event: try decoder.decode(TSAPIEvent.self, from: Data(line.utf8))))
            copies.append(
                CallEvent(
                    position: Int64(2 * index + 2), event: try decoder.decode(TSAPIEvent.self, from: Data(copy.utf8))))
        }
        let (_, doubled) = Self.feed(copies)
        #expect(
            doubled.map { "\($0.kind)/\($0.device)/\($0.party ?? "")/\($0.time)" }
                == feed.map { "\($0.kind)/\($0.device)/\($0.party ?? "")/\($0.time)" })
    }

    @Test(arguments: ScenarioJourneyTests.scenarios)
    func theStoredFormReadsBackTheSame(_ name: String) throws {
        let (_, feed) = Self.feed(try ScenarioJourneyTests.events(name))
        for message in feed {
            #expect(FeedMessage(storedJSON: message.storedJSON) == message)
        }
    }

    @Test func aTrackerThatDoesNotFeedKeepsNothing() throws {
        var tracker = JourneyTracker()
        tracker.emitsFeed = false
        for event in try ScenarioJourneyTests.events("a-inbound-answered") { tracker.apply(event) }
        #expect(tracker.takeFeed().isEmpty)
    }
}
