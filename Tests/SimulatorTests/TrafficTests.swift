import Foundation
import Simulator
import TSAPI
import Testing

struct TrafficTests {
    @Test func theSameSeedGivesTheSameEventsAndAnotherSeedOthers() {
        var options = Traffic.Options()
        options.calls = 40
        options.rate = 1
        let first = Array(Traffic(options))
        #expect(first == Array(Traffic(options)))
        options.seed = 2
        #expect(first != Array(Traffic(options)))
    }

    @Test func callIDsAreReusedOnceACallClears() throws {
        var options = Traffic.Options()
        options.calls = 2
        options.rate = 0.001  // the second call arrives long after the first cleared
        options.mix = [(.inboundAnswered, 1)]
        let envelopes = try Array(Traffic(options)).map { try IngestBatchParser.parse(Array($0.utf8))[0] }
        let calls = Dictionary(grouping: envelopes.filter { $0.ucid != nil }, by: \.ucid!)
        #expect(calls.count == 2, "two calls, two UCIDs")
        #expect(Set(envelopes.compactMap(\.callID)) == [1001], "the second call reuses callID 1001")
    }

    @Test func overlappingCallsGetDistinctCallIDs() throws {
        var options = Traffic.Options()
        options.calls = 30
        options.rate = 5
        options.agents = 40
        options.mix = [(.inboundAnswered, 1)]
        let events = try IngestBatchParser.parse(Array(Array(Traffic(options)).joined(separator: "\n").utf8))
        // While a UCID's call is live, no other UCID may hold its callID.
        var owner: [Int64: UCID] = [:]
        for event in events where event.switchName == "cm1" {
            guard let callID = event.callID else { continue }
            if let ucid = event.ucid {
                if let current = owner[callID] { #expect(current == ucid, "callID \(callID) given to two live calls") }
                owner[callID] = ucid
            }
            if event.eventType == .callCleared { owner[callID] = nil }
        }
        #expect(Set(events.compactMap(\.ucid)).count == 30)
    }

    @Test func ucidsFollowTheSwitchFormat() throws {
        var options = Traffic.Options()
        options.calls = 20
        options.mix = [(.inboundAnswered, 1), (.transferToSite, 1)]
        let events = try IngestBatchParser.parse(Array(Array(Traffic(options)).joined(separator: "\n").utf8))
        let ucids = Set(events.compactMap(\.ucid))
        #expect(!ucids.isEmpty)
        for ucid in ucids {
            #expect(ucid.rawValue.count == 20)
            #expect(ucid.node == 1, "every UCID here was made on site 1 (site 2 only receives them)")
            #expect(ucid.sequence >= 1)
            #expect(abs(Double(ucid.originationEpochSeconds) - options.start.timeIntervalSince1970) < 3600)
        }
        let sequences = ucids.map(\.sequence).sorted()
        #expect(sequences == Array(1...sequences.count), "the node's sequence counts up from 1")
    }

    @Test func seqCountsUpPerLinkAndTimeNeverGoesBack() throws {
        var options = Traffic.Options()
        options.calls = 50
        options.rate = 3
        let events = try IngestBatchParser.parse(Array(Array(Traffic(options)).joined(separator: "\n").utf8))
        for source in ["aes1", "aes2"] {
            let link = events.filter { $0.source == source }
            #expect(link.map(\.seq) == (1...Int64(max(link.count, 1))).prefix(link.count).map { Optional($0) })
            #expect(zip(link, link.dropFirst()).allSatisfy { $0.time <= $1.time })
        }
    }

    @Test func durationStopsNewCalls() {
        var options = Traffic.Options()
        options.duration = 60
        options.rate = 2
        var traffic = Traffic(options)
        while traffic.next() != nil {}
        #expect((60...200).contains(traffic.callsGenerated), "about 120 calls in 60 s at 2 calls/s")
    }
}
