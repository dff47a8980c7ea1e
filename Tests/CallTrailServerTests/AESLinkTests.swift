import AESLink
import AESSimulator
import CallTrailServer
import DMCC
import EventStore
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Simulator
import TSAPI
import TestSupport
import Testing

/// The AES link over real sockets, against the simulator playing AES: each scenario arrives through DMCC and gives
/// the journey it gives over HTTP; refused devices, a wrong password, TLS, a restart and a clean shutdown.
struct AESLinkTests {
    static let scenarios = Scenario.allCases

    /// The scenario's switch events, in order.
    static func events(_ scenario: Scenario) -> [SwitchEvent] {
        var traffic = Traffic.fixture(scenario)
        var events: [SwitchEvent] = []
        while let event = traffic.nextSwitchEvent() { events.append(event) }
        return events
    }

    /// A link for each simulated switch, pointing at the simulator's AES.
    static func links(
        _ sites: [SwitchSite], port: Int, tls: Bool = false, host: String = "127.0.0.1", caFile: String? = nil,
        password: String = "calltrail", extraStations: [String] = []
    ) throws -> [LinkConfiguration] {
        try sites.map { site in
            let vdns = Array(site.vdns.keys).sorted()
            let stations = Array(Set(site.monitors.keys).subtracting(vdns)).sorted() + extraStations
            return LinkConfiguration(
                name: site.source, switchID: site.name, url: try LinkURL("\(tls ? "tls" : "tcp")://\(host):\(port)"),
                username: "calltrail", password: password, switchName: site.name.uppercased(), caFile: caFile,
                stations: stations, vdns: vdns, sessionDuration: 60)
        }
    }

    static func startAES(
        _ sites: [SwitchSite], certificate: TestCertificate? = nil, port: Int = 0
    ) async throws -> AESSimulatorServer {
        var options = AESSimulatorServer.Options()
        options.sites = sites
        options.port = port
        options.certificateFile = certificate?.certificateFile
        options.keyFile = certificate?.keyFile
        // A port just given up by a simulator that closed may take a moment to be free again.
        for _ in 0..<50 where port != 0 {
            if let server = try? await AESSimulatorServer.start(options, logger: Logger(label: "aes-simulator")) {
                return server
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        return try await AESSimulatorServer.start(options, logger: Logger(label: "aes-simulator"))
    }

    /// The links as `GET /v1/links` gives them.
    static func linkStates(_ client: some TestClientProtocol) async throws -> [[String: Any]] {
        try await AppHarness.get(client, "/v1/links")["links"] as? [[String: Any]] ?? []
    }

    /// Waits until every link is in `state`; fails after 15 s.
    @discardableResult
    static func waitForLinks(
        _ client: some TestClientProtocol, _ state: String = "up"
    ) async throws -> [[String: Any]] {
        for _ in 0..<750 {
            let links = try await linkStates(client)
            if !links.isEmpty, links.allSatisfy({ $0["state"] as? String == state }) { return links }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("the links did not become \(state): \(try await linkStates(client))")
        throw CancellationError()
    }

    /// Waits until the log holds `count` events and the projector has them all.
    static func waitForStored(_ client: some TestClientProtocol, count: Int) async throws {
        for _ in 0..<750 {
            let status = try await AppHarness.get(client, "/v1/projections")
            if (status["head"] as? Int ?? 0) >= count, status["lag"] as? Int == 0 { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("the log did not reach \(count) events: \(try await AppHarness.get(client, "/v1/projections"))")
    }

    @Test(arguments: scenarios)
    func aScenarioThroughTheLinkGivesTheJourneyItGivesOverHTTP(_ scenario: Scenario) async throws {
        let sites = Traffic.fixture(scenario).sites
        let events = Self.events(scenario)
        let aes = try await Self.startAES(sites)
        defer { Task { await aes.close() } }
        var arguments = TestArguments()
        arguments.links = try Self.links(sites, port: aes.port)
        let linkCount = arguments.links.count
        try await AppHarness.withApp(arguments) { client, _ in
            try await Self.waitForLinks(client)
            // Two links store side by side, each in its own order; a call that hops to the other site takes
            // seconds on a real network, so each hop waits until what came before it is stored.
            var site = events.first?.site
            for event in events {
                if event.site != site {
                    try await Self.waitForStored(client, count: aes.eventsSent + linkCount)
                    site = event.site
                }
                await aes.send(event)
            }
            // Every frame sent, and a LINK_UP per link.
            try await Self.waitForStored(client, count: aes.eventsSent + linkCount)
            let expected = try ScenarioFixtures.expectedJourney(scenario.rawValue)
            let ucid = try #require(expected["ucid"] as? String)
            let journey = try await AppHarness.get(client, "/v1/journeys/\(ucid)")
            let problems = ScenarioFixtures.mismatches(journey: journey, expected: expected, ignoringTimes: true)
            #expect(problems.isEmpty, "\(scenario.rawValue) over DMCC:\n\(problems.joined(separator: "\n"))")

            // The stored events keep the XML AES sent.
            let events =
                try await AppHarness.get(client, "/v1/calls/\(ucid)/events")["events"] as? [[String: Any]] ?? []
            #expect(!events.isEmpty)
            for event in events where (event["source"] as? String)?.hasPrefix("aes") == true {
                let xml = try #require(event["dmcc"] as? String, "\(event)")
                #expect(xml.hasPrefix("<?xml"))
                #expect(xml.contains("monitorCrossRefID"))
            }
        }
    }

    /// The consulted agent's offer carries the customer's numbers while the transferring agent still holds the
    /// customer, before the transfer completes, from a real link as from HTTP.
    @Test func theConsultedAgentSeesTheCustomerBeforeTheTransfer() async throws {
        let sites = Traffic.fixture(.consultativeTransfer).sites
        let events = Self.events(.consultativeTransfer)
        let beforeTransfer = events.prefix { $0.type != .transferred }
        let aes = try await Self.startAES(sites)
        defer { Task { await aes.close() } }
        var arguments = TestArguments()
        arguments.links = try Self.links(sites, port: aes.port)
        let linkCount = arguments.links.count
        try await AppHarness.withApp(arguments) { client, _ in
            try await Self.waitForLinks(client)
            for event in beforeTransfer { await aes.send(event) }
            try await Self.waitForStored(client, count: aes.eventsSent + linkCount)
            let consultation = try await AppHarness.get(client, "/v1/calls/00001000021795168934")
            #expect(consultation["originalAni"] as? String == "6135555493")
            #expect(consultation["originalDnis"] as? String == "8005551234")
            #expect(consultation["role"] as? String == "consultation")
        }
    }

    @Test func aDeviceAESRefusesIsReportedAndTheOthersAreMonitored() async throws {
        let traffic = Traffic.fixture(.inboundAnswered)
        let aes = try await Self.startAES(traffic.sites)
        defer { Task { await aes.close() } }
        var arguments = TestArguments()
        arguments.links = [try Self.links(traffic.sites, port: aes.port, extraStations: ["5999"])[0]]
        try await AppHarness.withApp(arguments) { client, _ in
            let link = try #require(try await Self.waitForLinks(client).first)
            let failed = link["failed"] as? [[String: Any]] ?? []
            #expect(failed.count == 1)
            #expect(failed.first?["extension"] as? String == "5999")
            #expect(failed.first?["error"] as? String == "invalidDeviceID")
            let monitored = link["monitored"] as? [[String: Any]] ?? []
            #expect(monitored.count == traffic.sites[0].monitors.count)
            #expect(monitored.contains { $0["extension"] as? String == "7001" && $0["kind"] as? String == "vdn" })
            let one = try await AppHarness.get(client, "/v1/links/aes1")
            #expect(one["name"] as? String == "aes1")
            let missing = try await client.execute(uri: "/v1/links/nope", method: .get)
            #expect(missing.status == .notFound)
        }
    }

    @Test func aWrongPasswordIsAClearErrorAndADownLinkNotACrash() async throws {
        let traffic = Traffic.fixture(.inboundAnswered)
        let aes = try await Self.startAES(traffic.sites)
        defer { Task { await aes.close() } }
        var arguments = TestArguments()
        arguments.links = [try Self.links(traffic.sites, port: aes.port, password: "wrong")[0]]
        try await AppHarness.withApp(arguments) { client, _ in
            let link = try #require(try await Self.waitForLinks(client, "down").first)
            let error = try #require(link["lastError"] as? [String: Any])
            #expect(error["aesError"] as? String == "invalidApplicationInfo")
            #expect((error["message"] as? String)?.contains("refused") == true)
            #expect(!(String(describing: link).contains("wrong")), "the password never appears")
            let health = try await client.execute(uri: "/health", method: .get)
            #expect(health.status == .ok)
        }
    }

    @Test func aLinkOverTLSWithACertificateTheTestMakes() async throws {
        let folder = URL(fileURLWithPath: "/tmp/calltrail-tls-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        let certificate = try TestCertificate.make(in: folder)
        let traffic = Traffic.fixture(.inboundAnswered)
        let events = Self.events(.inboundAnswered)
        let aes = try await Self.startAES(traffic.sites, certificate: certificate)
        defer { Task { await aes.close() } }
        var arguments = TestArguments()
        arguments.links = [
            try Self.links(
                traffic.sites, port: aes.port, tls: true, host: "localhost", caFile: certificate.certificateFile)[0]
        ]
        try await AppHarness.withApp(arguments) { client, _ in
            try await Self.waitForLinks(client)
            for event in events where event.site == 0 { await aes.send(event) }
            try await Self.waitForStored(client, count: aes.eventsSent + 1)
            let journey = try await AppHarness.get(client, "/v1/journeys/00001000011795168800")
            #expect(journey["outcome"] as? String == "answered")
        }

        // Without the CA the certificate is not trusted: the link does not come up, and says why.
        var untrusting = TestArguments()
        untrusting.links = [try Self.links(traffic.sites, port: aes.port, tls: true, host: "localhost")[0]]
        try await AppHarness.withApp(untrusting) { client, _ in
            for _ in 0..<500 {
                let link = try await Self.linkStates(client).first
                if link?["lastError"] is [String: Any] { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            let link = try #require(try await Self.linkStates(client).first)
            #expect(link["state"] as? String != "up")
            let message = (link["lastError"] as? [String: Any])?["message"] as? String ?? ""
            #expect(message.lowercased().contains("certificate") || message.contains("handshake"), "\(message)")
        }
    }

    /// A restart continues the link's sequence numbers, and a clean shutdown stops the monitors, releases the
    /// devices and ends the session, recording LINK_DOWN.
    @Test func aRestartContinuesTheSequenceAndShutdownEndsTheSessionCleanly() async throws {
        let traffic = Traffic.fixture(.inboundAnswered)
        let events = Self.events(.inboundAnswered)
        let aes = try await Self.startAES(traffic.sites)
        defer { Task { await aes.close() } }
        try await TestDatabase.with { database in
            var arguments = TestArguments(databaseURL: database.url.urlString)
            arguments.links = [try Self.links(traffic.sites, port: aes.port)[0]]
            let first = try await buildApplication(arguments)
            try await first.test(.live) { client in
                try await Self.waitForLinks(client)
                for event in events where event.site == 0 { await aes.send(event) }
                try await Self.waitForStored(client, count: aes.eventsSent + 1)
            }
            // The app has stopped: its link ended its session first.
            let requests = aes.requestsReceived
            let monitors = traffic.sites[0].monitors.count
            #expect(requests.filter { $0 == "MonitorStop" }.count == monitors)
            #expect(requests.filter { $0 == "ReleaseDeviceId" }.count == monitors)
            #expect(requests.last == "StopApplicationSession")

            let second = try await buildApplication(arguments)
            try await second.test(.live) { client in
                try await Self.waitForLinks(client)
                // The frames, LINK_UP, LINK_DOWN at the shutdown, the second LINK_UP, and a snapshot of every device
                // for the time no process held the link.
                let monitors = traffic.sites[0].monitors.count
                try await Self.waitForStored(client, count: aes.eventsSent + 3 + monitors)
                let log = try await AppHarness.get(client, "/v1/events?limit=10000")["events"] as? [[String: Any]] ?? []
                let linkEvents = log.filter { $0["source"] as? String == "aes1" }
                let seqs = linkEvents.compactMap { $0["seq"] as? Int }
                #expect(seqs == Array(1...seqs.count), "seq continues across the restart, no gap, no repeat")
                let types = linkEvents.map { $0["type"] as? String ?? "" }
                #expect(types.first == "LINK_UP")
                #expect(types.filter { $0 == "LINK_UP" }.count == 2)
                let down = try #require(linkEvents.first { $0["type"] as? String == "LINK_DOWN" })
                #expect((down["link"] as? [String: Any])?["code"] as? String == "shutdown")
                #expect(types.filter { $0 == "LINK_SNAPSHOT" }.count == monitors)
                #expect(types.last { $0 != "LINK_SNAPSHOT" } == "LINK_UP")
            }
        }
    }

    /// A stream that breaks the DMCC connection, as raw bytes, with words the `LINK_DOWN` reason must hold.
    struct BrokenStream: Sendable, CustomTestStringConvertible {
        var testDescription: String
        var bytes: @Sendable (_ monitor: String) -> [UInt8]
        var reason: String

        /// A well-formed Delivered for `monitor`: what must not be stored when it comes inside a broken stream.
        static func delivered(_ monitor: String) -> String {
            "<DeliveredEvent><monitorCrossRefID>\(monitor)</monitorCrossRefID><connection><callID>77</callID>"
                + "<deviceID>5001:CM1::0</deviceID></connection><alertingDevice><deviceIdentifier>5001:CM1::0"
                + "</deviceIdentifier></alertingDevice><localConnectionInfo>alerting</localConnectionInfo>"
                + "<cause>newCall</cause></DeliveredEvent>"
        }

        static func frame(_ xml: String, invokeID: String = "9999", extraLength: Int = 0) -> [UInt8] {
            let length = 8 + xml.utf8.count + extraLength
            return [0, 0, UInt8(length >> 8), UInt8(length & 0xFF)] + Array(invokeID.utf8) + Array(xml.utf8)
        }

        static let all: [BrokenStream] = [
            BrokenStream(
                testDescription: "XML that does not parse",
                bytes: { _ in frame("<DeliveredEvent><monitorCrossRefID>201</mon") }, reason: "byte"),
            BrokenStream(
                testDescription: "a NUL byte, which XML does not allow",
                bytes: { frame(delivered($0).replacingOccurrences(of: "newCall", with: "new\u{0}Call")) },
                reason: "NUL byte"),
            BrokenStream(
                testDescription: "an invoke ID that is not four digits",
                bytes: { frame(delivered($0), invokeID: "99x9") }, reason: "invoke ID"),
            // The length runs 40 bytes into the next frame: the first message gets the next one's start (whose
            // header begins with two zero bytes), so neither may be stored.
            BrokenStream(
                testDescription: "a length past the end of its message",
                bytes: { frame(delivered($0), extraLength: 40) + frame(delivered($0)) },
                reason: "a NUL byte, which XML does not allow, at byte 305"),
        ]
    }

    /// A frame that cannot be read ends the connection (nothing after it can be trusted); the link says why,
    /// reconnects with a new session, and stores nothing from the broken stream. An event that is well-formed XML
    /// but cannot be mapped (no monitor) is only counted.
    @Test(arguments: BrokenStream.all)
    func aStreamThatCannotBeReadEndsTheConnectionAndTheLinkReconnects(_ broken: BrokenStream) async throws {
        let traffic = Traffic.fixture(.inboundAnswered)
        let aes = try await Self.startAES(traffic.sites)
        defer { Task { await aes.close() } }
        var arguments = TestArguments()
        arguments.links = [try Self.links(traffic.sites, port: aes.port)[0]]
        let monitor = String(try #require(traffic.sites[0].monitors["5001"]))
        try await AppHarness.withApp(arguments) { client, _ in
            try await Self.waitForLinks(client)
            await aes.inject(DMCCFrame(invokeID: 9_999, xml: "<HeldEvent><heldConnection/></HeldEvent>"))
            await aes.injectRaw(broken.bytes(monitor))
            for _ in 0..<500 {
                if let link = try await Self.linkStates(client).first, link["reconnects"] as? Int == 1,
                    link["state"] as? String == "up"
                {
                    break
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            let link = try #require(try await Self.linkStates(client).first)
            #expect(link["reconnects"] as? Int == 1)
            #expect(link["state"] as? String == "up")
            #expect((link["lastError"] as? [String: Any])?["message"] as? String != nil, "\(link)")
            // LINK_UP, LINK_DOWN for the broken stream, LINK_UP again (AES resumed the session), and a snapshot of
            // each monitored device for the gap: nothing else.
            let monitored = (link["monitored"] as? [[String: Any]] ?? []).count
            try await Self.waitForStored(client, count: 3 + monitored)
            let log = try await AppHarness.get(client, "/v1/events?limit=100")["events"] as? [[String: Any]] ?? []
            #expect(
                log.map { $0["type"] as? String ?? "" }
                    == ["LINK_UP", "LINK_DOWN", "LINK_UP"] + Array(repeating: "LINK_SNAPSHOT", count: monitored))
            #expect((log.dropFirst(2).first?["link"] as? [String: Any])?["resumed"] as? Bool == true)
            let down = try #require(log.dropFirst().first?["link"] as? [String: Any])
            #expect(down["code"] as? String == "error")
            #expect((down["reason"] as? String)?.contains(broken.reason) == true, "\(down)")
        }
    }
}
