import CallTrailServer
import EventStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import PostgresNIO
import Projections
import Synchronization
import TestSupport
import Testing

/// A client reads its own writes: the `lastPosition` of its POST as `minPosition` (or `CallTrail-Min-Position`)
/// makes a read wait until the projections have it; every read-model answer says where the projections were.
struct ReadYourWritesTests {
    static let customer = "00001000011795168800"

    func withApp(readWait: Double = 5, _ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        try await AppHarness.withApp(TestArguments(readWaitSeconds: readWait)) { client, _ in try await body(client) }
    }

    static var positionHeader: HTTPField.Name { HTTPField.Name("CallTrail-Position")! }

    @Test func aReadWithMinPositionSeesThePost() async throws {
        try await withApp { client in
            let lines = try ScenarioFixtures.lines("a-inbound-answered")
            let last = try await AppHarness.postNew(client, lines)
            let started = ContinuousClock.now
            let journey = try await client.execute(
                uri: "/v1/journeys/\(Self.customer)?minPosition=\(last)", method: .get)
            let waited = ContinuousClock.now - started
            #expect(journey.status == .ok, "\(String(buffer: journey.body))")
            #expect(try #require(journey.headers[Self.positionHeader].flatMap { Int($0) }) >= last)
            print("read-your-writes: GET /v1/journeys with minPosition right after the POST answered in \(waited)")

            let call = try await client.execute(
                uri: "/v1/calls/\(Self.customer)", method: .get,
                headers: [HTTPField.Name("CallTrail-Min-Position")!: "\(last)"])
            #expect(call.status == .ok)
            #expect(String(buffer: call.body).contains("\"originalAni\":\"6135555493\""))
        }
    }

    /// Found by the generated client's test: the projections read only known event types, and their position
    /// stopped at the last one, so a read asking for the position of an unknown-type event just posted waited out
    /// its whole wait and answered 503. The position now moves past every event.
    @Test func aWriteEndingInAnUnknownTypeIsReadable() async throws {
        try await withApp(readWait: 20) { client in
            _ = try await AppHarness.postNew(client, try ScenarioFixtures.lines("a-inbound-answered"))
            let last = try await AppHarness.postNew(
                client, [#"{"id":"crm-1","source":"crm","time":"2026-11-20T10:05:00Z","type":"CRM_NOTE"}"#])
            let journey = try await client.execute(
                uri: "/v1/journeys/\(Self.customer)?minPosition=\(last)", method: .get)
            #expect(journey.status == .ok, "\(String(buffer: journey.body))")
            let projections = try AppHarness.json(try await client.execute(uri: "/v1/projections", method: .get))
            #expect(projections["lag"] as? Int == 0, "\(projections)")
        }
    }

    @Test func everyReadModelAnswerCarriesThePosition() async throws {
        try await withApp { client in
            let last = try await AppHarness.postNew(client, try ScenarioFixtures.lines("a-inbound-answered"))
            try await AppHarness.waitForProjection(client)
            for uri in [
                "/v1/journeys/\(Self.customer)", "/v1/calls/\(Self.customer)", "/v1/calls?device=5001",
                "/v1/journeys?limit=5",
                "/v1/projections", "/v1/journeys/00001000011795169999",
            ] {
                let response = try await client.execute(uri: uri, method: .get)
                #expect(response.headers[Self.positionHeader] == "\(last)", "\(uri): \(response.status)")
            }
        }
    }

    @Test func aPositionPastTheLogIsRefusedAtOnce() async throws {
        try await withApp { client in
            let last = try await AppHarness.postNew(client, try ScenarioFixtures.lines("a-inbound-answered"))
            let response = try await client.execute(
                uri: "/v1/journeys/\(Self.customer)?minPosition=\(last + 1_000)", method: .get)
            // 400, not the 503 a wait for it would end in: it was refused before any wait.
            #expect(response.status == .badRequest)
            let error = try #require(try AppHarness.json(response)["error"] as? [String: Any])
            #expect(error["field"] as? String == "minPosition")
        }
    }

    /// The projections cannot reach a position while the projector is held back: here another process holds the
    /// projector's lock, so this one's projector waits and projects nothing.
    @Test func aPositionNotReachedInTimeIs503WithRetryAfter() async throws {
        try await TestDatabase.with { database in
            try await database.withClient(asOwner: true) { other in
                try await other.withConnection { connection in
                    let locked = try await PostgresJourneyStore(client: other, logger: database.logger).tryLock(
                        .projector, on: connection)
                    try #require(locked)
                    let app = try await buildApplication(
                        TestArguments(databaseURL: database.url.urlString, readWaitSeconds: 0.3))
                    try await app.test(.live) { client in
                        let last = try await AppHarness.postNew(
                            client, try ScenarioFixtures.lines("a-inbound-answered"))
                        let started = ContinuousClock.now
                        let response = try await client.execute(
                            uri: "/v1/journeys/\(Self.customer)?minPosition=\(last)", method: .get)
                        #expect(ContinuousClock.now - started >= .milliseconds(300))
                        #expect(response.status == .serviceUnavailable)
                        #expect(response.headers[.retryAfter] == "1")
                        let error = try #require(try AppHarness.json(response)["error"] as? [String: Any])
                        #expect(error["field"] as? String == "minPosition")
                        #expect((error["message"] as? String)?.contains("have not reached minPosition \(last)") == true)
                    }
                }
            }
        }
    }

    /// An IVR posts a call's first events and at once sets data on it: the key's origin is the whole call's, never
    /// an empty one read from projections that had not reached the call yet. Three times, as the drill did.
    @Test(arguments: 1...3)
    func userDataSetRightAfterThePostTakesTheCallsOrigin(_ attempt: Int) async throws {
        try await withApp { client in
            let lines = try ScenarioFixtures.lines("i-transfer-to-site")
            let answered = try #require(lines.firstIndex { $0.contains("CSTA_ESTABLISHED") })
            _ = try await AppHarness.post(client, lines[..<answered])
            let set = try await client.execute(
                uri: "/v1/userdata", method: .post, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"data": {"account": "998877"}, "ucid": "\#(Self.customer)"}"#))
            #expect(set.status == .created, "\(String(buffer: set.body))")
            let key = try #require(try AppHarness.json(set)["key"] as? String)
            let origin = try AppHarness.json(try await client.execute(uri: "/v1/userdata/\(key)", method: .get))
            #expect(origin["originalAni"] as? String == "6135555493", "attempt \(attempt): \(origin)")
            #expect(origin["journeyId"] as? String == Self.customer)
            #expect(origin["vdn"] as? String == "7001")
        }
    }
}
