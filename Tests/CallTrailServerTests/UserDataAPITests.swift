import CallTrailServer
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Projections
import TSAPI
import TestSupport
import Testing

/// The UUI key service over real sockets and a real PostgreSQL: each verb and error, expiry, a key
/// in every UUI encoding, data that follows a call to another site and into a consultation, and a rebuild
/// that gives the same answers.
struct UserDataAPITests {

    func withApp(_ body: @Sendable (any TestClientProtocol, TestDatabase) async throws -> Void) async throws {
        try await AppHarness.withApp(TestArguments(), body)
    }

    static func send(
        _ client: some TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, _ body: String? = nil,
        headers: HTTPFields = [:]
    ) async throws -> (status: HTTPResponse.Status, json: [String: Any]) {
        let response = try await client.execute(
            uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        let text = String(buffer: response.body)
        let json =
            text.isEmpty ? [:] : (try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] ?? [:])
        return (response.status, json)
    }

    /// Sets data and returns its key.
    static func set(_ client: some TestClientProtocol, _ body: String) async throws -> String {
        let (status, json) = try await send(client, .post, "/v1/userdata", body)
        #expect(status == .created, "\(json)")
        return try #require(json["key"] as? String)
    }

    static func message(_ json: [String: Any]) -> String {
        (json["error"] as? [String: Any])?["message"] as? String ?? ""
    }

    static func field(_ json: [String: Any]) -> String? {
        (json["error"] as? [String: Any])?["field"] as? String
    }

    /// JSON text with sorted keys, to compare documents whatever the order of their members.
    static func canonical(_ value: Any) throws -> String {
        String(
            decoding: try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed]),
            as: UTF8.self)
    }

    @Test func eachVerbAndItsHistory() async throws {
        try await withApp { client, _ in
            let actor: HTTPFields = [HTTPField.Name("CallTrail-Actor")!: "ivr-7"]
            let created = try await Self.send(
                client, .post, "/v1/userdata", #"{"data":{"acct":12345678901234567890,"intent":"billing"}}"#,
                headers: actor)
            #expect(created.status == .created)
            let key = try #require(created.json["key"] as? String)
            #expect(UserDataKey(key) != nil)
            #expect(created.json["uui"] as? String == key)
            #expect(created.json["uuiHex"] as? String == UserDataKey(key)?.hex)
            let expires = try #require((created.json["expiresAt"] as? String).flatMap(Timestamp.parse))
            #expect(abs(expires.timeIntervalSinceNow - 7_200) < 60, "the default TTL is two hours")

            let read = try await Self.send(client, .get, "/v1/userdata/\(key)")
            #expect(read.status == .ok)
            #expect(try Self.canonical(read.json["data"]!) == #"{"acct":12345678901234567890,"intent":"billing"}"#)
            #expect(read.json["version"] as? Int == 1)

            let merged = try await Self.send(client, .patch, "/v1/userdata/\(key)", #"{"intent":null,"case":{"id":7}}"#)
            #expect(merged.status == .ok)
            #expect(try Self.canonical(merged.json["data"]!) == #"{"acct":12345678901234567890,"case":{"id":7}}"#)

            let replaced = try await Self.send(
                client, .put, "/v1/userdata/\(key)", #"{"data":["a",2],"ttlSeconds":60}"#)
            #expect(replaced.status == .ok)
            #expect(try Self.canonical(replaced.json["data"]!) == #"["a",2]"#)
            #expect(replaced.json["version"] as? Int == 3)
            let renewed = try #require((replaced.json["expiresAt"] as? String).flatMap(Timestamp.parse))
            #expect(abs(renewed.timeIntervalSinceNow - 60) < 30)

            let deleted = try await client.execute(uri: "/v1/userdata/\(key)", method: .delete)
            #expect(deleted.status == .noContent)
            let gone = try await Self.send(client, .get, "/v1/userdata/\(key)")
            #expect(gone.status == .notFound)
            #expect(Self.message(gone.json).contains("deleted"))
            #expect(try await Self.send(client, .delete, "/v1/userdata/\(key)").status == .notFound)
            #expect(try await Self.send(client, .put, "/v1/userdata/\(key)", #"{"data":1}"#).status == .notFound)

            // Who, when, what: every change, in order, also after the delete.
            let history = try await Self.send(client, .get, "/v1/userdata/\(key)/history")
            #expect(history.status == .ok)
            let changes = try #require(history.json["changes"] as? [[String: Any]])
            #expect(changes.map { $0["operation"] as? String } == ["set", "merge", "replace", "delete"])
            #expect((changes[0]["by"] as? [String: Any])?["name"] as? String == "ivr-7")
            #expect(try Self.canonical(changes[1]["patch"]!) == #"{"case":{"id":7},"intent":null}"#)
            let positions = changes.compactMap { $0["position"] as? Int }
            #expect(positions == positions.sorted() && positions.count == 4)

            // The changes are events of the log, like the switch's.
            let log = try await Self.send(client, .get, "/v1/events?after=0&limit=100")
            let types = (log.json["events"] as? [[String: Any]] ?? []).compactMap { $0["type"] as? String }
            #expect(
                types == [
                    "CALLTRAIL_USERDATA_SET", "CALLTRAIL_USERDATA_MERGED", "CALLTRAIL_USERDATA_REPLACED",
                    "CALLTRAIL_USERDATA_DELETED",
                ])
        }
    }

    @Test func errorsNameWhatWasWrong() async throws {
        try await withApp { client, _ in
            let key = UserDataKey.random().rawValue
            var typo = Array(key)
            typo[10] = typo[10] == "A" ? "B" : "A"

            let malformed = try await Self.send(client, .get, "/v1/userdata/\(String(typo))")
            #expect(malformed.status == .badRequest)
            #expect(Self.field(malformed.json) == "key")
            #expect(try await Self.send(client, .get, "/v1/userdata/nonsense").status == .badRequest)
            #expect(try await Self.send(client, .patch, "/v1/userdata/nonsense", "{}").status == .badRequest)
            let unknown = try await Self.send(client, .get, "/v1/userdata/\(key)")
            #expect(unknown.status == .notFound)
            #expect(try await Self.send(client, .patch, "/v1/userdata/\(key)", "{}").status == .notFound)
            #expect(try await Self.send(client, .get, "/v1/userdata/\(key)/history").status == .notFound)

            let cases: [(String, HTTPResponse.Status, String?)] = [
                (#"{"ucid":"00001000421700000000"}"#, .unprocessableContent, "data"),
                (#"{"data":1,"ttlSeconds":0}"#, .unprocessableContent, "ttlSeconds"),
                (#"{"data":1,"ttlSeconds":86401}"#, .unprocessableContent, "ttlSeconds"),
                (#"{"data":1,"ttlSeconds":"60"}"#, .unprocessableContent, "ttlSeconds"),
                (#"{"data":1,"ucid":"123"}"#, .unprocessableContent, "ucid"),
                (#"{"data":1,"ucid":"00001000421700000000","device":"5001"}"#, .unprocessableContent, "device"),
                (#"{"data":1,"device":"5001"}"#, .unprocessableContent, "device"),
                (#"[{"data":1}]"#, .unprocessableContent, nil),
                (#"{"data":1"#, .badRequest, nil),
            ]
            for (body, status, field) in cases {
                let response = try await Self.send(client, .post, "/v1/userdata", body)
                #expect(response.status == status, "\(body): \(response.json)")
                #expect(Self.field(response.json) == field, "\(body)")
                #expect(!Self.message(response.json).isEmpty)
            }
            // An explicit null is the same as leaving the member out.
            #expect(
                try await Self.send(
                    client, .post, "/v1/userdata", #"{"data":1,"ucid":null,"device":null,"ttlSeconds":null}"#
                ).status == .created)
            let huge = "{\"data\":\"" + String(repeating: "x", count: 70_000) + "\"}"
            let tooLarge = try await Self.send(client, .post, "/v1/userdata", huge)
            #expect(tooLarge.status == .contentTooLarge)
            #expect(Self.message(tooLarge.json).contains("65536"))

            // Nothing was stored by any of the refused requests: the one event is the accepted one's.
            let log = try await Self.send(client, .get, "/v1/events?after=0")
            #expect((log.json["events"] as? [Any])?.count == 1)

            // A client cannot write the service's events: the id prefix is refused, the type is only stored.
            let forged = try await Self.send(
                client, .post, "/v1/events",
                #"{"id":"calltrail-userdata-x","source":"a","time":"2026-11-20T10:00:00Z","type":"CALLTRAIL_USERDATA_SET"}"#
            )
            #expect(forged.status == .unprocessableContent)
        }
    }

    @Test func expiredDataAnswers410() async throws {
        try await withApp { client, _ in
            // Renewed first, and both with a TTL that the whole suite's load cannot eat before the renewal lands.
            let renewed = try await Self.set(client, #"{"data":{"a":1},"ttlSeconds":6}"#)
            let created = try await Self.send(client, .post, "/v1/userdata", #"{"data":{"a":1},"ttlSeconds":6}"#)
            let short = try #require(created.json["key"] as? String)
            let expiresAt = try #require((created.json["expiresAt"] as? String).flatMap(Timestamp.parse))
            #expect(
                try await Self.send(client, .put, "/v1/userdata/\(renewed)", #"{"data":{"a":2},"ttlSeconds":120}"#)
                    .status == .ok)
            try await Task.sleep(for: .seconds(max(0, expiresAt.timeIntervalSinceNow) + 0.3))
            let expired = try await Self.send(client, .get, "/v1/userdata/\(short)")
            #expect(expired.status == .gone)
            #expect(Self.message(expired.json).contains("expired"))
            #expect(try await Self.send(client, .put, "/v1/userdata/\(short)", #"{"data":2}"#).status == .gone)
            #expect(try await Self.send(client, .patch, "/v1/userdata/\(short)", #"{"b":2}"#).status == .gone)
            #expect(try await Self.send(client, .get, "/v1/userdata/\(renewed)").status == .ok)
            #expect(try await client.execute(uri: "/v1/userdata/\(short)", method: .delete).status == .noContent)
        }
    }

    /// Hex of bytes, as TSAPI writes `UUI_USER_SPECIFIC` data.
    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02X", $0) }.joined() }

    /// The same key found in each UUI encoding a switch or trunk may deliver.
    @Test func aKeyInEachUUIEncodingBringsItsData() async throws {
        try await withApp { client, _ in
            let key = try await Self.set(client, #"{"data":{"case":"C-1"}}"#)
            let ascii = Array("ACCT=1;\(key)".utf8)
            let ucidItem: [UInt8] = [0xFA, 0x08, 0x00, 0x19, 0x00, 0x10, 0x38, 0xF7, 0x25, 0xB3]
            let shared = ucidItem + [0xC8, UInt8(ascii.count)] + ascii
            let encodings: [(String, String)] = [
                ("UUI_IA5_ASCII", "ACCT=1;CT=\(key)"),
                ("UUI_USER_SPECIFIC", Self.hex([0x04] + ascii)),
                ("UUI_USER_SPECIFIC", "04" + Self.hex(shared)),
                ("UUI_IA5_ASCII", "00" + Self.hex(shared) + ";encoding=hex"),
            ]
            var events = EventFixtures()
            var ucids: [String] = []
            for (index, uui) in encodings.enumerated() {
                let ucid = String(format: "000010005%011d", 1_795_000_000 + index)
                ucids.append(ucid)
                try await AppHarness.post(
                    client, [events.delivered(Int64(3000 + index), at: "5001", ucid: ucid, uui: uui)])
            }
            // originalCallInfo, as after a transfer: the call's own UUI has no key, the restored one does.
            let restored = String(format: "000010005%011d", 1_795_000_100)
            ucids.append(restored)
            try await AppHarness.post(
                client,
                [
                    events.event(
                        "CSTA_ESTABLISHED",
                        csta:
                            #"{"establishedConnection":{"callID":3100,"deviceID":"5002"},"answeringDevice":"5002","callingDevice":"5001","calledDevice":"5002"}"#,
                        att:
                            #"{"ucid":"\#(restored)","userInfo":{"type":"UUI_IA5_ASCII","data":"LANG=FR"},"originalCallInfo":{"reason":"OR_TRANSFERRED","userInfo":{"type":"UUI_IA5_ASCII","data":"\#(key)"}}}"#
                    )
                ])
            try await AppHarness.waitForProjection(client)
            for ucid in ucids {
                let call = try await AppHarness.get(client, "/v1/calls/\(ucid)")
                #expect(try Self.canonical(call["userData"] ?? NSNull()) == #"{"case":"C-1"}"#, "\(ucid)")
                let keys = call["userDataKeys"] as? [[String: Any]] ?? []
                #expect(keys.map { $0["key"] as? String } == [key], "\(ucid)")
                #expect(keys.first?["carriedBy"] as? String == ucid)
                #expect(keys.first?["status"] as? String == "active")
            }
            // A change shows at once in every call that carried the key.
            _ = try await Self.send(client, .patch, "/v1/userdata/\(key)", #"{"case":"C-2"}"#)
            let later = try await AppHarness.get(client, "/v1/calls/\(ucids[0])")
            #expect(try Self.canonical(later["userData"] ?? NSNull()) == #"{"case":"C-2"}"#)
        }
    }

    /// The issue's acceptance case: the IVR sets data on U1 at site 1; the call is transferred to site 2, where
    /// it is a new call U2 whose caller is the transferring agent and whose UUI carries the key. U2's context
    /// shows U1's data and the customer's original ANI/DNIS.
    @Test func dataSetOnU1ReachesU2AtAnotherSite() async throws {
        try await withApp { client, _ in
            let u1 = EventFixtures.u1
            let u2 = "00002000071795000300"
            var site1 = EventFixtures(source: "aes1", switchName: "cm1")
            try await AppHarness.post(
                client,
                [
                    site1.delivered(1001, at: "7001", ucid: u1, toACD: true),
                    site1.delivered(1001, at: "5001", ucid: u1),
                    site1.established(1001, at: "5001", ucid: u1),
                ])
            try await AppHarness.waitForProjection(client)
            let created = try await Self.send(
                client, .post, "/v1/userdata", #"{"data":{"acct":"998877","verified":true},"ucid":"\#(u1)"}"#)
            #expect(created.status == .created)
            let key = try #require(created.json["key"] as? String)
            let read = try await Self.send(client, .get, "/v1/userdata/\(key)")
            #expect(read.json["ucid"] as? String == u1)
            #expect(read.json["originalAni"] as? String == EventFixtures.ani)
            #expect(read.json["originalDnis"] as? String == EventFixtures.dnis)
            #expect(read.json["journeyId"] as? String == u1)
            // The change is an event of U1's stream, after the switch's three.
            struct Stream: Decodable {
                struct Event: Decodable { var type: String; var streamVersion: Int? }
                var events: [Event]
            }
            let stream = try await client.execute(uri: "/v1/calls/\(u1)/events", method: .get)
            let events = try JSONDecoder().decode(Stream.self, from: Data(String(buffer: stream.body).utf8)).events
            #expect(events.map(\.type).last == "CALLTRAIL_USERDATA_SET")
            #expect(events.map(\.streamVersion) == [1, 2, 3, 4])

            var site2 = EventFixtures(source: "aes2", switchName: "cm2", clock: site1.clock + 5)
            let uui = ("UUI_IA5_ASCII", "ACCT=998877;\(key)")
            try await AppHarness.post(
                client,
                [
                    site2.delivered(2001, at: "87001", ucid: u2, toACD: true, ani: "5001", uui: uui),
                    site2.delivered(2001, at: "6001", ucid: u2, ani: "5001", uui: uui),
                    site2.established(2001, at: "6001", ucid: u2),
                ])
            try await AppHarness.waitForProjection(client)
            let call = try await AppHarness.get(client, "/v1/calls/\(u2)")
            #expect(call["journeyId"] as? String == u2, "site 2's call is its own journey here: only the key links it")
            #expect(call["originalAni"] as? String == EventFixtures.ani)
            #expect(call["originalDnis"] as? String == EventFixtures.dnis)
            #expect(try Self.canonical(call["userData"] ?? NSNull()) == #"{"acct":"998877","verified":true}"#)
            let entry = try #require((call["userDataKeys"] as? [[String: Any]])?.first)
            #expect(entry["ucid"] as? String == u1)
            #expect((entry["origin"] as? [String: Any])?["originalAni"] as? String == EventFixtures.ani)
            let journey = try await AppHarness.get(client, "/v1/journeys/\(u2)")
            #expect(journey["originalAni"] as? String == EventFixtures.ani)
            #expect(try Self.canonical(journey["userData"] ?? NSNull()) == #"{"acct":"998877","verified":true}"#)
        }
    }

    /// Agent A holds the customer and consults B; data A's desktop sets while B's phone rings (by A's device,
    /// or attached to the customer's call) is in the consultation's context, which B's CRM pops.
    @Test func dataSetDuringAConsultationReachesTheConsultedAgent() async throws {
        try await withApp { client, _ in
            let u1 = EventFixtures.u1
            let consult = EventFixtures.u2
            var events = EventFixtures()
            try await AppHarness.post(
                client,
                [
                    events.delivered(1001, at: "5001", ucid: u1),
                    events.established(1001, at: "5001", ucid: u1),
                    events.held(1001, at: "5001"),
                    events.serviceInitiated(1002, at: "5001", ucid: consult),
                    events.originated(1002, at: "5001", called: "5002"),
                    events.delivered(1002, at: "5002", ucid: consult),
                ])
            try await AppHarness.waitForProjection(client)
            let key = try await Self.set(client, #"{"data":{"reason":"refund"},"device":"5001"}"#)
            let attached = try await Self.send(client, .put, "/v1/calls/\(u1)/userdata", #"{"data":{"note":"angry"}}"#)
            #expect(attached.status == .ok, "\(attached.json)")
            #expect(
                try Self.canonical(try await AppHarness.get(client, "/v1/calls/\(u1)/userdata")["data"] ?? NSNull())
                    == #"{"note":"angry"}"#)

            let context = try await AppHarness.get(client, "/v1/calls/\(consult)")
            #expect(context["consultOf"] as? String == u1)
            #expect(try Self.canonical(context["userData"] ?? NSNull()) == #"{"note":"angry","reason":"refund"}"#)
            let keys = (context["userDataKeys"] as? [[String: Any]] ?? []).map { $0["key"] as? String }
            #expect(keys.contains(key) && keys.contains(where: { $0 == nil }), "the key and the attached data: \(keys)")
            #expect(context["originalAni"] as? String == EventFixtures.ani)
            // What B's desktop asks for by device shows the same.
            // (Decoded into types: Foundation's nested `as?` casts of this document fail on Linux.)
            struct Calls: Decodable {
                struct Call: Decodable {
                    struct Data: Decodable, Equatable { var note: String?; var reason: String? }
                    var ucid: String
                    var userData: Data?
                }
                var calls: [Call]
            }
            let atB = try await client.execute(uri: "/v1/calls?device=5002", method: .get)
            let calls = try JSONDecoder().decode(Calls.self, from: Data(String(buffer: atB.body).utf8)).calls
            #expect(calls.map(\.ucid) == [consult])
            #expect(calls.first?.userData == .init(note: "angry", reason: "refund"))
        }
    }

    /// Concurrent merges of one key all land: the row lock orders them, and each is one version.
    @Test func concurrentMergesAllApply() async throws {
        try await withApp { client, _ in
            let key = try await Self.set(client, #"{"data":{}}"#)
            try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for index in 0..<16 {
                    group.addTask {
                        try await Self.send(client, .patch, "/v1/userdata/\(key)", #"{"m\#(index)":\#(index)}"#).status
                    }
                }
                for try await status in group { #expect(status == .ok) }
            }
            let read = try await Self.send(client, .get, "/v1/userdata/\(key)")
            #expect((read.json["data"] as? [String: Any])?.count == 16)
            #expect(read.json["version"] as? Int == 17)
            let history = try await Self.send(client, .get, "/v1/userdata/\(key)/history")
            #expect((history.json["changes"] as? [Any])?.count == 17)
        }
    }

    /// The events are the truth: replaying them into empty tables answers every read the same.
    @Test func aRebuildRestoresTheServiceExactly() async throws {
        try await withApp { client, database in
            let u1 = EventFixtures.u1
            var events = EventFixtures()
            try await AppHarness.post(
                client, [events.delivered(1001, at: "5001", ucid: u1), events.established(1001, at: "5001", ucid: u1)])
            try await AppHarness.waitForProjection(client)
            let first = try await Self.set(client, #"{"data":{"a":1},"ucid":"\#(u1)"}"#)
            let second = try await Self.set(client, #"{"data":[1,2,3],"ttlSeconds":600}"#)
            let third = try await Self.set(client, #"{"data":"text"}"#)
            _ = try await Self.send(client, .patch, "/v1/userdata/\(first)", #"{"b":{"c":true}}"#)
            _ = try await Self.send(client, .put, "/v1/userdata/\(second)", #"{"data":{"x":null},"ttlSeconds":900}"#)
            _ = try await Self.send(client, .delete, "/v1/userdata/\(third)")
            _ = try await Self.send(client, .put, "/v1/calls/\(u1)/userdata", #"{"data":{"n":1}}"#)
            _ = try await Self.send(client, .put, "/v1/calls/\(u1)/userdata", #"{"data":{"n":2}}"#)

            let reads = [
                "/v1/userdata/\(first)", "/v1/userdata/\(second)", "/v1/userdata/\(third)",
                "/v1/userdata/\(first)/history",
                "/v1/userdata/\(third)/history", "/v1/calls/\(u1)/userdata", "/v1/calls/\(u1)",
            ]
            func snapshot() async throws -> [String] {
                var answers: [String] = []
                for uri in reads {
                    let (status, json) = try await Self.send(client, .get, uri)
                    answers.append("\(uri) \(status.code) \(try Self.canonical(json))")
                }
                return answers
            }
            let before = try await snapshot()
            let replayed = try await database.withClient { pool in
                try await PostgresUserDataStore(client: pool, logger: database.logger).rebuild()
            }
            #expect(replayed == 8)
            let after = try await snapshot()
            #expect(before == after)
            #expect(before[2].contains(" 404 "), "the deleted key stays deleted")
        }
    }
}
