import EventStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing

@testable import CallTrailServer

/// The one place errors become answers (`ErrorMiddleware`), given each kind of failure a route can meet.
struct ErrorAnswerTests {
    static func app(_ failure: @escaping @Sendable () throws -> Void) -> some ApplicationProtocol {
        let router = Router()
        router.add(
            middleware: ErrorMiddleware(
                availability: DatabaseAvailability(logger: Logger(label: "test")), routes: RouteMethods()))
        router.post("/fails") { _, _ -> String in
            try failure()
            return "not reached"
        }
        return Application(router: router)
    }

    /// What a writer (the user-data writer, the appender) throws once it stops taking changes at shutdown: a `503`
    /// with `Retry-After`, so the client sends the change again to a server that is up, never a `500`.
    @Test func aWriterShuttingDownIs503WithRetryAfter() async throws {
        try await Self.app { throw EventStoreError.shuttingDown("user data") }.test(.router) { client in
            let answer = try await client.execute(uri: "/fails", method: .post)
            #expect(answer.status == .serviceUnavailable)
            #expect(answer.headers[.retryAfter].flatMap { Int($0) } ?? 0 >= 1)
            let object =
                try JSONSerialization.jsonObject(with: Data(String(buffer: answer.body).utf8)) as? [String: Any]
            #expect(((object?["error"] as? [String: Any])?["message"] as? String)?.contains("shutting down") == true)
        }
    }

    /// Anything unexpected is a `500` with the JSON error object, never the error's own text.
    @Test func anUnexpectedErrorIs500WithoutItsText() async throws {
        struct Secret: Error {}
        try await Self.app { throw Secret() }.test(.router) { client in
            let answer = try await client.execute(uri: "/fails", method: .post)
            #expect(answer.status == .internalServerError)
            #expect(
                String(buffer: answer.body)
                    == #"{"error":{"message":"internal error; the server log has the details"}}"#)
        }
    }
}
