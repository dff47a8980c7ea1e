import Foundation
import Hummingbird
import Logging

/// `GET /openapi.yaml`: the API's OpenAPI document, open like `/health` (client generators fetch it; it holds
/// nothing about the data). It is read once at start from `openapi.yaml` in the repository (or where
/// `CALLTRAIL_OPENAPI` says: the Docker image sets it).
struct OpenAPIRoutes<Context: RequestContext>: Sendable {
    /// The document's text; nil when it is not installed, which the route says with a `404`.
    let document: String?

    init(logger: Logger) {
        let url = Self.location()
        document = try? String(contentsOf: url, encoding: .utf8)
        if document == nil {
            logger.warning("the API document was not found: GET /openapi.yaml answers 404 (set CALLTRAIL_OPENAPI)")
        }
    }

    /// Where the document is: `CALLTRAIL_OPENAPI`, else `openapi.yaml` in the working directory, else the
    /// repository this build came from.
    static func location(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let path = environment["CALLTRAIL_OPENAPI"], !path.isEmpty { return URL(fileURLWithPath: path) }
        let local = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(
            "openapi.yaml")
        if FileManager.default.fileExists(atPath: local.path) { return local }
        return URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
            .appendingPathComponent("openapi.yaml")
    }

    func register(on router: Router<Context>) {
        let document = self.document
        router.get("/openapi.yaml") { _, _ -> Response in
            guard let document else {
                throw APIError(.notFound, "this server was installed without its API document (CALLTRAIL_OPENAPI)")
            }
            return Response(
                status: .ok, headers: [.contentType: "application/yaml"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: document)))
        }
    }
}
