import EventStore
import Hummingbird
import Logging
import PostgresNIO
import Prometheus

/// Liveness, readiness and metrics, for load balancers and operators.
struct HealthRoutes<Context: RequestContext>: Sendable {
    let client: PostgresClient
    let migrations: [Migration]
    let metrics: PrometheusCollectorRegistry?

    func register(on router: Router<Context>) {
        router.get("/health") { _, _ in Response.json("{\"status\":\"ok\"}") }
        router.get("/ready", use: ready)
        router.get("/metrics", use: emitMetrics)
    }

    /// Ready when the database answers and its schema is the one this build expects.
    @Sendable func ready(_ request: Request, context: Context) async throws -> Response {
        do {
            let pending = try await MigrationRunner(client: client, migrations: migrations, logger: context.logger).pending()
            guard pending.isEmpty else {
                let names = pending.map(\.name).joined(separator: ", ")
                return .json(
                    "{\"status\":\"not ready\",\"database\":\"ok\",\"migrations\":\"pending: \(names)\"}", status: .serviceUnavailable)
            }
            return .json("{\"status\":\"ready\",\"database\":\"ok\",\"migrations\":\"current\"}")
        } catch {
            context.logger.warning("readiness check failed", metadata: ["error": "\(String(reflecting: error))"])
            return .json("{\"status\":\"not ready\",\"database\":\"unreachable\"}", status: .serviceUnavailable)
        }
    }

    @Sendable func emitMetrics(_ request: Request, context: Context) async throws -> Response {
        let bytes = metrics?.emitToBuffer() ?? []
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
