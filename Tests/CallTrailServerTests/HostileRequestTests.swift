import CallTrailServer
import EventStore
import Foundation
import HummingbirdTesting
import PostgresNIO
import TSAPI
import TestSupport
import Testing

/// Every route against requests a hostile or careless client sends, over a real socket and the way the simplest
/// clients send them (the whole body first, then read): each gets the JSON error object with the status and field
/// that name what was wrong, at once, and nothing is stored.
struct HostileRequestTests {
    struct Case: Sendable, CustomStringConvertible {
        var name: String
        var method: String
        var target: String
        var body: [UInt8] = []
        var headers: [String: String] = [:]
        var status: Int
        var field: String?

        var description: String { name }
    }

    static let time = "2026-11-20T10:00:01.250Z"
    static let ucid = "00001000011795168800"
    static let key = UserDataKey.random().rawValue

    static func event(_ members: String) -> [UInt8] {
        Array(#"{"source":"aes1","time":"\#(time)","type":"CSTA_HELD",\#(members)}"#.utf8)
    }

    static let cases: [Case] = [
        // POST /v1/events
        Case(
            name: "NUL in source", method: "POST", target: "/v1/events",
            body: Array(#"{"id":"h1","source":"a\u0000b","time":"\#(time)","type":"CSTA_HELD"}"#.utf8), status: 422,
            field: "source"),
        Case(
            name: "invalid UTF-8 in id", method: "POST", target: "/v1/events",
            body: Array(#"{"id":"h"#.utf8) + [0xFF]
                + Array(#"","source":"aes1","time":"\#(time)","type":"CSTA_HELD"}"#.utf8), status: 422, field: "id"),
        Case(
            name: "source of 100,000 characters", method: "POST", target: "/v1/events",
            body: Array(
                #"{"id":"h2","source":"\#(String(repeating: "s", count: 100_000))","time":"\#(time)","type":"CSTA_HELD"}"#
                    .utf8), status: 422, field: "source"),
        Case(
            name: "negative seq", method: "POST", target: "/v1/events", body: event(#""seq":-1"#), status: 422,
            field: "seq"),
        Case(
            name: "a good event then a bad one", method: "POST", target: "/v1/events",
            body: Array("[".utf8) + event(#""id":"h3""#) + Array(",".utf8) + event(#""id":"h4","switch":7"#)
                + Array("]".utf8), status: 422, field: "switch"),
        Case(
            name: "a reserved name at the top level", method: "POST", target: "/v1/events",
            body: event(#""id":"h5","ucid":"00001000011795168800""#), status: 422, field: "ucid"),
        Case(
            name: "an array sent as NDJSON", method: "POST", target: "/v1/events", body: Array("[]\n".utf8),
            headers: ["Content-Type": "application/x-ndjson"], status: 422),
        Case(name: "not JSON", method: "POST", target: "/v1/events", body: Array("{\"source\":".utf8), status: 422),
        Case(
            name: "a body over the limit", method: "POST", target: "/v1/events",
            body: Array(repeating: UInt8(ascii: " "), count: 3 << 20), status: 413),
        // Reading the log
        Case(name: "after below 0", method: "GET", target: "/v1/events?after=-1", status: 400, field: "after"),
        Case(name: "limit 0", method: "GET", target: "/v1/events?limit=0", status: 400, field: "limit"),
        Case(
            name: "a call's events by a bad UCID", method: "GET", target: "/v1/calls/12/events", status: 400,
            field: "ucid"),
        // Read models
        Case(name: "a call by a bad UCID", method: "GET", target: "/v1/calls/abc", status: 400, field: "ucid"),
        Case(name: "calls with no device", method: "GET", target: "/v1/calls", status: 400, field: "device"),
        Case(
            name: "a URL of 100,000 commas", method: "GET",
            target: "/v1/calls?device=" + String(repeating: ",", count: 100_000), status: 414),
        Case(name: "a journey by a bad id", method: "GET", target: "/v1/journeys/xyz", status: 400, field: "id"),
        Case(
            name: "a search from yesterday", method: "GET", target: "/v1/journeys?from=yesterday", status: 400,
            field: "from"),
        Case(
            name: "an unknown outcome", method: "GET", target: "/v1/journeys?outcome=bogus", status: 400,
            field: "outcome"),
        Case(
            name: "minPosition below 0", method: "GET", target: "/v1/journeys/\(ucid)?minPosition=-1", status: 400,
            field: "minPosition"),
        Case(
            name: "a min-position header that is no number", method: "GET", target: "/v1/calls/\(ucid)",
            headers: ["CallTrail-Min-Position": "soon"], status: 400, field: "CallTrail-Min-Position"),
        // User data
        Case(
            name: "NUL deep in user data", method: "POST", target: "/v1/userdata",
            body: Array(#"{"data": {"a": {"b": ["x", "y\u0000"]}}}"#.utf8), status: 422, field: "data.a.b[1]"),
        Case(
            name: "invalid UTF-8 in user data", method: "POST", target: "/v1/userdata",
            body: Array(#"{"data": {"name": ""#.utf8) + [0xC3, 0x28] + Array(#""}}"#.utf8), status: 422,
            field: "data.name"),
        Case(
            name: "user data that is not JSON", method: "POST", target: "/v1/userdata", body: Array("{data}".utf8),
            status: 400),
        Case(
            name: "user data without data", method: "POST", target: "/v1/userdata",
            body: Array(#"{"ucid": "\#(ucid)"}"#.utf8), status: 422, field: "data"),
        Case(
            name: "a TTL of 0", method: "POST", target: "/v1/userdata",
            body: Array(#"{"data": 1, "ttlSeconds": 0}"#.utf8), status: 422, field: "ttlSeconds"),
        Case(
            name: "user data on a bad UCID", method: "POST", target: "/v1/userdata",
            body: Array(#"{"data": 1, "ucid": "42"}"#.utf8), status: 422, field: "ucid"),
        Case(
            name: "8 MB of user data", method: "POST", target: "/v1/userdata",
            body: Array(#"{"data": ""#.utf8) + Array(repeating: UInt8(ascii: "x"), count: 8_000_000)
                + Array(#""}"#.utf8), status: 413),
        Case(name: "a bad key", method: "GET", target: "/v1/userdata/not-a-key!", status: 400, field: "key"),
        Case(
            name: "NUL in a replacement", method: "PUT", target: "/v1/userdata/\(key)",
            body: Array(#"{"data": "a\u0000"}"#.utf8), status: 422, field: "data"),
        Case(
            name: "NUL in a merge patch", method: "PATCH", target: "/v1/userdata/\(key)",
            body: Array(#"{"n\u0000": 1}"#.utf8), status: 422),
        Case(
            name: "NUL in data attached to a call", method: "PUT", target: "/v1/calls/\(ucid)/userdata",
            body: Array(#"{"data": ["\u0000"]}"#.utf8), status: 422, field: "data[0]"),
        // The feed without an upgrade, and the HTTP layer itself
        Case(
            name: "a feed format nobody knows", method: "GET", target: "/v1/feed?format=bogus", status: 400,
            field: "format"),
        Case(
            name: "40 KB of headers", method: "GET", target: "/v1/calls?device=5001",
            headers: ["X-Padding": String(repeating: "p", count: 40_000)], status: 431),
        Case(name: "an unknown route", method: "GET", target: "/v2/nothing", status: 404),
        // What the API's fuzzing (scripts/attack-api) found: a NUL in a query parameter reached PostgreSQL and was a
        // 500; an empty filter widened a search; a malformed UCID filter or `from` after `to` matched nothing
        // silently; a method a path does not take was a 404.
        Case(
            name: "NUL in a query parameter", method: "GET", target: "/v1/calls?device=50%0001", status: 400,
            field: "device"),
        Case(
            name: "NUL in a search filter", method: "GET", target: "/v1/journeys?ani=1&ucid=%00", status: 400,
            field: "ucid"),
        Case(name: "NUL in the path", method: "GET", target: "/v1/journeys/ab%00c", status: 400, field: "path"),
        Case(
            name: "a malformed min-position header beside a good minPosition", method: "GET",
            target: "/v1/projections?minPosition=0", headers: ["CallTrail-Min-Position": "9223372036854775808"],
            status: 400, field: "CallTrail-Min-Position"),
        Case(name: "an empty filter", method: "GET", target: "/v1/journeys?dnis=", status: 400, field: "dnis"),
        Case(name: "an empty audit token", method: "GET", target: "/v1/audit?token=", status: 400, field: "token"),
        Case(
            name: "a search by a malformed UCID", method: "GET", target: "/v1/journeys?ucid=123", status: 400,
            field: "ucid"),
        Case(
            name: "a search from after its to", method: "GET",
            target: "/v1/journeys?from=2026-11-20T00:00:00Z&to=2000-01-01T00:00:00Z", status: 400, field: "from"),
        Case(
            name: "a cursor whose time no API answer can hold", method: "GET",
            target: "/v1/journeys?cursor=-273682530590506566.x", status: 400, field: "cursor"),
        Case(name: "a method the path does not take", method: "DELETE", target: "/v1/events", status: 405),
        Case(name: "TRACE on /health", method: "TRACE", target: "/health", status: 405),
    ]

    /// A JSON value nested 100,000 deep, alone and as `data`, to every route that reads a JSON body: each is refused
    /// with the JSON error object (`413` over the route's size limit, else `400`/`422` naming the depth), none
    /// crashes the server or answers 500, and the server answers the next request as before.
    @Test func jsonNestedOneHundredThousandDeepIsRefusedByEveryRoute() async throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let routes: [(method: String, target: String, type: String)] = [
            ("POST", "/v1/events", "application/json"), ("POST", "/v1/events", "application/x-ndjson"),
            ("POST", "/v1/userdata", "application/json"), ("PUT", "/v1/userdata/\(Self.key)", "application/json"),
            ("PATCH", "/v1/userdata/\(Self.key)", "application/merge-patch+json"),
            ("PUT", "/v1/calls/\(Self.ucid)/userdata", "application/json"), ("POST", "/v1/tokens", "application/json"),
        ]
        try await TestDatabase.with { database in
            let app = try await buildApplication(
                TestArguments(databaseURL: database.url.urlString, maxBodyBytes: 2 << 20))
            try await app.test(.live) { client in
                let http = RawHTTP(port: try #require(client.port))
                for route in routes {
                    for body in [deep, #"{"data": \#(deep), "name": "x", "scopes": \#(deep)}"#] {
                        let answer = try await http.exchangeOffPool(
                            route.method, route.target, body: Array(body.utf8), headers: ["Content-Type": route.type])
                        let what =
                            "\(route.method) \(route.target) \(route.type): \(answer.status) \(answer.body.prefix(200))"
                        #expect([400, 413, 422].contains(answer.status), "\(what)")
                        let object = try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]
                        let message = (object?["error"] as? [String: Any])?["message"] as? String
                        #expect(message?.isEmpty == false, "\(what)")
                    }
                }
                #expect(try await http.exchangeOffPool("GET", "/health").status == 200)
            }
        }
    }

    @Test func everyHostileRequestGetsAClearAnswerAndStoresNothing() async throws {
        try await TestDatabase.with { database in
            let app = try await buildApplication(
                TestArguments(databaseURL: database.url.urlString, maxBodyBytes: 2 << 20))
            try await app.test(.live) { client in
                let http = RawHTTP(port: try #require(client.port))
                for test in Self.cases {
                    let answer = try await http.exchangeOffPool(
                        test.method, test.target, body: test.body, headers: test.headers)
                    #expect(answer.status == test.status, "\(test): \(answer.status) \(answer.body.prefix(300))")
                    #expect(answer.headers["content-type"]?.hasPrefix("application/json") == true, "\(test)")
                    let object = try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]
                    let error = object?["error"] as? [String: Any]
                    #expect((error?["message"] as? String)?.isEmpty == false, "\(test): \(answer.body.prefix(300))")
                    #expect(error?["field"] as? String == test.field, "\(test): \(answer.body.prefix(300))")
                    if test.status == 405 {
                        #expect(answer.headers["allow"]?.contains("GET") == true, "\(test): \(answer.headers)")
                    }
                }
                // Nothing of any of it was stored: no event, no user data.
                let log = try await http.exchangeOffPool("GET", "/v1/events?after=0&limit=10")
                #expect(log.body.hasPrefix(#"{"events":[],"#), "\(log.body.prefix(300))")
            }
            let rows = try await database.withClient(asOwner: true) { client in
                var count = 0
                for try await value in try await client.query("SELECT count(*)::int FROM userdata").decode(Int.self) {
                    count = value
                }
                return count
            }
            #expect(rows == 0)
        }
    }
}
