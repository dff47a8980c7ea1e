import EventStore
import Foundation
import Hummingbird
import Projections
import TSAPI

/// An error as clients see it: `{"error": {"message", "index"?, "field"?}}` with its status.
///
/// The message says what was wrong in the client's terms; it never carries SQL or a stack. `503` always comes
/// with `Retry-After`: the request was not carried out and may be sent again as it is.
package struct APIError: HTTPResponseError, CustomStringConvertible {
    package var status: HTTPResponse.Status
    package var message: String
    package var index: Int?
    package var field: String?
    /// Seconds after which the client may retry (`Retry-After`); set for every 503.
    package var retryAfter: Int?
    /// More headers for the answer (the projections' position on a read model's 404).
    package var headers: HTTPFields = [:]

    package init(
        _ status: HTTPResponse.Status, _ message: String, index: Int? = nil, field: String? = nil,
        retryAfter: Int? = nil
    ) {
        self.status = status
        self.message = message
        self.index = index
        self.field = field
        self.retryAfter = retryAfter ?? (status == .serviceUnavailable ? 1 : nil)
    }

    /// The database is away: nothing was done, and the same request may be sent again.
    static func unavailable(_ error: EventStoreError) -> APIError {
        APIError(.serviceUnavailable, error.description, retryAfter: 2)
    }

    /// What a projections error means to a client; nil for the ones that are CallTrail's own fault (a missing
    /// checkpoint, a schema not migrated), which are logged and answered as a plain 500.
    init?(_ error: ProjectionsError) {
        switch error.code {
        case .notFound: self.init(.notFound, error.message)
        case .gone: self.init(.gone, error.message)
        case .conflict, .rebuildRunning: self.init(.conflict, error.message)
        case .behind: self.init(.serviceUnavailable, error.message, retryAfter: 1)
        case .noCallNow: self.init(.unprocessableContent, error.message, field: "device")
        case .missingCheckpoint, .checkpointMoved, .lockLost, .nothingToChange, .unexpectedAppend, .schema: return nil
        }
    }

    package init(_ error: TSAPIError) {
        self.init(.unprocessableContent, error.message, index: error.index, field: error.field)
    }

    package var description: String { "\(status.code) \(message)" }

    /// The body clients read.
    struct Body: Encodable {
        struct Detail: Encodable {
            var message: String
            var index: Int?
            var field: String?
        }
        var error: Detail
    }

    var body: Body { Body(error: Body.Detail(message: message, index: index, field: field)) }

    /// The body as JSON text, for the answers written below the router (a refused feed upgrade).
    var bodyText: String {
        (try? JSONEncoder().encode(body)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    package func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = try Response.encoded(body, status: status, retryAfter: retryAfter)
        response.headers.append(contentsOf: headers)
        return response
    }
}
