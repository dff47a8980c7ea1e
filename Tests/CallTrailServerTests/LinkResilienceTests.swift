import AESLink
import AESSimulator
import CallTrailServer
import DMCC
import EventStore
import Foundation
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import Simulator
import TSAPI
import TestSupport
import Testing

/// Drills over real sockets against the simulator as AES: the socket dropped, AES gone silent, a resume refused,
/// AES restarted, the switch link down and back, the primary AES dead and the standby taking over. After each, the
/// link comes back by itself, `LINK_DOWN` and `LINK_UP` say what happened, every monitor is active again, no event
/// is stored twice, and every device's calls are snapshot for the gap.
struct LinkResilienceTests {
    /// The first site of the inbound-answered scenario: a call offered to a VDN and answered at a station.
    static let traffic = Traffic.fixture(.inboundAnswered)
    static var sites: [SwitchSite] { traffic.sites }

    static func link(port: Int, standbyPort: Int? = nil, sessionDuration: Int = 60) throws -> LinkConfiguration {
        var link = try AESLinkTests.links(sites, port: port)[0]
        link.standby = try standbyPort.map { try LinkURL("tcp://127.0.0.1:\($0)") }
        link.sessionDuration = sessionDuration
        return link
    }

    /// The stored events of the link's own kinds (`LINK_UP`, `LINK_DOWN`, `LINK_SNAPSHOT`), in log order.
    static func linkRecords(_ client: some TestClientProtocol) async throws -> [[String: Any]] {
        let events = try await AppHarness.get(client, "/v1/events?limit=1000")["events"] as? [[String: Any]] ?? []
        return events.filter { ($0["type"] as? String)?.hasPrefix("LINK_") == true }
    }

    /// The records of one type.
    static func only(_ records: [[String: Any]], _ type: String) -> [[String: Any]] {
        records.filter { record in record["type"] as? String == type }
    }

    /// The snapshot of one device.
    static func device(_ snapshots: [[String: Any]], _ device: String) -> [String: Any]? {
        snapshots.first { snapshot in snapshot["device"] as? String == device }
    }

    /// The `link` object of each record of one type.
    static func links(_ records: [[String: Any]], _ type: String) -> [[String: Any]] {
        only(records, type).compactMap { record in record["link"] as? [String: Any] }
    }

    /// Waits until the link's records include `count` of `type`; fails after 20 s.
    @discardableResult
    static func waitForRecords(
        _ client: some TestClientProtocol, _ type: String, count: Int
    ) async throws -> [[String: Any]] {
        for _ in 0..<1_000 {
            let records = try await linkRecords(client)
            if records.filter({ $0["type"] as? String == type }).count >= count { return records }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("no \(count) \(type) records: \(try await linkRecords(client).map { $0["type"] ?? "" })")
        throw CancellationError()
    }

    /// The link, once it is up with every monitor again.
    @discardableResult
    static func waitForUp(_ client: some TestClientProtocol, monitors: Int) async throws -> [String: Any] {
        for _ in 0..<1_000 {
            if let link = try await AESLinkTests.linkStates(client).first, link["state"] as? String == "up",
                (link["monitored"] as? [Any])?.count == monitors
            {
                return link
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("the link did not come up: \(try await AESLinkTests.linkStates(client))")
        throw CancellationError()
    }

    /// The scenario's switch events up to its answer: a call in progress at a station.
    static var callUntilAnswered: [SwitchEvent] {
        let events = AESLinkTests.events(.inboundAnswered)
        let answered = events.firstIndex { $0.type == .established } ?? events.count - 1
        return Array(events[...answered])
    }

    /// Every device of the first site is monitored.
    static var monitors: Int { sites[0].monitors.count }

    /// Runs `body` with the simulator as AES and a CallTrail whose one link is up on it with every monitor; `body`
    /// gets the link as `GET /v1/links` first showed it up.
    static func drill(
        sessionDuration: Int = 60,
        _ body:
            @Sendable (_ client: any TestClientProtocol, _ aes: AESSimulatorServer, _ up: [String: Any])
            async throws -> Void
    ) async throws {
        let aes = try await AESLinkTests.startAES(sites)
        defer { Task { await aes.close() } }
        var arguments = TestArguments()
        arguments.links = [try link(port: aes.port, sessionDuration: sessionDuration)]
        try await AppHarness.withApp(arguments) { client, _ in
            try await body(client, aes, try await waitForUp(client, monitors: monitors))
        }
    }

    @Test func aDroppedSocketResumesTheSessionWithItsMonitorsAndSnapshotsEveryDevice() async throws {
        let monitors = Self.monitors
        try await Self.drill { client, aes, before in
            for event in Self.callUntilAnswered { await aes.send(event) }
            let sentBefore = aes.eventsSent
            try await AESLinkTests.waitForStored(client, count: sentBefore + 1)
            let requestsBefore = aes.requestsReceived.count

            let dropped = ContinuousClock.now
            await aes.dropConnections()
            let records = try await Self.waitForRecords(client, "LINK_UP", count: 2)
            let recovery = ContinuousClock.now - dropped
            print("link drill: dropped socket to LINK_UP (resumed) in \(recovery)")

            let down = try #require(Self.links(records, "LINK_DOWN").first)
            #expect(down["code"] as? String == "closed")
            #expect(down["sessionID"] as? String == before["sessionID"] as? String)
            let up = try #require(Self.links(records, "LINK_UP").last)
            #expect(up["resumed"] as? Bool == true)
            #expect(up["sessionID"] as? String == before["sessionID"] as? String)
            // The monitors came back with the session: none was started again.
            let after = try await Self.waitForUp(client, monitors: monitors)
            #expect(after["sessionID"] as? String == before["sessionID"] as? String)
            #expect(!aes.requestsReceived.dropFirst(requestsBefore).contains("MonitorStart"))
            #expect(after["reconnects"] as? Int == 1)

            // One snapshot per monitored device, the answered call at its station.
            let recorded = try await Self.waitForRecords(client, "LINK_SNAPSHOT", count: monitors)
            let snapshots = Self.only(recorded, "LINK_SNAPSHOT")
            #expect(snapshots.count == monitors)
            let station = try #require(Self.device(snapshots, "5001"))
            let calls = station["calls"] as? [[String: Any]] ?? []
            #expect(calls.count == 1 && calls.first?["state"] as? String == "CS_CONNECT", "\(station)")
            let gap = try #require((station["link"] as? [String: Any])?["gap"] as? [String: Any])
            #expect(gap["from"] is String && gap["to"] is String)

            // Events after the resume are stored, each once.
            let rest = AESLinkTests.events(.inboundAnswered).dropFirst(Self.callUntilAnswered.count)
            for event in rest { await aes.send(event) }
            try await AESLinkTests.waitForStored(client, count: aes.eventsSent + 3 + monitors)
            let log = try await AppHarness.get(client, "/v1/events?limit=1000")["events"] as? [[String: Any]] ?? []
            let seqs = log.compactMap { $0["seq"] as? Int }
            #expect(Set(seqs).count == seqs.count, "no seq twice")
            #expect(log.count == aes.eventsSent + 3 + monitors)
        }
    }

    @Test func aRefusedResumeStartsANewSessionAndRestoresEveryMonitor() async throws {
        let monitors = Self.monitors
        try await Self.drill { client, aes, before in
            aes.setRefusesResumes(true)
            let dropped = ContinuousClock.now
            await aes.dropConnections()
            let records = try await Self.waitForRecords(client, "LINK_UP", count: 2)
            print(
                "link drill: resume refused, dropped socket to LINK_UP (new session) in \(ContinuousClock.now - dropped)"
            )
            let up = try #require(Self.links(records, "LINK_UP").last)
            #expect(up["resumed"] as? Bool == false)
            #expect((up["reason"] as? String)?.contains("did not resume") == true, "\(up)")
            let after = try await Self.waitForUp(client, monitors: monitors)
            #expect(after["sessionID"] as? String != before["sessionID"] as? String)
            #expect(aes.requestsReceived.filter { $0 == "MonitorStart" }.count == 2 * monitors)
            try await Self.waitForRecords(client, "LINK_SNAPSHOT", count: monitors)
        }
    }

    @Test func aRestartedAESGivesANewSession() async throws {
        let monitors = Self.monitors
        try await Self.drill { client, aes, before in
            await aes.restart()
            let records = try await Self.waitForRecords(client, "LINK_UP", count: 2)
            let up = try #require(Self.links(records, "LINK_UP").last)
            #expect(up["resumed"] as? Bool == false)
            let after = try await Self.waitForUp(client, monitors: monitors)
            #expect(after["sessionID"] as? String != before["sessionID"] as? String)
        }
    }

    /// A peer that stops answering without closing its socket is found by the keep-alive: at a session of 3 s the
    /// link resets the timer every second and waits 5 s for the answer.
    @Test func aSilentAESIsFoundByTheKeepAliveAndTheLinkReconnects() async throws {
        let monitors = Self.monitors
        try await Self.drill(sessionDuration: 3) { client, aes, before in
            let silent = ContinuousClock.now
            aes.setSilent(true)
            let records = try await Self.waitForRecords(client, "LINK_DOWN", count: 1)
            let detection = ContinuousClock.now - silent
            // Found by the keep-alive (one interval of 1 s, then its 5 s deadline), not by a closed socket: the
            // code says which. How long it took is printed, not asserted: a loaded machine adds its own delay.
            print("link drill: silent AES to LINK_DOWN in \(detection)")
            let down = try #require(Self.links(records, "LINK_DOWN").first)
            #expect(down["code"] as? String == "silent")
            aes.setSilent(false)
            try await Self.waitForRecords(client, "LINK_UP", count: 2)
            try await Self.waitForUp(client, monitors: monitors)
        }
    }

    /// The switch link down: the session stays, the link says `down` and why; back up, `LINK_UP` and a snapshot
    /// of every device hold what happened meanwhile (the call answered while no event came).
    @Test func theSwitchLinkDownKeepsTheSessionAndResynchronisesWhenItReturns() async throws {
        let monitors = Self.monitors
        try await Self.drill { client, aes, before in
            let events = Self.callUntilAnswered
            await aes.send(events[0])
            await aes.reportSwitchLink(up: false)
            let records = try await Self.waitForRecords(client, "LINK_DOWN", count: 1)
            let down = try #require(Self.links(records, "LINK_DOWN").first)
            #expect(down["code"] as? String == "tlink-down")
            let link = try #require(try await AESLinkTests.linkStates(client).first)
            #expect(link["state"] as? String == "down")
            #expect((link["lastError"] as? [String: Any])?["aesError"] as? String == "tlinkDown")
            #expect(link["sessionID"] as? String == before["sessionID"] as? String)
            // Events while the switch link is down reach no one.
            let sent = aes.eventsSent
            for event in events.dropFirst() { await aes.send(event) }
            #expect(aes.eventsSent == sent)

            await aes.reportSwitchLink(up: true)
            let after = try await Self.waitForRecords(client, "LINK_SNAPSHOT", count: monitors)
            let up = try #require(Self.links(after, "LINK_UP").last)
            #expect(up["resumed"] as? Bool == true)
            #expect(up["sessionID"] as? String == before["sessionID"] as? String)
            let station = try #require(Self.device(Self.only(after, "LINK_SNAPSHOT"), "5001"))
            #expect((station["calls"] as? [[String: Any]])?.first?["state"] as? String == "CS_CONNECT", "\(station)")
            try await Self.waitForUp(client, monitors: monitors)
        }
    }

    /// A call that ends while no event can come (the switch link down): the snapshots after the gap no longer hold
    /// it, so its journey ends with `endedBy` `link-gap` and the gap's times, and keeps its outcome.
    @Test func aCallThatEndedInTheGapIsEndedInItsJourney() async throws {
        let monitors = Self.monitors
        try await Self.drill { client, aes, _ in
            let events = Self.callUntilAnswered
            for event in events { await aes.send(event) }
            try await AESLinkTests.waitForStored(client, count: aes.eventsSent + 1)
            await aes.reportSwitchLink(up: false)
            try await Self.waitForRecords(client, "LINK_DOWN", count: 1)
            for event in AESLinkTests.events(.inboundAnswered).dropFirst(events.count) { await aes.send(event) }
            await aes.reportSwitchLink(up: true)
            try await Self.waitForRecords(client, "LINK_SNAPSHOT", count: monitors)

            let ucid = try #require(
                try ScenarioFixtures.expectedJourney(Scenario.inboundAnswered.rawValue)["ucid"] as? String)
            var journey: [String: Any] = [:]
            for _ in 0..<500 {
                journey = try await AppHarness.get(client, "/v1/journeys/\(ucid)")
                if journey["state"] as? String == "ended" { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(journey["state"] as? String == "ended", "\(journey)")
            #expect(journey["endedBy"] as? String == "link-gap", "\(journey)")
            #expect(journey["outcome"] as? String == "answered", "what was known stays: \(journey)")
            let gap = try #require(journey["gap"] as? [String: Any], "\(journey)")
            #expect(gap["from"] is String && gap["to"] is String)
            let legs = journey["legs"] as? [[String: Any]] ?? []
            #expect(legs.allSatisfy { leg in leg["endedBy"] as? String == "link-gap" }, "\(legs)")
            let context = try await AppHarness.get(client, "/v1/calls/\(ucid)")
            #expect(context["endedBy"] as? String == "link-gap", "\(context)")
        }
    }

    /// The database stops taking the link's events (a table lock stands for a database that is away): past
    /// `maxQueuedEvents` waiting in memory, the link ends its session rather than grow; once they are stored it
    /// comes back by itself and snapshots every device for the gap.
    @Test func aFullQueueEndsTheSessionUntilTheDatabaseTakesTheEvents() async throws {
        let aes = try await AESLinkTests.startAES(Self.sites)
        defer { Task { await aes.close() } }
        var link = try Self.link(port: aes.port)
        link.maxQueuedEvents = 4
        var arguments = TestArguments()
        arguments.links = [link]
        let monitors = Self.monitors
        try await AppHarness.withApp(arguments) { client, database in
            try await Self.waitForUp(client, monitors: monitors)
            let stored = try await Self.linkRecords(client).count
            try await database.withClient(asOwner: true) { owner in
                try await owner.withTransaction(logger: database.logger) { connection in
                    try await connection.query(
                        "LOCK TABLE event_log_head IN ACCESS EXCLUSIVE MODE", logger: database.logger)
                    for event in AESLinkTests.events(.inboundAnswered) { await aes.send(event) }
                    var state = ""
                    for _ in 0..<500 {
                        state = try await AESLinkTests.linkStates(client).first?["state"] as? String ?? ""
                        if state != "up" { break }
                        try await Task.sleep(for: .milliseconds(20))
                    }
                    #expect(state != "up", "the link ended its session with its queue full")
                    // While the events cannot be stored, no new session is made.
                    try await Task.sleep(for: .milliseconds(500))
                    #expect(try await AESLinkTests.linkStates(client).first?["state"] as? String != "up")
                }
            }
            let records = try await Self.waitForRecords(client, "LINK_UP", count: 2)
            #expect(records.count > stored)
            let down = try #require(Self.links(records, "LINK_DOWN").first)
            #expect((down["reason"] as? String)?.contains("wait for the database") == true, "\(down)")
            try await Self.waitForUp(client, monitors: monitors)
            try await Self.waitForRecords(client, "LINK_SNAPSHOT", count: monitors)
        }
    }

    /// The primary AES dies: after its retries the link moves to the standby with the same monitors and
    /// `source`, and a call in progress goes on in its journey. `POST /v1/links/{name}/switch` moves it back.
    @Test func theStandbyTakesOverWhenThePrimaryDiesAndTheOperatorMovesItBack() async throws {
        let primary = try await AESLinkTests.startAES(Self.sites)
        let standby = try await AESLinkTests.startAES(Self.sites)
        defer {
            Task {
                await primary.close()
                await standby.close()
            }
        }
        var arguments = TestArguments()
        arguments.links = [try Self.link(port: primary.port, standbyPort: standby.port)]
        let monitors = Self.monitors
        let primaryPort = primary.port
        let events = AESLinkTests.events(.inboundAnswered)
        let half = Self.callUntilAnswered.count
        try await AppHarness.withApp(arguments) { client, _ in
            try await Self.waitForUp(client, monitors: monitors)
            // Both AES servers front the same switch: each sees every event; only a session hears them.
            for event in events.prefix(half) {
                await primary.send(event)
                await standby.send(event)
            }
            try await AESLinkTests.waitForStored(client, count: primary.eventsSent + 1)

            let died = ContinuousClock.now
            await primary.close()
            await primary.restart()
            var link: [String: Any] = [:]
            for _ in 0..<1_000 {
                link = try await AESLinkTests.linkStates(client).first ?? [:]
                if link["active"] as? String == "standby", link["state"] as? String == "up" { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            print("link drill: primary AES dead to LINK_UP on the standby in \(ContinuousClock.now - died)")
            #expect(link["active"] as? String == "standby")
            #expect(link["url"] as? String == "tcp://127.0.0.1:\(standby.port)")
            #expect((link["monitored"] as? [Any])?.count == monitors)

            for event in events.dropFirst(half) {
                await primary.send(event)
                await standby.send(event)
            }
            let ucid = try #require(
                try ScenarioFixtures.expectedJourney(Scenario.inboundAnswered.rawValue)["ucid"] as? String)
            var journey: [String: Any] = [:]
            for _ in 0..<500 {
                journey = try await AppHarness.get(client, "/v1/journeys/\(ucid)")
                if (journey["times"] as? [String: Any])?["cleared"] is String { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(
                (journey["times"] as? [String: Any])?["cleared"] is String,
                "the call went on through the standby: \(journey)")
            #expect(journey["outcome"] as? String == "answered", "\(journey)")

            // The operator moves it back to the primary, up again.
            let primaryAgain = try await AESLinkTests.startAES(Self.sites, port: primaryPort)
            defer { Task { await primaryAgain.close() } }
            let moved = try await client.execute(uri: "/v1/links/\(Self.sites[0].source)/switch", method: .post)
            #expect(moved.status == .accepted)
            for _ in 0..<1_000 {
                link = try await AESLinkTests.linkStates(client).first ?? [:]
                if link["active"] as? String == "primary", link["state"] as? String == "up" { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            let trail = try await Self.linkRecords(client).map { "\($0["type"] ?? "") \($0["link"] ?? "")" }
            #expect(link["active"] as? String == "primary", "\(link) \(trail)")
            #expect((link["monitored"] as? [Any])?.count == monitors)
            // The link's records are stored after the board shows it up: wait for the third LINK_UP (primary,
            // standby, primary again), which comes after the move's LINK_DOWN.
            let records = try await Self.waitForRecords(client, "LINK_UP", count: 3)
            let codes = Self.links(records, "LINK_DOWN").compactMap { link in link["code"] as? String }
            #expect(codes.first == "closed")
            #expect(codes.last == "shutdown")
            let servers = records.compactMap { record -> String? in
                (record["link"] as? [String: Any])?["aes"] as? String
            }
            #expect(servers.contains("tcp://127.0.0.1:\(standby.port)"))
        }
    }

    @Test func aLinkWithoutAStandbyCannotBeSwitched() async throws {
        try await Self.drill { client, _, _ in
            let refused = try await client.execute(uri: "/v1/links/\(Self.sites[0].source)/switch", method: .post)
            #expect(refused.status == .conflict)
            #expect(String(buffer: refused.body).contains("no standby"))
            let missing = try await client.execute(uri: "/v1/links/nosuch/switch", method: .post)
            #expect(missing.status == .notFound)
        }
    }
}
