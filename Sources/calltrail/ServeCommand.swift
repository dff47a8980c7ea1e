import ArgumentParser
import CallTrailServer
import Hummingbird
import Logging
import Metrics
import Prometheus

/// `calltrail serve`: the whole service in one process.
struct ServeCommand: AsyncParsableCommand, AppArguments {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run CallTrail: migrate the database, then serve the HTTP API.",
        discussion: "Stops gracefully on SIGINT/SIGTERM: in-flight batches are committed, then the private PostgreSQL stops.")

    @OptionGroup var database: DatabaseOptions

    @Option(name: .customLong("host"), help: "Address to listen on (env CALLTRAIL_HOST).")
    var hostname: String = environment["CALLTRAIL_HOST"] ?? "127.0.0.1"

    @Option(help: "Port to listen on (env CALLTRAIL_PORT).")
    var port: Int = Int(environment["CALLTRAIL_PORT"] ?? "") ?? 8080

    @Option(name: .customLong("max-body-bytes"), help: "Largest POST /v1/events body; larger ones get 413 (env CALLTRAIL_MAX_BODY_BYTES).")
    var maxBodyBytes: Int = Int(environment["CALLTRAIL_MAX_BODY_BYTES"] ?? "") ?? 16 * 1024 * 1024

    var databaseURL: String? { database.databaseURL }
    var dataDirectory: String { database.dataDirectory }
    var logLevel: Logger.Level { database.logLevel }
    var migrationsDirectory: String? { database.migrationsDirectory }

    func validate() throws {
        guard (1...65535).contains(port) else { throw ValidationError("--port must be from 1 to 65535") }
        guard maxBodyBytes > 0 else { throw ValidationError("--max-body-bytes must be positive") }
    }

    func run() async throws {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let app = try await buildApplication(self, metrics: registry)
        try await app.runService()
    }
}
