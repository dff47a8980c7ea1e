import CallTrailServer
import EventStore
import Foundation
import Hummingbird
import HummingbirdTesting
import Simulator
import TestSupport
import Testing

/// The application as the API suites test it: built by `buildApplication` with `TestArguments` on a database of
/// its own (dropped afterwards, even when the test fails), served over real sockets; and what those suites do
/// with it (post events, wait for the projector, read JSON).
enum AppHarness {
    @discardableResult
    static func withApp<Result: Sendable>(
        _ arguments: TestArguments = TestArguments(),
        _ body: @Sendable (any TestClientProtocol, TestDatabase) async throws -> Result
    ) async throws -> Result {
        try await TestDatabase.with { database in
            var arguments = arguments
            arguments.databaseURL = database.url.urlString
            let app = try await buildApplication(arguments)
            return try await app.test(.live) { client in try await body(client, database) }
        }
    }

    /// Posts events that are new, and returns the position of the last: what a client passes as `minPosition`.
    static func postNew(_ client: some TestClientProtocol, _ lines: some Collection<String>) async throws -> Int {
        try #require(try await post(client, lines), "the batch stored events, so it names its lastPosition")
    }

    /// The app for a feed test: the body gets the client and the port the feed listens on.
    static func withFeedApp(
        _ arguments: TestArguments = TestArguments(),
        _ body: @Sendable (any TestClientProtocol, Int) async throws -> Void
    ) async throws {
        try await withApp(arguments) { client, _ in try await body(client, try #require(client.port)) }
    }

    static func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8)) as? [String: Any])
    }

    /// Posts NDJSON lines, expecting 200; returns the batch's `lastPosition` (nil when it stored nothing new).
    @discardableResult
    static func post(_ client: some TestClientProtocol, _ lines: some Collection<String>) async throws -> Int? {
        let response = try await client.execute(
            uri: "/v1/events", method: .post, headers: [.contentType: "application/x-ndjson"],
            body: ByteBuffer(string: lines.joined(separator: "\n")))
        #expect(response.status == .ok, "\(String(buffer: response.body))")
        return try json(response)["lastPosition"] as? Int
    }

    /// Waits until the projector has applied everything stored.
    static func waitForProjection(_ client: some TestClientProtocol) async throws {
        for _ in 0..<1_500 {
            let status = try json(try await client.execute(uri: "/v1/projections", method: .get))
            if status["lag"] as? Int == 0 { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("the projection did not catch up within 30 s")
    }

    static func get(_ client: some TestClientProtocol, _ uri: String) async throws -> [String: Any] {
        let response = try await client.execute(uri: uri, method: .get)
        #expect(response.status == .ok, "GET \(uri): \(response.status) \(String(buffer: response.body))")
        return try json(response)
    }

    /// Simulated traffic: `calls` calls of every scenario, 12 agents, a call every two seconds.
    static func traffic(calls: Int, seed: UInt64) -> [String] {
        var options = Traffic.Options()
        options.calls = calls
        options.rate = 0.5
        options.agents = 12
        options.seed = seed
        return Array(Traffic(options))
    }
}
