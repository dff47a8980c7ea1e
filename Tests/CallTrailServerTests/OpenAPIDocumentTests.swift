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

    /// Every object the document describes is closed (`additionalProperties: false`), so that a member the server
    /// starts to send without the document saying so fails the API's attack (`scripts/attack-api` checks every
    /// answer against its schema). An object open by nature (an event kept as received, a request body whose
    /// unknown members are ignored) says why in `x-calltrail-open`.
    @Test func everyObjectIsClosedOrSaysWhyItIsOpen() throws {
        let text = try String(contentsOf: Self.file, encoding: .utf8)
        let document = try #require(try Yams.load(yaml: text) as? [String: Any])
        let components = try #require(document["components"] as? [String: Any])
        let schemas = try #require(components["schemas"] as? [String: Any])
        var open: [String] = []
        for (name, value) in schemas {
            guard let schema = value as? [String: Any],
                schema["type"] as? String == "object" || schema["properties"] != nil
            else { continue }
            let closed = schema["additionalProperties"] as? Bool == false
            let why = (schema["x-calltrail-open"] as? String)?.isEmpty == false
            if !closed && !why { open.append(name) }
        }
        #expect(open.isEmpty, "objects neither closed nor saying why they are open: \(open.sorted())")
        #expect(schemas.count > 50)
    }

    final class RoutesSeen: @unchecked Sendable {
        var routes: [String] = []
    }
}
