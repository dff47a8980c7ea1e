import CallTrailServer
import EventStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TestSupport
import Testing
import Yams

/// `openapi.yaml` describes the server as it is: every route the router has is in the document and every
/// operation of the document is a route; the server serves the document itself, openly.
struct OpenAPIDocumentTests {
    static let file = ProcessKillTests.packageRoot.appendingPathComponent("openapi.yaml")

    /// The document's operations, as `GET /v1/events`.
    static func documentedOperations() throws -> Set<String> {
        let text = try String(contentsOf: file, encoding: .utf8)
        let document = try #require(try Yams.load(yaml: text) as? [String: Any])
        let paths = try #require(document["paths"] as? [String: Any])
        var operations = Set<String>()
        for (path, item) in paths {
            for method in ((item as? [String: Any]) ?? [:]).keys
            where ["get", "put", "post", "delete", "patch", "head"].contains(method) {
                operations.insert("\(method.uppercased()) \(path.split(separator: "?")[0])")
            }
        }
        return operations
    }

    /// A router path as the document writes it: `{name}` for a parameter.
    static func normalised(_ route: String) -> String {
        route.split(separator: "/", omittingEmptySubsequences: false).map { part in
            part.hasPrefix(":") ? "{\(part.dropFirst())}" : String(part)
        }.joined(separator: "/")
    }

    @Test func theDocumentDescribesEveryRouteAndNothingElse() async throws {
        try await TestDatabase.with { database in
            var arguments = TestArguments()
            arguments.databaseURL = database.url.urlString
            let seen = RoutesSeen()
            let app = try await buildApplication(arguments, onRoutes: { seen.routes = $0 })
            let routes = Set(seen.routes.map(Self.normalised))
            #expect(!routes.isEmpty)
            let documented = try Self.documentedOperations()
            #expect(
                routes.subtracting(documented).isEmpty,
                "routes not in openapi.yaml: \(routes.subtracting(documented).sorted())")
            #expect(
                documented.subtracting(routes).isEmpty,
                "operations that are no route: \(documented.subtracting(routes).sorted())")

            // Served as it is in the repository, without a token even once tokens exist.
            try await app.test(.live) { client in
                _ = try await AccessTests.token(client, "ops", ["admin"])
                let served = try await client.execute(uri: "/openapi.yaml", method: .get)
                #expect(served.status == .ok)
                #expect(served.headers[.contentType] == "application/yaml")
                #expect(String(buffer: served.body) == (try String(contentsOf: Self.file, encoding: .utf8)))
            }
        }
    }

    final class RoutesSeen: @unchecked Sendable {
        var routes: [String] = []
    }
}
