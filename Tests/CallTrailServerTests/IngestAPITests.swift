import CallTrailServer
import EventStore
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import TSAPI
import TestSupport
import Testing

/// The HTTP API over real sockets (`.live`), against a real PostgreSQL.
struct IngestAPITests {
    func withApp(
        maxBodyBytes: Int = 1 << 20, _ body: @Sendable (any TestClientProtocol) async throws -> Void
    ) async throws {
        try await AppHarness.withApp(TestArguments(maxBodyBytes: maxBodyBytes)) { client, _ in try await body(client) }
    }

    func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8)) as? [String: Any])
    }

    func post(_ client: some TestClientProtocol, _ body: String, ndjson: Bool = false) async throws -> TestResponse {
        try await client.execute(
            uri: "/v1/events", method: .post,
            headers: [.contentType: ndjson ? "application/x-ndjson" : "application/json"],
            body: ByteBuffer(string: body))
    }

    @Test func ingestsObjectArrayAndNDJSONAndReadsThemBack() async throws {
        try await withApp { client in
            var f = EventFixtures()
            let one = f.delivered(1001, at: "7001", ucid: EventFixtures.u1, monitor: 101, toACD: true)
            let two = [
                f.queued(1001, monitor: 101), f.delivered(1001, at: "5001", ucid: EventFixtures.u1, monitor: 201),
            ]
            let three = [
                f.established(1001, at: "5001", ucid: EventFixtures.u1, monitor: 201),
                f.callCleared(1001, monitor: 201),
            ]

            var response = try await post(client, one)
            #expect(response.status == .ok)
            #expect(try json(response)["accepted"] as? Int == 1)
            #expect(try json(response)["firstPosition"] as? Int == 1)
            response = try await post(client, "[" + two.joined(separator: ",") + "]")
            #expect(try json(response)["lastPosition"] as? Int == 3)
            response = try await post(client, three.joined(separator: "\n") + "\n", ndjson: true)
            #expect(try json(response)["accepted"] as? Int == 2)
            #expect(try json(response)["firstPosition"] as? Int == 4)
            #expect(try json(response)["lastPosition"] as? Int == 5)

            response = try await client.execute(uri: "/v1/events?after=1&limit=2", method: .get)
            #expect(response.status == .ok)
            let page = try json(response)
            let events = try #require(page["events"] as? [[String: Any]])
            #expect(events.map { $0["position"] as? Int } == [2, 3])
            #expect(events.map { $0["type"] as? String } == ["CSTA_QUEUED", "CSTA_DELIVERED"])
            #expect(events[0]["ucid"] as? String == EventFixtures.u1)
            #expect(events[0]["monitor"] as? Int == 101)
            #expect(page["nextAfter"] as? Int == 3)

            response = try await client.execute(uri: "/v1/calls/\(EventFixtures.u1)/events", method: .get)
            let call = try json(response)
            let callEvents = try #require(call["events"] as? [[String: Any]])
            #expect(callEvents.map { $0["position"] as? Int } == [1, 2, 3, 4, 5])
            #expect(callEvents.map { $0["streamVersion"] as? Int } == [1, 2, 3, 4, 5])
            let csta = try #require(callEvents[2]["csta"] as? [String: Any])
            #expect(csta["alertingDevice"] as? String == "5001", "csta is returned as it was sent")
        }
    }

    @Test func resendingReportsDuplicates() async throws {
        try await withApp { client in
            var f = EventFixtures()
            let batch =
                "["
                + [f.delivered(1001, at: "5001", ucid: EventFixtures.u1), f.held(1001, at: "5001")].joined(
                    separator: ",") + "]"
            _ = try await post(client, batch)
            let again = try json(try await post(client, batch))
            #expect(again["accepted"] as? Int == 0)
            #expect(again["duplicates"] as? Int == 2)
            #expect(again["firstPosition"] is NSNull)
            #expect(again["lastPosition"] is NSNull)
        }
    }

    @Test func anInvalidEventInTheMiddleRejectsTheWholeBatch() async throws {
        try await withApp { client in
            var f = EventFixtures()
            let good = f.delivered(1001, at: "5001", ucid: EventFixtures.u1)
            let cases: [(String, Int, String?)] = [
                (#"{"seq":9,"time":"2026-11-20T10:00:00Z","type":"CSTA_HELD"}"#, 1, "source"),
                (#"{"source":"aes1","seq":9,"time":"yesterday","type":"CSTA_HELD"}"#, 1, "time"),
                (#"{"source":"aes1","seq":9,"time":"2026-11-20T10:00:00Z"}"#, 1, "type"),
                (#"{"source":"aes1","time":"2026-11-20T10:00:00Z","type":"CSTA_HELD"}"#, 1, "seq"),
                (#""just a string""#, 1, nil),
            ]
            for (bad, index, field) in cases {
                let response = try await post(client, "[\(good),\(bad),\(good)]")
                #expect(response.status == .unprocessableContent)
                let error = try #require(try json(response)["error"] as? [String: Any])
                #expect(error["index"] as? Int == index)
                #expect(error["field"] as? String == field)
                #expect((error["message"] as? String)?.isEmpty == false)
            }
            let broken = try await post(client, "[\(good), {\"source\": ]")
            #expect(broken.status == .unprocessableContent)
            #expect(try json(broken)["error"].flatMap { ($0 as? [String: Any])?["index"] as? Int } == 1)

            let log = try json(try await client.execute(uri: "/v1/events", method: .get))
            #expect((log["events"] as? [Any])?.isEmpty == true, "nothing of a rejected batch is stored")
        }
    }

    @Test func anOversizedBodyGets413WithTheLimit() async throws {
        try await withApp(maxBodyBytes: 2_000) { client in
            var f = EventFixtures()
            let events = (0..<20).map { _ in f.held(1001, at: "5001") }
            let response = try await post(client, "[" + events.joined(separator: ",") + "]")
            #expect(response.status == .contentTooLarge)
            let error = try #require(try json(response)["error"] as? [String: Any])
            #expect((error["message"] as? String)?.contains("2000 bytes") == true)
        }
    }

    @Test func unknownTypesAreStoredAndFlagged() async throws {
        try await withApp { client in
            let response = try await post(
                client,
                #"{"source":"aes1","seq":1,"time":"2026-11-20T10:00:00.5Z","type":"ATT_ROUTE_REQUEST","att":"v4 blob"}"#
            )
            #expect(response.status == .ok)
            let events = try #require(
                try json(try await client.execute(uri: "/v1/events", method: .get))["events"] as? [[String: Any]])
            #expect(events.count == 1)
            #expect(events[0]["unknownType"] as? Bool == true)
            #expect(events[0]["att"] as? String == "v4 blob")
        }
    }

    @Test func readErrorsNameWhatWasWrong() async throws {
        try await withApp { client in
            var response = try await client.execute(uri: "/v1/calls/12345/events", method: .get)
            #expect(response.status == .badRequest)
            #expect((try json(response)["error"] as? [String: Any])?["field"] as? String == "ucid")
            response = try await client.execute(uri: "/v1/calls/\(EventFixtures.u2)/events", method: .get)
            #expect(response.status == .notFound)
            response = try await client.execute(uri: "/v1/events?limit=0", method: .get)
            #expect(response.status == .badRequest)
            #expect((try json(response)["error"] as? [String: Any])?["field"] as? String == "limit")
            response = try await client.execute(uri: "/v1/events?after=-1", method: .get)
            #expect(response.status == .badRequest)
            response = try await client.execute(uri: "/v1/nothing-here", method: .get)
            #expect(response.status == .notFound)
            #expect((try json(response)["error"] as? [String: Any])?["message"] != nil)
        }
    }

    @Test func healthAndReadiness() async throws {
        try await withApp { client in
            var response = try await client.execute(uri: "/health", method: .get)
            #expect(response.status == .ok)
            response = try await client.execute(uri: "/ready", method: .get)
            #expect(response.status == .ok)
            #expect(try json(response)["migrations"] as? String == "current")
            response = try await client.execute(uri: "/metrics", method: .get)
            #expect(response.status == .ok)
        }
    }
}
