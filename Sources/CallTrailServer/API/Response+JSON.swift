import Foundation
import Hummingbird
import TSAPI

extension Response {
    /// A JSON response from an `Encodable` document, written the one way CallTrail writes documents
    /// (`JSONCoding`: sorted keys, so the same document is the same text).
    static func encoded(
        _ value: some Encodable, status: HTTPResponse.Status = .ok, retryAfter: Int? = nil
    ) throws -> Response {
        json(ByteBuffer(bytes: try JSONCoding.data(value)), status: status, retryAfter: retryAfter)
    }

    /// A response whose body is JSON text `JSONWriter` wrote: stored events spliced as they were received.
    static func json(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        json(ByteBuffer(string: text), status: status, retryAfter: nil)
    }

    private static func json(_ body: ByteBuffer, status: HTTPResponse.Status, retryAfter: Int?) -> Response {
        var response = Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: body))
        if let retryAfter { response.headers[.retryAfter] = "\(retryAfter)" }
        return response
    }
}
