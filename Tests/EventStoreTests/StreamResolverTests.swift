import EventStore
import TSAPI
import TestSupport
import Testing

/// The identity rules (docs/architecture.md, "How events find their call"), as given-events-expect-streams cases (no database).
struct StreamResolverTests {
    let u1 = UCID(EventFixtures.u1)!
    let u2 = UCID(EventFixtures.u2)!

    func resolve(
        _ events: [String], bindings: [CallKey: CallBinding] = [:], pending: [CallKey: [Int64]] = [:]
    )
        -> (rows: [StreamResolver.Row], resolver: StreamResolver)
    {
        var resolver = StreamResolver(bindings: bindings, pending: pending)
        let rows = resolver.resolve(EventFixtures.incoming(events), firstPosition: 1)
        return (rows, resolver)
    }

    @Test func eventsWithoutUCIDFollowTheirCallID() {
        var f = EventFixtures()
        let (rows, resolver) = resolve([
            f.delivered(1001, at: "7001", ucid: EventFixtures.u1, monitor: 101, toACD: true),
            f.queued(1001, monitor: 101),
            f.held(1001, at: "5001", monitor: 201),
            f.callCleared(1001, monitor: 101),
        ])
        #expect(rows.map(\.ucid) == [u1, u1, u1, u1])
        #expect(rows.map(\.position) == [1, 2, 3, 4])
        #expect(resolver.bindings[CallKey(switchName: "cm1", callID: 1001)]?.isOpen == false)
    }

    @Test func monitorCopiesOfCallClearedResolveAfterTheFirstCloses() {
        var f = EventFixtures()
        let (rows, _) = resolve([
            f.delivered(1001, at: "5001", ucid: EventFixtures.u1, monitor: 201),
            f.callCleared(1001, monitor: 101),
            f.callCleared(1001, monitor: 201),
        ])
        #expect(rows.map(\.ucid) == [u1, u1, u1])
    }

    @Test func callIDReusedAfterCallClearedBelongsToTheNewCall() {
        var f = EventFixtures()
        let (rows, resolver) = resolve([
            f.delivered(1001, at: "5001", ucid: EventFixtures.u1),
            f.callCleared(1001),
            f.held(1001, at: "5002"),  // a new call on 1001 whose UCID is not known yet
            f.delivered(1001, at: "5003", ucid: EventFixtures.u2),
            f.connectionCleared(1001, device: "5003"),
        ])
        #expect(rows.count == 6, "one link row for the held event")
        #expect(rows[2].ucid == nil)
        #expect(rows[3].ucid == u2)
        guard case .link(let link) = rows[4].kind else {
            Issue.record("expected a link row after the UCID-bearing event")
            return
        }
        #expect(link.ucid == u2)
        #expect(link.positions == [3])
        #expect(rows[4].position == 5)
        #expect(rows[5].ucid == u2)
        #expect(resolver.pending.isEmpty)
    }

    @Test func lateUCIDLinksPendingEventsFromEarlierBatches() {
        var f = EventFixtures()
        let key = CallKey(switchName: "cm1", callID: 1002)
        let (rows, resolver) = resolve(
            [f.serviceInitiated(1002, at: "5001", ucid: EventFixtures.u2)],
            pending: [key: [7, 9]])
        #expect(rows.count == 2)
        guard case .link(let link) = rows[1].kind else {
            Issue.record("expected a link row")
            return
        }
        #expect(link.positions == [7, 9])
        #expect(link.call == key)
        #expect(resolver.touched.contains(key))
        #expect(resolver.pending[key] == nil)
    }

    @Test func unresolvedCallClearedEndsTheUnknownCallWithoutLinkingIt() {
        var f = EventFixtures()
        let (rows, resolver) = resolve([
            f.held(1005, at: "5001"),
            f.callCleared(1005),
            f.delivered(1005, at: "5002", ucid: EventFixtures.u1),
        ])
        #expect(rows.count == 3, "no link: the earlier call on 1005 ended without revealing its UCID")
        #expect(rows.map(\.ucid) == [nil, nil, u1])
        #expect(resolver.pending.isEmpty)
    }

    @Test func transferBindsTheSurvivingCallToTheOriginalUCID() {
        var f = EventFixtures()
        let (rows, resolver) = resolve([
            f.delivered(1001, at: "5001", ucid: EventFixtures.u1, monitor: 201),
            f.held(1001, at: "5001", monitor: 201),
            f.serviceInitiated(1002, at: "5001", ucid: EventFixtures.u2, monitor: 201),
            f.originated(1002, at: "5001", called: "5002", monitor: 201),
            f.delivered(1002, at: "5002", ucid: EventFixtures.u2, monitor: 202),
            f.transferred(
                primary: 1001, secondary: 1002, from: "5001", to: "5002", ucid: EventFixtures.u1, monitor: 202),
            f.callCleared(1001, monitor: 101),  // the merged-away old call, reported to the VDN monitor
            f.connectionCleared(1002, device: "T1002#1", monitor: 202),
            f.callCleared(1002, monitor: 202),
        ])
        #expect(rows.map(\.ucid) == [u1, u1, u2, u2, u2, u1, u1, u1, u1])
        #expect(resolver.bindings[CallKey(switchName: "cm1", callID: 1002)]?.ucid == u1)
    }

    @Test func transferWithoutATTUCIDTakesTheHeldCallsUCID() {
        var f = EventFixtures()
        let (rows, _) = resolve([
            f.delivered(1001, at: "5001", ucid: EventFixtures.u1),
            f.serviceInitiated(1002, at: "5001", ucid: EventFixtures.u2),
            f.transferred(primary: 1001, secondary: 1002, from: "5001", to: "5002", ucid: nil),
            f.connectionCleared(1002, device: "5002"),
        ])
        #expect(rows.map(\.ucid) == [u1, u2, u1, u1])
    }

    @Test func callIDsAreKeyedPerSwitch() {
        var site1 = EventFixtures(source: "aes1", switchName: "cm1")
        var site2 = EventFixtures(source: "aes2", switchName: "cm2")
        let (rows, _) = resolve([
            site1.delivered(1001, at: "5001", ucid: EventFixtures.u1),
            site2.held(1001, at: "6001"),
        ])
        #expect(rows.map(\.ucid) == [u1, nil])
    }

    @Test func eventsWithNoCallAreNeitherStreamedNorPending() {
        let events = EventFixtures.incoming([
            #"{"source":"aes1","seq":1,"time":"2026-11-20T10:00:00Z","type":"LINK_UP"}"#
        ])
        var resolver = StreamResolver(bindings: [:], pending: [:])
        let rows = resolver.resolve(events, firstPosition: 10)
        #expect(rows.map(\.ucid) == [nil])
        #expect(rows.map(\.position) == [10])
        #expect(resolver.pending.isEmpty)
    }
}

/// Cases found in review: CallCleared that reveals the UCID, callIDs freed by a merge, unresolvable merges.
struct StreamResolverEdgeTests {
    let u1 = UCID(EventFixtures.u1)!
    let u2 = UCID(EventFixtures.u2)!

    @Test func aCallClearedCarryingTheUCIDLinksThePendingEvents() {
        var f = EventFixtures()
        let events = EventFixtures.incoming([f.held(7, at: "5001")])
        var clear = EventFixtures.incoming([f.callCleared(7)])[0]
        clear.ucid = u1
        var resolver = StreamResolver(bindings: [:], pending: [:])
        let rows = resolver.resolve(events + [clear], firstPosition: 1)
        #expect(rows.count == 3)
        guard case .link(let link) = rows[2].kind else {
            Issue.record("expected a link row after the CallCleared")
            return
        }
        #expect(link.positions == [1])
        #expect(link.ucid == u1)
        #expect(resolver.pending.isEmpty)
    }

    @Test func aCallIDFreedByAMergeIsNotTheMergedCallAnyMore() {
        var f = EventFixtures()
        var resolver = StreamResolver(bindings: [:], pending: [:])
        let rows = resolver.resolve(
            EventFixtures.incoming([
                f.delivered(1001, at: "5001", ucid: EventFixtures.u1),
                f.serviceInitiated(1002, at: "5001", ucid: EventFixtures.u2),
                f.transferred(primary: 1001, secondary: 1002, from: "5001", to: "5002", ucid: EventFixtures.u1),
                f.callCleared(1001),  // the merged-away call, reported late: still the merged call's
                f.originated(1001, at: "5003", called: "916135550199"),  // CM reuses 1001 for a new call
            ]), firstPosition: 1)
        #expect(rows.map(\.ucid) == [u1, u2, u1, u1, nil])
        #expect(resolver.pending[CallKey(switchName: "cm1", callID: 1001)] == [5])
    }

    @Test func anUnresolvableMergeWaitsUnderTheSurvivingCall() {
        var f = EventFixtures()
        var resolver = StreamResolver(bindings: [:], pending: [:])
        let rows = resolver.resolve(
            EventFixtures.incoming([
                f.transferred(primary: 1001, secondary: 1002, from: "5001", to: "5002", ucid: nil),
                f.established(1002, at: "5002", ucid: EventFixtures.u2),
            ]), firstPosition: 1)
        #expect(rows.count == 3)
        guard case .link(let link) = rows[2].kind else {
            Issue.record("expected the merge to be linked once the survivor's UCID shows")
            return
        }
        #expect(link.positions == [1])
        #expect(link.call.callID == 1002)
    }
}
