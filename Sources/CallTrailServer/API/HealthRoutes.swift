import EventStore
import Hummingbird
import Logging
import PostgresNIO
import Prometheus
import TSAPI

/// Liveness, readiness and metrics, for load balancers and operators.
struct HealthRoutes<Context: RequestContext>: Sendable {
    let client: PostgresClient
    let availability: DatabaseAvailability
    let migrations: [Migration]
    let metrics: PrometheusCollectorRegistry?

    func register(on router: Router<Context>) {
        router.get("/health") { _, _ in try Response.encoded(Readiness(status: "ok")) }
        router.get("/ready", use: ready)
        router.get("/metrics", use: emitMetrics)
    }

    /// Ready when the database answers and its schema is the one this build expects. While the database is away
    /// the answer is `503` at once, naming it, since when and why; the process stays up and recovers by itself.
    @Sendable func ready(_ request: Request, context: Context) async throws -> Response {
        if let outage = availability.outage {
            return try .encoded(
                Readiness(
                    status: "not ready", database: "unavailable", since: Timestamp.format(outage.since),
                    reason: outage.reason),
                status: .serviceUnavailable, retryAfter: 2)
        }
        do {
            let runner = MigrationRunner(client: client, migrations: migrations, logger: context.logger)
            let pending = try await withDatabaseTimeout(.seconds(3)) { try await runner.pending() }
            guard pending.isEmpty else {
                let names = pending.map(\.name).joined(separator: ", ")
                return try .encoded(
                    Readiness(status: "not ready", database: "ok", migrations: "pending: \(names)"),
                    status: .serviceUnavailable, retryAfter: 10)
            }
            return try .encoded(Readiness(status: "ready", database: "ok", migrations: "current"))
        } catch {
            context.logger.warning("readiness check failed", metadata: ["error": "\(LoggedError(error))"])
            availability.record(error)
            return try .encoded(
                Readiness(status: "not ready", database: "unavailable", reason: "\(LoggedError(error))"),
                status: .serviceUnavailable, retryAfter: 2)
        }
    }

    /// What `/health` and `/ready` say: `status`, and for `/ready` the database's state and the schema's, or why
    /// the database is away and since when.
    struct Readiness: Encodable {
        var status: String
        var database: String?
        var since: String?
        var reason: String?
        var migrations: String?
    }

    @Sendable func emitMetrics(_ request: Request, context: Context) async throws -> Response {
        let bytes = metrics?.emitToBuffer() ?? []
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
