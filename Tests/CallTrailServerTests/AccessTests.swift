import CallTrailServer
import EventStore
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOWebSocket
import TSAPI
import TestSupport
import Testing
import WSCore

/// Tokens and scopes over real sockets: open on loopback until a token exists, then `401` without a valid token,
/// `403` without the scope, the route with it; revocation at once; the feed with its token in the query; a server
/// on another address that will not start without a token.
struct AccessTests {
    static func send(
        _ client: some TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, token: String? = nil,
        body: String? = nil
    ) async throws -> (status: HTTPResponse.Status, json: [String: Any], headers: HTTPFields) {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let token { headers[.authorization] = "Bearer \(token)" }
        let response = try await client.execute(
            uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        let json = (try? JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8))) as? [String: Any]
        return (response.status, json ?? [:], response.headers)
    }

    static func message(_ json: [String: Any]) -> String {
        (json["error"] as? [String: Any])?["message"] as? String ?? ""
    }

    /// Makes a token through `POST /v1/tokens` (as `admin`, or openly while none exists); returns its secret.
    static func token(
        _ client: some TestClientProtocol, _ name: String, _ scopes: [String], as admin: String? = nil
    ) async throws -> String {
        let list = scopes.map { "\"\($0)\"" }.joined(separator: ",")
        let made = try await send(
            client, .post, "/v1/tokens", token: admin, body: "{\"name\": \"\(name)\", \"scopes\": [\(list)]}")
        #expect(made.status == .created, "\(made.json)")
        return try #require(made.json["token"] as? String)
    }

    @Test func openOnLoopbackUntilATokenExistsThenEveryRouteNeedsItsScope() async throws {
        try await AppHarness.withApp { client, _ in
            // No token: the README's first run, open.
            #expect(try await Self.send(client, .get, "/v1/events").status == .ok)
            let open = try await Self.send(client, .get, "/ready").json
            #expect((open["access"] as? String)?.hasPrefix("open: no token was ever made") == true, "\(open)")

            let admin = try await Self.token(client, "ops", ["admin"])
            let reader = try await Self.token(client, "crm-east", ["calls:read", "feed"], as: admin)
            #expect(admin.hasPrefix("ct_") && admin != reader)

            // Without a token: 401 with the challenge, naming the scope needed, never a secret.
            let missing = try await Self.send(client, .get, "/v1/events")
            #expect(missing.status == .unauthorized)
            #expect(missing.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
            #expect(Self.message(missing.json).contains("events:read"))
            let wrong = try await Self.send(client, .get, "/v1/events", token: "ct_nottherightone")
            #expect(wrong.status == .unauthorized)

            // With a token that lacks the scope: 403 naming it.
            let forbidden = try await Self.send(client, .get, "/v1/events", token: reader)
            #expect(forbidden.status == .forbidden)
            #expect(Self.message(forbidden.json).contains("events:read"), "\(forbidden.json)")
            #expect(!Self.message(forbidden.json).contains(reader))
            #expect(try await Self.send(client, .post, "/v1/tokens", token: reader, body: "{}").status == .forbidden)

            // With the scope: the route. `admin` holds every scope.
            #expect(try await Self.send(client, .get, "/v1/calls?device=5001", token: reader).status != .forbidden)
            #expect(try await Self.send(client, .get, "/v1/events", token: admin).status == .ok)
            #expect(try await Self.send(client, .get, "/health").status == .ok, "/health stays open")
            #expect(try await Self.send(client, .get, "/ready").status == .unauthorized)
            let ready = try await Self.send(client, .get, "/ready", token: admin)
            #expect(ready.status == .ok && ready.json["access"] as? String == "tokens", "\(ready.json)")

            // The list never shows a secret.
            let list = try await Self.send(client, .get, "/v1/tokens", token: admin)
            let names = (list.json["tokens"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
            #expect(names == ["crm-east", "ops"])
            #expect(!"\(list.json)".contains(reader) && !"\(list.json)".contains(admin))

            // Revoked: refused at once.
            #expect(try await Self.send(client, .delete, "/v1/tokens/crm-east", token: admin).status == .ok)
            #expect(try await Self.send(client, .get, "/v1/calls?device=5001", token: reader).status == .unauthorized)
            #expect(try await Self.send(client, .delete, "/v1/tokens/crm-east", token: admin).status == .notFound)
        }
    }

    /// Found by the API's fuzzing: an admin token revoked itself, the last one, and the loopback server opened
    /// again to anyone. Once a token was made, none is never the same as open.
    @Test func revokingEveryTokenDoesNotOpenTheServerAgain() async throws {
        try await AppHarness.withApp { client, _ in
            let admin = try await Self.token(client, "ops", ["admin"])
            #expect(try await Self.send(client, .delete, "/v1/tokens/ops", token: admin).status == .ok)
            #expect(try await Self.send(client, .get, "/v1/events").status == .unauthorized)
            #expect(
                try await Self.send(client, .post, "/v1/tokens", body: #"{"name":"x","scopes":["admin"]}"#).status
                    == .unauthorized)
        }
    }

    @Test func theFeedTakesItsTokenInTheQueryAndRefusesAnUpgradeWithoutOne() async throws {
        try await AppHarness.withApp { client, _ in
            let admin = try await Self.token(client, "ops", ["admin"])
            let desk = try await Self.token(client, "desk", ["feed"], as: admin)
            let port = try #require(client.port)
            let upgrade = [
                "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            ]
            let refused = try await RawHTTP(port: port, timeout: 5).exchangeOffPool(
                "GET", "/v1/feed?devices=5001", headers: upgrade)
            #expect(refused.status == 401, "\(refused.body)")
            #expect(refused.body.contains("feed"))
            let feed = try await FeedClient.connect(port: port, query: "devices=5001&access_token=\(desk)")
            let live = try await feed.waitFor { messages in messages.contains { $0["type"]?.string == "live" } }
            #expect(live.contains { $0["type"]?.string == "live" })
        }
    }

    /// An open feed whose token is revoked is closed at once, with the reason; another token's feed stays.
    @Test func revokingATokenClosesItsOpenFeeds() async throws {
        try await AppHarness.withApp { client, _ in
            let admin = try await Self.token(client, "ops", ["admin"])
            let desk = try await Self.token(client, "desk", ["feed"], as: admin)
            let other = try await Self.token(client, "wall", ["feed"], as: admin)
            let port = try #require(client.port)
            let revoked = try await FeedClient.connect(port: port, query: "devices=5001&access_token=\(desk)")
            let kept = try await FeedClient.connect(port: port, query: "devices=5001&access_token=\(other)")
            for feed in [revoked, kept] {
                _ = try await feed.waitFor { messages in messages.contains { $0["type"]?.string == "live" } }
            }
            #expect(try await Self.send(client, .delete, "/v1/tokens/desk", token: admin).status == .ok)
            let frame = try await revoked.closed(within: .seconds(10))
            #expect(frame?.closeCode == .policyViolation, "\(String(describing: frame))")
            #expect(frame?.reason?.contains("desk") == true)
            // The other token's feed is still served: its client closes it, and the server answers.
            let answer = try await kept.close()
            #expect(answer?.closeCode == .normalClosure)
        }
    }

    @Test func anotherAddressWithoutATokenDoesNotStartUnlessToldToServeOpenly() async throws {
        try await TestDatabase.with { database in
            var arguments = TestArguments()
            arguments.databaseURL = database.url.urlString
            arguments.hostname = "0.0.0.0"
            await #expect(throws: AccessError.self) { _ = try await buildApplication(arguments) }
            arguments.insecureNoAuth = true
            let app = try await buildApplication(arguments)
            try await app.test(.live) { client in
                let status = try await Self.send(client, .get, "/v1/events").status
                #expect(status == .ok)
            }
        }
    }

    /// The handshake of a WebSocket upgrade to the feed, as RawHTTP sends it.
    static let upgrade = [
        "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    ]

    /// Legacy ctiSVR desktops know only IP lists: from an allowed address, `format=ctisvr` needs no token; the
    /// native feed still does, and other addresses get `401`.
    @Test func aCtiSvrClientFromAnAllowedAddressNeedsNoTokenForCtiSvrOnly() async throws {
        for (allowed, admitted) in [("127.0.0.0/8", true), ("10.20.0.0/16,10.30.1.5", false)] {
            var arguments = TestArguments()
            arguments.ctisvrAllow = [allowed]
            try await AppHarness.withApp(arguments) { client, _ in
                _ = try await Self.token(client, "ops", ["admin"])
                let http = RawHTTP(port: try #require(client.port), timeout: 2)
                let ctisvr = try await http.exchangeOffPool("GET", "/v1/feed?format=ctisvr", headers: Self.upgrade)
                #expect(ctisvr.status == (admitted ? 101 : 401), "\(allowed): \(ctisvr.status) \(ctisvr.body)")
                let native = try await http.exchangeOffPool("GET", "/v1/feed?devices=5001", headers: Self.upgrade)
                #expect(native.status == 401, "a native feed needs its token whatever the address")
            }
        }
    }

    /// A feed opened while the server was open is closed once the first token exists; on the ctiSVR feed, a token
    /// with `feed` alone cannot read or write user data, one with the user-data scopes can.
    @Test func openFeedsCloseWhenTheFirstTokenIsMadeAndCtiSvrUserDataNeedsItsScopes() async throws {
        try await AppHarness.withApp { client, _ in
            let port = try #require(client.port)
            let early = try await FeedClient.connect(port: port, query: "devices=5001")
            _ = try await early.waitFor { messages in messages.contains { $0["type"]?.string == "live" } }
            let admin = try await Self.token(client, "ops", ["admin"])
            let frame = try await early.closed(within: .seconds(10))
            #expect(frame?.closeCode == .policyViolation, "\(String(describing: frame))")
            #expect(frame?.reason?.contains("token") == true)

            let feedOnly = try await Self.token(client, "wall", ["feed"], as: admin)
            let desk = try await Self.token(client, "desk", ["feed", "userdata:read", "userdata:write"], as: admin)
            let wall = try await FeedClient.connect(port: port, query: "format=ctisvr&access_token=\(feedOnly)")
            try await wall.send(#"{"id": 1, "request": "userdata", "type": "set", "extension": "5002", "data": "x"}"#)
            let refused = try await FeedCtiSvrAndProcessesTests.response(wall, id: 1)
            #expect(refused["result"]?.string == "fail")
            #expect(refused["error"]?.string?.contains("userdata:write") == true, "\(refused)")
            let allowed = try await FeedClient.connect(port: port, query: "format=ctisvr&access_token=\(desk)")
            try await allowed.send(
                #"{"id": 2, "request": "userdata", "type": "set", "extension": "5002", "data": "case=42"}"#)
            let key = try #require(try await FeedCtiSvrAndProcessesTests.response(allowed, id: 2)["uui"]?.string)
            try await wall.send(
                #"{"id": 3, "request": "userdata", "type": "get", "extension": "5002", "uui": "\#(key)"}"#)
            #expect(try await FeedCtiSvrAndProcessesTests.response(wall, id: 3)["result"]?.string == "fail")
            let history = try await Self.send(client, .get, "/v1/userdata/\(key)/history", token: admin).json
            let by = ((history["changes"] as? [[String: Any]])?.first?["by"] as? [String: Any]) ?? [:]
            #expect(by["token"] as? String == "desk" && by["name"] as? String == "ctisvr:5002", "\(by)")
        }
    }

    @Test func addressRanges() throws {
        let range = try #require(AddressRange("10.20.0.0/16"))
        #expect(range.contains(try SocketAddress(ipAddress: "10.20.255.1", port: 1)))
        #expect(!range.contains(try SocketAddress(ipAddress: "10.21.0.1", port: 1)))
        #expect(range.contains(try SocketAddress(ipAddress: "::ffff:10.20.3.4", port: 1)), "IPv4 seen as IPv6")
        let one = try #require(AddressRange("10.30.1.5"))
        #expect(one.contains(try SocketAddress(ipAddress: "10.30.1.5", port: 1)))
        #expect(!one.contains(try SocketAddress(ipAddress: "10.30.1.6", port: 1)))
        let v6 = try #require(AddressRange("fd00::/8"))
        #expect(v6.contains(try SocketAddress(ipAddress: "fd12::1", port: 1)))
        #expect(!v6.contains(try SocketAddress(ipAddress: "fe80::1", port: 1)))
        #expect(AddressRange("10.20.0.0/33") == nil)
        #expect(AddressRange("example.com") == nil)
        #expect(throws: AccessError.self) { try AddressRange.list("10.0.0.0/8,nope") }
    }
}
