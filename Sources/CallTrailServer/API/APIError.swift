import Foundation
import Hummingbird
import TSAPI

/// An error as clients see it: `{"error": {"message", "index"?, "field"?}}` with its status (architecture §5).
///
/// The message says what was wrong in the client's terms; it never carries SQL or a stack.
public struct APIError: HTTPResponseError, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var message: String
    public var index: Int?
    public var field: String?

    public init(_ status: HTTPResponse.Status, _ message: String, index: Int? = nil, field: String? = nil) {
        self.status = status
        self.message = message
        self.index = index
        self.field = field
    }

    public init(_ error: IngestError) {
        self.init(.unprocessableContent, error.message, index: error.index, field: error.field)
    }

    public var description: String { "\(status.code) \(message)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var body = "{\"error\":{\"message\":\(JSONText.quote(message))"
        if let index { body += ",\"index\":\(index)" }
        if let field { body += ",\"field\":\(JSONText.quote(field))" }
        body += "}}"
        return Response.json(body, status: status)
    }
}

extension Response {
    /// A response whose body is JSON text CallTrail already wrote.
    static func json(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
