import CallTrailServer
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOWebSocket
import TSAPI
import TestSupport
import Testing
import WSCore

/// What access control records and how it treats clients that fail: the audit of who changed which key and which
/// tokens were refused, every route's scope, expiry, and the slowing of an address that keeps failing.
struct AuditTests {
    typealias Send = AccessTests

    /// Waits until `GET path` (as `token`) answers a JSON document for which `done` holds.
    static func waitFor(
        _ client: some TestClientProtocol, _ path: String, token: String, _ done: ([String: Any]) -> Bool
    ) async throws -> [String: Any] {
        var last: [String: Any] = [:]
        for _ in 0..<200 {
            last = try await Send.send(client, .get, path, token: token).json
            if done(last) { return last }
            try await Task.sleep(for: .milliseconds(50))
        }
        return last
    }

    static func entries(_ json: [String: Any]) -> [[String: Any]] { json["entries"] as? [[String: Any]] ?? [] }

    @Test func theAuditNamesWhoChangedWhichKeyAndWhichTokensWereRefused() async throws {
        try await AppHarness.withApp { client, _ in
            let admin = try await Send.token(client, "ops", ["admin"])
            let writer = try await Send.token(client, "crm-east", ["userdata:write"], as: admin)
            let made = try await Send.send(
                client, .post, "/v1/userdata", token: writer, body: #"{"data": {"account": "12345"}}"#)
            #expect(made.status == .created)
            let key = try #require(made.json["key"] as? String)
            // A read without the scope (403), then the token revoked and used again (401).
            #expect(try await Send.send(client, .get, "/v1/userdata/\(key)", token: writer).status == .forbidden)
            #expect(try await Send.send(client, .delete, "/v1/tokens/crm-east", token: admin).status == .ok)
            #expect(try await Send.send(client, .get, "/v1/userdata/\(key)", token: writer).status == .unauthorized)

            // Refusals are written as counted events every couple of seconds.
            let audit = try await Self.waitFor(client, "/v1/audit?token=crm-east", token: admin) { json in
                Self.entries(json).filter { $0["action"] as? String == "access.refused" }.count == 2
            }
            let entries = Self.entries(audit)
            let actions = entries.compactMap { $0["action"] as? String }
            #expect(
                actions == ["token.create", "userdata.set", "access.refused", "token.revoke", "access.refused"]
                    || actions == ["token.create", "userdata.set", "token.revoke", "access.refused", "access.refused"],
                "\(entries)")
            let set = try #require(entries.first { $0["action"] as? String == "userdata.set" })
            #expect(set["key"] as? String == key)
            #expect((set["by"] as? [String: Any])?["token"] as? String == "crm-east")
            #expect(set["data"] == nil, "the audit says who and when, never the data")
            let created = try #require(entries.first { $0["action"] as? String == "token.create" })
            #expect((created["by"] as? [String: Any])?["token"] as? String == "ops")
            #expect(created["scopes"] as? [String] == ["userdata:write"])
            let refused = entries.filter { $0["action"] as? String == "access.refused" }
            #expect(Set(refused.compactMap { $0["status"] as? Int }) == [401, 403])
            #expect(refused.allSatisfy { $0["address"] as? String == "127.0.0.1" && $0["count"] as? Int == 1 })
            #expect(refused.first { $0["status"] as? Int == 403 }?["scope"] as? String == "userdata:read")

            // The same events are in the log, in order with everything else.
            let log = try await Send.send(client, .get, "/v1/events?limit=100", token: admin).json
            let types = (log["events"] as? [[String: Any]] ?? []).compactMap { $0["type"] as? String }
            #expect(types.contains("CALLTRAIL_TOKEN_CREATED") && types.contains("CALLTRAIL_ACCESS_REFUSED"))

            // Without `token`, everyone's entries: the admin token's own making first; paged by `after`.
            let everyone = try await Send.send(client, .get, "/v1/audit?limit=2", token: admin)
            #expect(everyone.status == .ok, "\(everyone.json)")
            let firstPage = Self.entries(everyone.json)
            #expect(firstPage.first?["action"] as? String == "token.create" && firstPage.count == 2)
            let next = try #require(everyone.json["next"] as? String)
            let second = Self.entries(
                try await Send.send(client, .get, "/v1/audit?limit=100&after=\(next)", token: admin).json)
            let pagedIDs = (firstPage + second).compactMap { $0["id"] as? String }
            let allIDs = Self.entries(try await Send.send(client, .get, "/v1/audit?limit=100", token: admin).json)
                .compactMap { $0["id"] as? String }
            #expect(pagedIDs == allIDs, "the pages hold every entry once, in order")
            #expect(
                try await Send.send(client, .get, "/v1/audit?after=12", token: admin).status == .badRequest)

            // An event a client posts under one of these names is stored as unknown, and never in the audit.
            let forged =
                #"{"id":"f-1","source":"crm","time":"2026-12-02T10:00:00Z","type":"CALLTRAIL_TOKEN_CREATED","access":{"token":"crm-east"}}"#
            #expect(try await Send.send(client, .post, "/v1/events", token: admin, body: forged).status == .ok)
            let after = Self.entries(
                try await Send.send(client, .get, "/v1/audit?token=crm-east&from=2026-12-01T00:00:00Z", token: admin)
                    .json)
            #expect(after.count == entries.count, "\(after)")

            // Its parameters are checked.
            let badTime = try await Send.send(client, .get, "/v1/audit?from=yesterday", token: admin)
            #expect(
                badTime.status == .badRequest
                    && (badTime.json["error"] as? [String: Any])?["field"] as? String == "from")
            #expect(try await Send.send(client, .get, "/v1/audit?limit=0", token: admin).status == .badRequest)
            #expect(try await Send.send(client, .get, "/v1/audit", token: writer).status == .unauthorized)
        }
    }

    /// Every route of the API: 401 without a token, 403 with a token holding every scope but the one it needs,
    /// and through to the route with that scope.
    @Test func everyRouteNeedsItsScope() async throws {
        let routes: [(HTTPRequest.Method, String, String)] = [
            (.post, "/v1/events", "events:write"), (.get, "/v1/events", "events:read"),
            (.get, "/v1/calls/00001000011700000001/events", "events:read"),
            (.get, "/v1/calls/00001000011700000001", "calls:read"), (.get, "/v1/calls?device=5001", "calls:read"),
            (.get, "/v1/journeys/00001000011700000001", "journeys:read"), (.get, "/v1/journeys", "journeys:read"),
            (.post, "/v1/userdata", "userdata:write"), (.get, "/v1/userdata/AAAAAAAA", "userdata:read"),
            (.put, "/v1/userdata/AAAAAAAA", "userdata:write"), (.patch, "/v1/userdata/AAAAAAAA", "userdata:write"),
            (.delete, "/v1/userdata/AAAAAAAA", "userdata:write"),
            (.get, "/v1/userdata/AAAAAAAA/history", "userdata:read"),
            (.put, "/v1/calls/00001000011700000001/userdata", "userdata:write"),
            (.get, "/v1/calls/00001000011700000001/userdata", "userdata:read"),
            (.get, "/v1/feed?devices=5001", "feed"), (.get, "/v1/links", "admin"), (.get, "/v1/links/east", "admin"),
            (.post, "/v1/links/east/switch", "admin"), (.post, "/v1/links/east/devices", "admin"),
            (.delete, "/v1/links/east/devices/5001", "admin"), (.get, "/v1/projections", "admin"),
            (.get, "/v1/tokens", "admin"), (.post, "/v1/tokens", "admin"), (.delete, "/v1/tokens/nobody", "admin"),
            (.get, "/v1/audit", "admin"), (.get, "/ready", "admin"), (.get, "/metrics", "admin"),
        ]
        let scopes = [
            "events:write", "events:read", "calls:read", "journeys:read", "userdata:read", "userdata:write", "feed",
        ]
        try await AppHarness.withApp { client, _ in
            let admin = try await Send.token(client, "ops", ["admin"])
            var holding: [String: String] = [:]
            var lacking: [String: String] = [:]
            for scope in scopes + ["admin"] {
                let name = scope.replacingOccurrences(of: ":", with: "-")
                holding[scope] = scope == "admin" ? admin : try await Send.token(client, name, [scope], as: admin)
                lacking[scope] = try await Send.token(
                    client, "all-but-\(name)", scopes.filter { $0 != scope }, as: admin)
            }
            for (method, path, scope) in routes {
                let body = method == .get || method == .delete ? nil : "{}"
                let none = try await Send.send(client, method, path, body: body)
                #expect(none.status == .unauthorized, "\(method) \(path) without a token: \(none.status)")
                let wrong = try await Send.send(client, method, path, token: lacking[scope], body: body)
                #expect(wrong.status == .forbidden, "\(method) \(path) without \(scope): \(wrong.status)")
                #expect(Send.message(wrong.json).contains(scope))
                let right = try await Send.send(client, method, path, token: holding[scope], body: body)
                #expect(
                    right.status != .unauthorized && right.status != .forbidden,
                    "\(method) \(path) with \(scope): \(right.status) \(right.json)")
            }
            #expect(try await Send.send(client, .get, "/health").status == .ok)
        }
    }

    /// A token that expires is refused from then on, and its open feed is closed with the reason.
    @Test func anExpiredTokenIsRefusedAndItsFeedClosed() async throws {
        try await AppHarness.withApp { client, database in
            _ = try await Send.token(client, "ops", ["admin"])
            let secret = try await database.withClient { pool in
                try await PostgresTokenStore(client: pool, logger: Logger(label: "test")).create(
                    name: "shift", scopes: [.feed, .callsRead], expiresAt: Date().addingTimeInterval(10))
            }
            // The server reads new tokens within a second (longer when the machine is busy).
            var admitted = false
            for _ in 0..<120 where !admitted {
                admitted = try await Send.send(client, .get, "/v1/calls?device=5001", token: secret).status == .ok
                if !admitted { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(admitted)
            let port = try #require(client.port)
            let feed = try await FeedClient.connect(port: port, query: "devices=5001&access_token=\(secret)")
            _ = try await feed.waitFor { messages in messages.contains { $0["type"]?.string == "live" } }
            let frame = try await feed.closed(within: .seconds(20))
            #expect(frame?.closeCode == .policyViolation, "\(String(describing: frame))")
            #expect(frame?.reason?.contains("shift") == true)
            #expect(try await Send.send(client, .get, "/v1/calls?device=5001", token: secret).status == .unauthorized)
        }
    }

    /// Past five wrong secrets a minute, an address is answered ever more slowly (here: at least the second delay,
    /// half a second); a request without a secret, and a valid token, from it are answered at once.
    @Test func repeatedFailuresFromOneAddressAreAnsweredSlowly() async throws {
        try await AppHarness.withApp { client, _ in
            let admin = try await Send.token(client, "ops", ["admin"])
            for _ in 0..<6 { _ = try await Send.send(client, .get, "/v1/events", token: "ct_guess") }
            let started = ContinuousClock.now
            let refused = try await Send.send(client, .get, "/v1/events", token: "ct_guess")
            let waited = ContinuousClock.now - started
            #expect(refused.status == .unauthorized)
            #expect(waited >= .milliseconds(500), "the seventh refusal waited \(waited)")
            let before = ContinuousClock.now
            #expect(try await Send.send(client, .get, "/v1/events").status == .unauthorized)
            print("a request without a secret from the slowed address waited \(ContinuousClock.now - before)")
            #expect(try await Send.send(client, .get, "/v1/events", token: admin).status == .ok)
        }
    }

    @Test func theThrottleDoublesItsDelayUpToALimitAndForgetsAQuietAddress() {
        var policy = FailureThrottle.Policy()
        policy.maxAddresses = 4
        let throttle = FailureThrottle(policy: policy)
        let start = ContinuousClock.now
        // Each refusal a second apart, so that no more than a few answers wait at once.
        let verdicts = (0..<12).map { throttle.failed("10.0.0.1", at: start + .seconds($0 * 6)) }
        let expected: [FailureThrottle.Verdict] =
            Array(repeating: .answer(after: .zero), count: 5) + [
                .answer(after: .milliseconds(250)), .answer(after: .milliseconds(500)), .answer(after: .seconds(1)),
                .answer(after: .seconds(2)), .answer(after: .seconds(4)), .answer(after: .seconds(5)),
                .answer(after: .seconds(5)),
            ]
        #expect(verdicts == expected)
        #expect(throttle.failures(of: "10.0.0.1", at: start + .seconds(66 + 61)) == 0, "a quiet minute forgets")
        #expect(throttle.failed("10.0.0.1", at: start + .seconds(66 + 61)) == .answer(after: .zero))

        // Many at once from one address: past eight waiting answers, the next is told to come back later.
        let burst = start + .seconds(1_000)
        let many = (0..<20).map { _ in throttle.failed("10.0.0.2", at: burst) }
        #expect(many.filter { if case .answer(let after) = $0 { after > .zero } else { false } }.count == 8)
        #expect(many.suffix(7).allSatisfy { if case .tooMany = $0 { true } else { false } })

        // An IPv6 host is counted by its /64; an IPv4 address seen as IPv6 as itself.
        #expect(FailureThrottle.key("2001:db8:1:2:aaaa::1") == FailureThrottle.key("2001:db8:1:2:bbbb::9"))
        #expect(FailureThrottle.key("2001:db8:1:2::1") != FailureThrottle.key("2001:db8:1:3::1"))
        #expect(FailureThrottle.key("::ffff:10.1.2.3") == "10.1.2.3")

        // Many addresses: the table stays bounded, keeping the latest.
        for index in 0..<10 { _ = throttle.failed("10.0.1.\(index)", at: burst + .seconds(index)) }
        #expect(throttle.failures(of: "10.0.1.9", at: burst + .seconds(10)) == 1)
        #expect(throttle.failures(of: "10.0.1.0", at: burst + .seconds(10)) == 0)
    }
}
