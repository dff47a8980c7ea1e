import HTTPTypes
import Hummingbird
import Projections

/// Read-your-writes for the read models (call contexts, journeys, the calls at a device).
///
/// Projections follow the event log asynchronously, so a read made right after `POST /v1/events` may not show what
/// the POST stored yet. Every answer from a read model says how far the projections had come when it was read
/// (`CallTrail-Position: P`): the answer reflects every event up to P. A client that must see its own writes sends
/// the `lastPosition` its POST got back as `?minPosition=P` (or `CallTrail-Min-Position: P`): the read waits until
/// the projections have reached P, for at most `wait` (`--read-wait`), and then answers; past that it gets `503`
/// with `Retry-After`, and may simply ask again.
struct ProjectionPositionMiddleware<Context: RequestContext>: RouterMiddleware {
    let progress: ProjectionProgress
    let wait: Duration
    /// The log's last position: a `minPosition` past it names nothing that was written, and is refused at once.
    let logHead: @Sendable () async throws -> Int64

    static var positionHeader: HTTPField.Name { HTTPField.Name("CallTrail-Position")! }
    static var minPositionHeader: HTTPField.Name { HTTPField.Name("CallTrail-Min-Position")! }

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let position: Int64
        if let minimum = try Self.minimumPosition(request) {
            if try await progress.current() < minimum, case let head = try await logHead(), minimum > head {
                throw APIError(
                    .badRequest,
                    "minPosition \(minimum) is past the log's last position, \(head): use the lastPosition a POST returned",
                    field: "minPosition")
            }
            guard let reached = try await progress.wait(until: minimum, timeout: wait) else {
                let now = try await progress.current()
                var error = APIError(
                    .serviceUnavailable,
                    "the projections are at position \(now) and have not reached minPosition \(minimum) within \(wait); retry",
                    field: "minPosition", retryAfter: 1)
                error.headers[Self.positionHeader] = "\(now)"
                throw error
            }
            position = reached
        } else {
            position = try await progress.current()
        }
        do {
            var response = try await next(request, context)
            response.headers[Self.positionHeader] = "\(position)"
            return response
        } catch var error as APIError {
            // A 404 says "not found as of P": a client that just wrote knows to ask with minPosition.
            error.headers[Self.positionHeader] = "\(position)"
            throw error
        }
    }

    /// `?minPosition=P` or the `CallTrail-Min-Position` header (the query wins); 400 naming either when malformed,
    /// even when the other is given: a header that says nothing sensible is the client's mistake either way.
    static func minimumPosition(_ request: Request) throws -> Int64? {
        let header = try request.headers[minPositionHeader].map {
            try position($0[...], field: "CallTrail-Min-Position")
        }
        let query = try request.uri.queryParameters["minPosition"].map { try position($0, field: "minPosition") }
        return query ?? header
    }

    private static func position(_ text: Substring, field: String) throws -> Int64 {
        guard let position = Int64(text), position >= 0 else {
            throw APIError(
                .badRequest, "\(field) must be a log position, a whole number from 0; got \"\(text)\"", field: field)
        }
        return position
    }
}
