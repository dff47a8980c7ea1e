import AESLink
import AESSimulator
import CallTrailServer
import EventStore
import Foundation
import Hummingbird
import HummingbirdTesting
import TestSupport
import Testing

/// Devices added and removed at run time, over real sockets against the simulator as AES: applied to the live
/// session, answered with the link's document once AES has answered, kept in the database across a restart.
struct LinkDeviceTests {
    static let sites = LinkResilienceTests.sites

    /// The link of the first site without its last station, which the tests add at run time.
    static func link(port: Int) throws -> (LinkConfiguration, String) {
        var link = try LinkResilienceTests.link(port: port)
        let spare = try #require(link.stations.last)
        link.stations.removeLast()
        return (link, spare)
    }

    static func send(
        _ client: some TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, _ body: String? = nil
    ) async throws -> (status: HTTPResponse.Status, json: [String: Any]) {
        let response = try await client.execute(
            uri: uri, method: method, headers: [.contentType: "application/json"],
            body: body.map { ByteBuffer(string: $0) })
        let json = (try? JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8))) as? [String: Any]
        return (response.status, json ?? [:])
    }

    static func extensions(_ devices: Any?) -> Set<String> {
        Set((devices as? [[String: Any]] ?? []).compactMap { device in device["extension"] as? String })
    }

    @Test func devicesAddedAndRemovedAtRunTimeAreMonitoredAndOutliveARestart() async throws {
        let aes = try await AESLinkTests.startAES(Self.sites)
        defer { Task { await aes.close() } }
        let (configuration, spare) = try Self.link(port: aes.port)
        let name = configuration.name
        let monitors = configuration.stations.count + configuration.vdns.count
        var arguments = TestArguments()
        arguments.links = [configuration]
        try await TestDatabase.with { database in
            arguments.databaseURL = database.url.urlString
            let first = try await buildApplication(arguments)
            try await first.test(.live) { client in
                try await LinkResilienceTests.waitForUp(client, monitors: monitors)

                // Added: monitored on the live session before the answer.
                let added = try await Self.send(
                    client, .post, "/v1/links/\(name)/devices", "{\"stations\": [\"\(spare)\", \"9999\"]}")
                #expect(added.status == .ok, "\(added.json)")
                #expect(Self.extensions(added.json["monitored"]).contains(spare), "\(added.json)")
                let refused = (added.json["failed"] as? [[String: Any]] ?? []).first {
                    $0["extension"] as? String == "9999"
                }
                #expect(refused?["error"] as? String == "invalidDeviceID", "AES refused it: \(added.json)")
                #expect(aes.requestsReceived.filter { $0 == "MonitorStart" }.count == monitors + 1)

                // Removed: its monitor stopped.
                let removed = try await Self.send(
                    client, .delete, "/v1/links/\(name)/devices/\(configuration.stations[0])")
                #expect(removed.status == .ok)
                #expect(!Self.extensions(removed.json["monitored"]).contains(configuration.stations[0]))
                #expect(aes.requestsReceived.contains("MonitorStop"))

                // Wrong requests name what is wrong, and change nothing.
                let unknown = try await Self.send(client, .delete, "/v1/links/\(name)/devices/4242")
                #expect(unknown.status == .notFound)
                let noLink = try await Self.send(
                    client, .post, "/v1/links/nosuch/devices", "{\"stations\": [\"5001\"]}")
                #expect(noLink.status == .notFound)
                let badEntry = try await Self.send(
                    client, .post, "/v1/links/\(name)/devices", "{\"stations\": [\"5001\", \"abc\"]}")
                #expect(badEntry.status == .unprocessableContent)
                let error = badEntry.json["error"] as? [String: Any] ?? [:]
                #expect(error["field"] as? String == "stations" && error["index"] as? Int == 1, "\(badEntry.json)")
                let empty = try await Self.send(client, .post, "/v1/links/\(name)/devices", "{}")
                #expect(empty.status == .unprocessableContent)
                let notJSON = try await Self.send(client, .post, "/v1/links/\(name)/devices", "stations=5001")
                #expect(notJSON.status == .badRequest)
            }

            // A restart keeps the changes: the spare station monitored, the removed one not, 9999 asked for again.
            let second = try await buildApplication(arguments)
            try await second.test(.live) { client in
                let link = try await LinkResilienceTests.waitForUp(client, monitors: monitors)
                let monitored = Self.extensions(link["monitored"])
                #expect(monitored.contains(spare))
                #expect(!monitored.contains(configuration.stations[0]))
                #expect(Self.extensions(link["failed"]) == ["9999"])

                // Added back, it is monitored again.
                let back = try await Self.send(
                    client, .post, "/v1/links/\(name)/devices", "{\"stations\": [\"\(configuration.stations[0])\"]}")
                #expect(back.status == .ok)
                #expect(Self.extensions(back.json["monitored"]).contains(configuration.stations[0]))
            }
        }
    }

    @Test func aChangeWhileTheLinkIsNotUpIsKeptForItsNextSession() async throws {
        let aes = try await AESLinkTests.startAES(Self.sites)
        let port = aes.port
        let (configuration, spare) = try Self.link(port: port)
        let monitors = configuration.stations.count + configuration.vdns.count
        var arguments = TestArguments()
        arguments.links = [configuration]
        try await AppHarness.withApp(arguments) { client, _ in
            try await LinkResilienceTests.waitForUp(client, monitors: monitors)
            // AES gone: its listener closed and its sessions dropped.
            await aes.close()
            await aes.restart()
            for _ in 0..<500 {
                if try await AESLinkTests.linkStates(client).first?["state"] as? String != "up" { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            let added = try await Self.send(
                client, .post, "/v1/links/\(configuration.name)/devices", "{\"stations\": [\"\(spare)\"]}")
            #expect(added.status == .accepted, "kept, not yet applied: \(added.json)")
            let again = try await AESLinkTests.startAES(Self.sites, port: port)
            defer { Task { await again.close() } }
            let link = try await LinkResilienceTests.waitForUp(client, monitors: monitors + 1)
            #expect(Self.extensions(link["monitored"]).contains(spare))
        }
    }
}
