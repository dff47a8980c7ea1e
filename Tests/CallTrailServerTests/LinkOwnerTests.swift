import AESLink
import AESSimulator
import EventStore
import Foundation
import Simulator
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Drill: two `calltrail serve` processes on one database, one link. One owns it (a single session on AES); the
/// other shows the owner's state. Killing the owner (`kill -9`) hands the link to the other within seconds, which
/// records `LINK_DOWN` `owner-lost`, snapshots every device, and ends the call that ended meanwhile.
struct LinkOwnerTests {
    /// GET `path` on a thread of its own (the socket blocks), as JSON; empty when it fails.
    static func json(_ http: RawHTTP, _ path: String) async -> [String: Any] {
        let body = await onThread { () -> String? in
            guard let answer = try? http.exchange("GET", path), answer.status == 200 else { return nil }
            return answer.body
        }
        guard let body else { return [:] }
        return (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
    }

    static func link(_ http: RawHTTP) async -> [String: Any] {
        (await json(http, "/v1/links")["links"] as? [[String: Any]])?.first ?? [:]
    }

    static func ownerPid(_ link: [String: Any]) -> Int? { (link["owner"] as? [String: Any])?["pid"] as? Int }

    /// Waits until `condition` holds of the link as `http` shows it; nil after 20 s.
    static func waitFor(_ http: RawHTTP, _ condition: ([String: Any]) -> Bool) async throws -> [String: Any]? {
        for _ in 0..<400 {
            let link = await Self.link(http)
            if condition(link) { return link }
            try await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    @Test func killingTheProcessThatOwnsTheLinkHandsItToTheOther() async throws {
        let aes = try await AESLinkTests.startAES(LinkResilienceTests.sites)
        defer { Task { await aes.close() } }
        // Without its last station: a device added at run time through the process that does not own the link.
        let (link, spare) = try LinkDeviceTests.link(port: aes.port)
        let monitors = link.stations.count + link.vdns.count
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("links-\(UUID().uuidString).json")
        let entry: [String: Any] = [
            "name": link.name, "switch": link.switchID, "url": link.url.description, "username": link.username,
            "password": link.password, "switchName": link.switchName, "stations": link.stations, "vdns": link.vdns,
            "sessionDuration": 60,
        ]
        try JSONSerialization.data(withJSONObject: ["links": [entry]]).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }

        try await TestDatabase.with { database in
            let (first, one) = try await ProcessKillTests.serve(database, extra: ["--links", file.path])
            defer { if first.isRunning { first.terminate() } }
            let owned = try await Self.waitFor(one) { link in
                link["state"] as? String == "up" && (link["monitored"] as? [Any])?.count == monitors
            }
            #expect(Self.ownerPid(owned ?? [:]) == Int(first.processIdentifier))

            let (second, two) = try await ProcessKillTests.serve(database, extra: ["--links", file.path])
            defer { if second.isRunning { second.terminate() } }
            // The other process shows the owner's state (as the owner last reported it: within a second), and keeps
            // no session of its own.
            let mirrored = try await Self.waitFor(two) { link in
                Self.ownerPid(link) == Int(first.processIdentifier) && link["state"] as? String == "up"
                    && (link["monitored"] as? [Any])?.count == monitors
            }
            let shown = await Self.link(two)
            #expect(mirrored != nil, "\(shown)")
            try await Task.sleep(for: .seconds(1))
            #expect(aes.requestsReceived.filter { $0 == "StartApplicationSession" }.count == 1)

            // A device added through the other process: kept (202), and monitored by the owner within seconds.
            let added = try await two.exchangeOffPool(
                "POST", "/v1/links/\(link.name)/devices", body: Array("{\"stations\": [\"\(spare)\"]}".utf8))
            #expect(added.status == 202, "\(added.body)")
            let withSpare = try await Self.waitFor(one) { link in
                (link["monitored"] as? [[String: Any]])?.contains { $0["extension"] as? String == spare } == true
            }
            #expect(withSpare != nil, "the owner monitors the device added through the other process")

            // A call answered while the first owns the link; it ends while nobody owns it.
            let events = LinkResilienceTests.callUntilAnswered
            for event in events { await aes.send(event) }
            for _ in 0..<400 {
                let count = (await Self.json(two, "/v1/events?limit=1000")["events"] as? [Any])?.count ?? 0
                if count >= events.count { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            let killed = ContinuousClock.now
            kill(first.processIdentifier, SIGKILL)
            await first.exited()
            for event in AESLinkTests.events(.inboundAnswered).dropFirst(events.count) { await aes.send(event) }

            let taken = try await Self.waitFor(two) { link in
                Self.ownerPid(link) == Int(second.processIdentifier) && link["state"] as? String == "up"
                    && (link["monitored"] as? [Any])?.count == monitors + 1
            }
            print("link drill: owner killed to LINK_UP in the other process in \(ContinuousClock.now - killed)")
            let now = await Self.link(two)
            #expect(taken != nil, "the other process took the link: \(now)")

            // LINK_DOWN owner-lost, then the snapshots; the call that ended meanwhile is ended in its journey.
            let ucid = try #require(
                try ScenarioFixtures.expectedJourney(Scenario.inboundAnswered.rawValue)["ucid"] as? String)
            var journey: [String: Any] = [:]
            for _ in 0..<400 {
                journey = await Self.json(two, "/v1/journeys/\(ucid)")
                if journey["state"] as? String == "ended" { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(journey["endedBy"] as? String == "link-gap", "\(journey)")
            let log = await Self.json(two, "/v1/events?limit=1000")["events"] as? [[String: Any]] ?? []
            let codes = log.filter { $0["type"] as? String == "LINK_DOWN" }.compactMap {
                ($0["link"] as? [String: Any])?["code"] as? String
            }
            #expect(codes.contains("owner-lost"), "\(codes)")
            let seqs = log.compactMap { $0["seq"] as? Int }
            #expect(Set(seqs).count == seqs.count, "no seq twice")
        }
    }
}
