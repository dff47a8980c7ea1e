import CallModel
import Foundation
import Hummingbird
import NIOCore
import Projections
import TSAPI

/// Call contexts and journeys: what CRMs pop and analysts search.
struct JourneyRoutes<Context: RequestContext>: Sendable {
    let journeys: PostgresJourneyStore
    let userData: PostgresUserDataStore
    let feed: PostgresFeedStore
    /// Largest page a search returns; a CSV export without `limit` walks every page.
    static var maxLimit: Int64 { 1_000 }

    func register(on router: some RouterMethods<Context>) {
        router.get("/v1/calls/{ucid}", use: callContext)
        router.get("/v1/calls", use: callsAtDevice)
        router.get("/v1/journeys/{id}", use: journey)
        router.get("/v1/journeys", use: search)
        router.get("/v1/projections", use: status)
    }

    /// The call context of any UCID: the original call, a consultation or a far-site leg.
    @Sendable func callContext(_ request: Request, context: Context) async throws -> Response {
        let ucid = try context.parameters.ucid()
        guard let journey = try await journeys.journey(id: ucid.rawValue),
            var document = CallContextDocument(ucid: ucid, in: journey)
        else {
            throw APIError(.notFound, "no call with UCID \(ucid)")
        }
        document.userData = try await userData(of: journey)
        return try .encoded(document)
    }

    /// The calls now at a device: alerting, queued, connected or held there.
    @Sendable func callsAtDevice(_ request: Request, context: Context) async throws -> Response {
        guard let device = request.uri.queryParameters["device"].map(String.init), !device.isEmpty else {
            throw APIError(.badRequest, "device is required: GET /v1/calls?device=5001", field: "device")
        }
        var calls: [CallContextDocument] = []
        for journey in try await journeys.openJourneys(device: device) {
            let here = CallContextDocument.all(in: journey).filter { call in
                call.parties.contains { $0.party.device == device }
            }
            guard !here.isEmpty else { continue }
            let data = try await userData(of: journey)
            calls += here.map { call in
                var call = call
                call.userData = data
                return call
            }
        }
        return try .encoded(DeviceCalls(device: device, calls: calls))
    }

    struct DeviceCalls: Encodable {
        var device: String
        var calls: [CallContextDocument]
    }

    /// One journey, by its id or any of its UCIDs.
    @Sendable func journey(_ request: Request, context: Context) async throws -> Response {
        let id = context.parameters.get("id") ?? ""
        guard UCID(id) != nil || id.hasPrefix("pending:") else {
            throw APIError(.badRequest, "id \"\(id)\" is not a UCID: 20 digits, not all zeros", field: "id")
        }
        guard let journey = try await journeys.journey(id: id) else {
            throw APIError(.notFound, "no journey with id or UCID \(id)")
        }
        return try .encoded(JourneyDocument(journey, userData: try await userData(of: journey)))
    }

    /// The user data of a journey: the keys its calls carried and the data set on or attached to its UCIDs,
    /// read now, so a change to a key shows at once in every call that carried it.
    func userData(of journey: Journey) async throws -> JourneyUserData {
        let records = try await userData.records(
            ids: journey.userDataKeys.map(\.key.rawValue), ucids: journey.ucids.map(\.rawValue))
        return JourneyUserData(journey: journey, records: records, now: Date())
    }

    /// Journey search with cursor paging; `Accept: text/csv` exports (every page when no `limit` is given).
    @Sendable func search(_ request: Request, context: Context) async throws -> Response {
        let csv = request.headers[.accept]?.contains("text/csv") ?? false
        let explicitLimit = request.uri.queryParameters["limit"] != nil
        var query = try JourneyQuery(
            request, limit: Int(request.queryInteger("limit", default: 100, in: 1...Self.maxLimit)))
        if csv {
            let journeys = self.journeys
            let everyPage = !explicitLimit
            if everyPage { query.limit = Int(Self.maxLimit) }
            let first = try await journeys.search(query)
            let firstQuery = query
            let body = ResponseBody { writer in
                var page = first
                var query = firstQuery
                try await writer.write(ByteBuffer(string: JourneyCSV.header))
                while true {
                    try await writer.write(ByteBuffer(string: page.map(JourneyCSV.row).joined()))
                    guard everyPage, page.count == query.limit, let last = page.last else { break }
                    query.cursor = .init(startedAt: last.startedAt, id: last.id)
                    page = try await journeys.search(query)
                }
                try await writer.finish(nil)
            }
            return Response(
                status: .ok,
                headers: [
                    .contentType: "text/csv; charset=utf-8",
                    .contentDisposition: "attachment; filename=\"journeys.csv\"",
                ],
                body: body)
        }
        let page = try await journeys.search(query)
        let next =
            page.count == query.limit
            ? page.last.map { JourneyQuery.Cursor(startedAt: $0.startedAt, id: $0.id).text } : nil
        return try .encoded(SearchPage(journeys: page.map { JourneyDocument($0) }, nextCursor: next))
    }

    struct SearchPage: Encodable {
        var journeys: [JourneyDocument]
        var nextCursor: String?
        enum CodingKeys: String, CodingKey { case journeys, nextCursor }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(journeys, forKey: .journeys)
            try c.encode(nextCursor, forKey: .nextCursor)
        }
    }

    /// How far the projection has read: its position, the log's head, and the difference.
    @Sendable func status(_ request: Request, context: Context) async throws -> Response {
        let checkpoint = try await journeys.checkpoint()
        let head = try await journeys.headPosition()
        let feedHead = try await feed.head()
        return try .encoded(
            ProjectionStatus(
                position: checkpoint.position, head: head, lag: max(0, head - checkpoint.position),
                generation: checkpoint.generation,
                feed: .init(position: feedHead.position, trimmedThrough: feedHead.trimmedThrough)))
    }

    /// `GET /v1/projections/status`.
    struct ProjectionStatus: Encodable {
        struct Feed: Encodable {
            var position: Int64
            var trimmedThrough: Int64
        }
        var position: Int64
        var head: Int64
        var lag: Int64
        var generation: Int
        var feed: Feed
    }
}

extension JourneyQuery {
    /// The search filters from the query string; a malformed one is a 400 naming it.
    init(_ request: Request, limit: Int) throws {
        self.init(limit: limit)
        let text = request.queryText
        from = try request.queryTime("from")
        to = try request.queryTime("to")
        ani = try text("ani")
        dnis = try text("dnis")
        vdn = try text("vdn")
        split = try text("split")
        device = try text("device")
        agent = try text("agent")
        if let value = try text("ucid") {
            guard UCID(value) != nil else {
                throw APIError(.badRequest, "ucid must be a UCID of 20 digits; got \"\(value)\"", field: "ucid")
            }
            ucid = value
        }
        if let from, let to, from > to {
            throw APIError(.badRequest, "from must not be after to", field: "from")
        }
        if let value = try text("outcome") {
            guard let outcome = Outcome(rawValue: value) else {
                let names = Outcome.allCases.map(\.rawValue).joined(separator: ", ")
                throw APIError(.badRequest, "outcome must be one of \(names); got \"\(value)\"", field: "outcome")
            }
            self.outcome = outcome
        }
        if let value = try text("cursor") {
            guard let cursor = Cursor(text: value) else {
                throw APIError(.badRequest, "cursor \"\(value)\" is not one this API returned", field: "cursor")
            }
            self.cursor = cursor
        }
    }
}

/// The CSV export of journeys: one row per journey, the columns an analyst filters and sums.
enum JourneyCSV {
    static let header =
        "id,started,answered,ended,outcome,originalAni,originalDnis,vdn,split,agents,ucids,"
        + "queueSeconds,ringSeconds,talkSeconds,holdSeconds,totalSeconds\r\n"

    static func row(_ journey: Journey) -> String {
        let fields: [String] = [
            journey.id, Timestamp.format(journey.startedAt), journey.answeredAt.map { Timestamp.format($0) } ?? "",
            journey.endedAt.map { Timestamp.format($0) } ?? "", journey.outcome?.rawValue ?? "",
            journey.originalAni ?? "", journey.originalDnis ?? "", journey.vdn ?? "", journey.split ?? "",
            journey.agents.joined(separator: " "), journey.ucids.map(\.rawValue).joined(separator: " "),
            seconds(journey.durations.queue), seconds(journey.durations.ring), seconds(journey.durations.talk),
            seconds(journey.durations.hold), seconds(journey.durations.total),
        ]
        return fields.map(escape).joined(separator: ",") + "\r\n"
    }

    static func seconds(_ value: Double) -> String { String(format: "%.3f", value) }

    /// RFC 4180 quoting, and a leading quote mark on text a spreadsheet would run as a formula.
    static func escape(_ field: String) -> String {
        var field = field
        if let first = field.first, "=+-@".contains(first), Double(field) == nil { field = "'" + field }
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
