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
    let access: AccessControl

    func register(on router: Router<Context>) {
        router.get("/health") { _, _ in try Response.encoded(Readiness(status: "ok")) }
        router.get("/ready", use: ready)
        router.get("/metrics", use: emitMetrics)
    }

    /// Ready when the database answers and its schema is the one this build expects. While the database is away
    /// the answer is `503` at once, naming it, since when and why; the process stays up and recovers by itself.
    /// Every answer says how requests are admitted (`access`): a server serving openly says so.
    @Sendable func ready(_ request: Request, context: Context) async throws -> Response {
        if let outage = availability.outage {
            return try .encoded(
                Readiness(
                    status: "not ready", database: "unavailable", since: Timestamp.format(outage.since),
                    reason: outage.reason, access: access.mode),
                status: .serviceUnavailable, retryAfter: 2)
        }
        do {
            let runner = MigrationRunner(client: client, migrations: migrations, logger: context.logger)
            let pending = try await withDatabaseTimeout(.seconds(3)) { try await runner.pending() }
            guard pending.isEmpty else {
                let names = pending.map(\.name).joined(separator: ", ")
                return try .encoded(
                    Readiness(
                        status: "not ready", database: "ok", migrations: "pending: \(names)", access: access.mode),
                    status: .serviceUnavailable, retryAfter: 10)
            }
            return try .encoded(
                Readiness(status: "ready", database: "ok", migrations: "current", access: access.mode))
        } catch {
            context.logger.warning("readiness check failed", metadata: ["error": "\(LoggedError(error))"])
            availability.record(error)
            return try .encoded(
                Readiness(
                    status: "not ready", database: "unavailable", reason: "\(LoggedError(error))",
                    access: access.mode),
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
        /// How requests are admitted: `tokens`, `client certificates: ...` or `open: ...` with why.
        var access: String?
    }

    @Sendable func emitMetrics(_ request: Request, context: Context) async throws -> Response {
        let bytes = metrics?.emitToBuffer() ?? []
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
