import AsyncHTTPClient
import CallTrailServer
import EventStore
import Foundation
import HummingbirdTesting
import Logging
import OpenAPIAsyncHTTPClient
import OpenAPIRuntime
import TestSupport
import Testing

/// A client generated from `openapi.yaml` by swift-openapi-generator (at build time, from the document in the
/// repository, as `docs/api.md` shows an integrator how) against a live server over a real socket: it ingests a
/// call, reads its journey, and keeps user data on it. Every answer is decoded into the generated types, so an
/// answer that strays from the document fails here as it would in an integrator's app.
struct GeneratedClientTests {
    /// The server's arguments: loopback, a free port, each test's own database.
    struct Arguments: AppArguments {
        var hostname = "127.0.0.1"
        var port = 0
        var databaseURL: String?
        var dataDirectory = "unused"
        var maxBodyBytes = 1 << 20
        var logLevel = Logger.Level.warning
        var migrationsDirectory: String?
    }

    static let ucid = "00001000011795168800"

    /// A JSON object as the generated types hold any JSON value.
    static func json(_ object: [String: String]) throws -> OpenAPIValueContainer {
        try OpenAPIValueContainer(unvalidatedValue: object)
    }

    @Test func aGeneratedClientIngestsReadsAJourneyAndKeepsUserData() async throws {
        try await TestDatabase.with { database in
            let app = try await buildApplication(Arguments(databaseURL: database.url.urlString))
            try await app.test(.live) { testClient in
                let http = HTTPClient(eventLoopGroupProvider: .singleton)
                do {
                    try await exercise(port: try #require(testClient.port), http: http)
                    try await http.shutdown()
                } catch {
                    try await http.shutdown()
                    throw error
                }
            }
        }
    }

    func exercise(port: Int, http: HTTPClient) async throws {
        // CallTrail writes times with milliseconds: the generated client's default transcoder takes whole seconds.
        let client = Client(
            serverURL: try #require(URL(string: "http://127.0.0.1:\(port)")),
            configuration: Configuration(dateTranscoder: .iso8601WithFractionalSeconds),
            transport: AsyncHTTPClientTransport(configuration: .init(client: http)))

        // Ingest: a call from the simulator's scenarios as NDJSON, then one typed event as JSON.
        let lines = try ScenarioFixtures.lines("c-consultative-transfer")
        let scenario = try await client.ingestEvents(
            body: .applicationXNdjson(HTTPBody(lines.joined(separator: "\n") + "\n"))
        ).ok.body.json
        #expect(scenario.accepted == lines.count)
        let note = Components.Schemas.IngestEvent(
            id: "crm-note-1", source: "crm", time: Date(timeIntervalSince1970: 1_795_168_900), _type: "CRM_NOTE")
        let typed = try await client.ingestEvents(body: .json(.IngestEvent(note))).ok.body.json
        #expect(typed.accepted == 1 && typed.duplicates == 0)
        let lastPosition = try #require(typed.lastPosition)

        // The journey, once the projections have reached what was posted.
        let journey = try await client.getJourney(
            path: .init(id: .init(value1: Self.ucid)), query: .init(minPosition: Int64(lastPosition))
        ).ok.body.json
        #expect(journey.value1.id == Self.ucid)
        #expect(journey.value1.originalAni == "6135555493", "\(journey.value1)")
        #expect(journey.value1.ucids.count == 2, "the call and its consultation")

        // User data on the call: stored under a key, read back, merged, and its history.
        let created = try await client.createUserData(
            headers: .init(callTrailActor: "generated-client"),
            body: .json(.init(data: try Self.json(["account": "998877", "intent": "billing"]), ucid: Self.ucid))
        ).created.body.json
        let key = try #require(created.key)
        #expect(created.originalAni == "6135555493")
        let read = try await client.getUserData(path: .init(key: key)).ok.body.json
        #expect(read.data == (try Self.json(["account": "998877", "intent": "billing"])))
        let merged = try await client.mergeUserData(
            path: .init(key: key), body: .applicationMergePatchJson(try Self.json(["intent": "card", "case": "C-1"]))
        ).ok.body.json
        #expect(merged.data == (try Self.json(["account": "998877", "intent": "card", "case": "C-1"])))
        let history = try await client.getUserDataHistory(path: .init(key: key)).ok.body.json
        #expect(history.changes.map { $0.operation.rawValue } == ["set", "merge"])
        #expect(history.changes.first?.by.name == "generated-client")
    }
}
