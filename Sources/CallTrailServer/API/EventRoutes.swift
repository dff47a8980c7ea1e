import EventStore
import Foundation
import Hummingbird
import NIOCore
import TSAPI

/// `/v1/events` and `/v1/calls/{ucid}/events`: ingest and the raw log (the ingest envelope, docs/api.md).
struct EventRoutes<Context: RequestContext>: Sendable {
    let store: any EventStore
    let appender: EventAppender
    /// Bodies past this many bytes get 413.
    let maxBodyBytes: Int

    func register(on router: Router<Context>) {
        router.post("/v1/events", use: ingest)
        router.get("/v1/events", use: readLog)
        router.get("/v1/calls/{ucid}/events", use: readCall)
    }

    /// All or nothing: 200 only after the batch is committed; 422 names the first invalid event.
    @Sendable func ingest(_ request: Request, context: Context) async throws -> Response {
        var request = request
        let body = try await request.body(limit: maxBodyBytes, else: tooLarge)
        let ndjson = request.headers[.contentType]?.lowercased().hasPrefix("application/x-ndjson") == true
        let parsed = body.withUnsafeReadableBytes { bytes in
            Result { () throws(TSAPIError) -> [IncomingEvent] in try IngestBatchParser.parse(bytes, ndjson: ndjson) }
        }
        let events: [IncomingEvent]
        switch parsed {
        case .success(let value): events = value
        case .failure(let error): throw APIError(error)
        }
        let result =
            events.isEmpty
            ? AppendResult(accepted: 0, duplicates: 0, firstPosition: nil, lastPosition: nil)
            : try await appender.append(events)
        return try .encoded(result)
    }

    private var tooLarge: APIError {
        APIError(.contentTooLarge, "the body is larger than the limit of \(maxBodyBytes) bytes: send smaller batches")
    }

    /// The global log in position order; `nextAfter` is the `after` of the next page.
    @Sendable func readLog(_ request: Request, context: Context) async throws -> Response {
        let after = try request.queryInteger("after", default: 0, in: 0...Int64.max)
        let limit = try request.queryInteger("limit", default: 100, in: 1...10_000)
        let events = try await store.read(after: after, limit: Int(limit))
        let next = events.last?.position ?? after
        return .json(
            JSONWriter.object(capacity: 1024 * events.count) { page in
                page.add("events", json: StoredEventJSON.render(events))
                page.add("nextAfter", number: next)
            })
    }

    /// Every stored event of one call, including those linked to its UCID after they were stored.
    @Sendable func readCall(_ request: Request, context: Context) async throws -> Response {
        let ucid = try context.parameters.ucid()
        let events = try await store.readStream(ucid)
        guard !events.isEmpty else { throw APIError(.notFound, "no events for UCID \(ucid)") }
        return .json(
            JSONWriter.object(capacity: 1024 * events.count) { stream in
                stream.add("ucid", ucid.rawValue)
                stream.add("events", json: StoredEventJSON.render(events))
            })
    }
}

extension Parameters {
    /// The `{ucid}` path parameter, validated: 20 digits, not all zeros.
    func ucid() throws -> UCID {
        let text = self.get("ucid") ?? ""
        guard let ucid = UCID(text) else {
            throw APIError(.badRequest, "ucid \"\(text)\" is not a UCID: 20 digits, not all zeros", field: "ucid")
        }
        return ucid
    }
}

extension Request {
    /// The whole body, or `tooLarge` (a 413 that names the limit) when it has more than `limit` bytes.
    mutating func body(limit: Int, else tooLarge: @autoclosure () -> APIError) async throws -> ByteBuffer {
        if let length = headers[.contentLength].flatMap({ Int($0) }), length > limit { throw tooLarge() }
        do {
            return try await collectBody(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw tooLarge()
        }
    }

    /// An integer query parameter within `range`, or 400 naming it.
    func queryInteger(_ name: String, default value: Int64, in range: ClosedRange<Int64>) throws -> Int64 {
        guard let text = uri.queryParameters[name[...]] else { return value }
        guard let number = Int64(text), range.contains(number) else {
            throw APIError(
                .badRequest,
                "\(name) must be an integer from \(range.lowerBound) to \(range.upperBound); got \"\(text)\"",
                field: name)
        }
        return number
    }

    /// A query parameter's text, nil when it is absent. An empty one (`?dnis=`) is a 400 naming it, as for every
    /// parameter: a filter that was meant to say something and says nothing is a client's mistake worth hearing of,
    /// and treating it as absent would widen a search the client meant to narrow.
    func queryText(_ name: String) throws -> String? {
        guard let value = uri.queryParameters[name[...]].map(String.init) else { return nil }
        guard !value.isEmpty else {
            throw APIError(.badRequest, "\(name) is empty: give it a value or leave it out", field: name)
        }
        return value
    }

    /// An RFC 3339 time query parameter, or 400 naming it.
    func queryTime(_ name: String) throws -> Date? {
        guard let value = try queryText(name) else { return nil }
        guard let date = Timestamp.parse(value) else {
            throw APIError(
                .badRequest, "\(name) must be an RFC 3339 time such as 2026-11-20T10:00:00Z; got \"\(value)\"",
                field: name)
        }
        return date
    }
}
