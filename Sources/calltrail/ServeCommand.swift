import AESLink
import ArgumentParser
import CallTrailServer
import CommandSupport
import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import UnixSignals

/// `calltrail serve`: the whole service in one process.
struct ServeCommand: AsyncParsableCommand, AppArguments {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run CallTrail: migrate the database, then serve the HTTP API.",
        discussion:
            "Stops gracefully on SIGINT/SIGTERM: in-flight batches are committed, then the private PostgreSQL stops.")

    @OptionGroup var database: DatabaseOptions

    @Option(name: .customLong("host"), help: "Address to listen on (env CALLTRAIL_HOST).")
    var hostname: String = environment["CALLTRAIL_HOST"] ?? "127.0.0.1"

    @Option(help: "Port to listen on (env CALLTRAIL_PORT).")
    var port: Int = Int(environment["CALLTRAIL_PORT"] ?? "") ?? 8080

    @Option(
        name: .customLong("max-body-bytes"),
        help: "Largest POST /v1/events body; larger ones get 413 (env CALLTRAIL_MAX_BODY_BYTES).")
    var maxBodyBytes: Int = Int(environment["CALLTRAIL_MAX_BODY_BYTES"] ?? "") ?? 16 * 1024 * 1024

    @Option(
        name: .customLong("userdata-ttl"),
        help: "Seconds user data lives when the client gives no ttlSeconds (env CALLTRAIL_USERDATA_TTL).")
    var userDataTTL: Int = Int(environment["CALLTRAIL_USERDATA_TTL"] ?? "") ?? 7_200

    @Option(
        name: .customLong("userdata-max-ttl"),
        help: "Longest ttlSeconds a client may ask for (env CALLTRAIL_USERDATA_MAX_TTL).")
    var userDataMaxTTL: Int = Int(environment["CALLTRAIL_USERDATA_MAX_TTL"] ?? "") ?? 86_400

    @Option(
        name: .customLong("userdata-max-bytes"),
        help: "Largest /v1/userdata body; larger ones get 413 (env CALLTRAIL_USERDATA_MAX_BYTES).")
    var userDataMaxBytes: Int = Int(environment["CALLTRAIL_USERDATA_MAX_BYTES"] ?? "") ?? 65_536

    @Flag(
        name: .customLong("insecure-no-auth"),
        help: "Serve without tokens on any address; logged loudly (env CALLTRAIL_INSECURE_NO_AUTH=1).")
    var insecureNoAuthFlag = false
    var insecureNoAuth: Bool { insecureNoAuthFlag || environment["CALLTRAIL_INSECURE_NO_AUTH"] == "1" }

    @Flag(
        name: .customLong("metrics-open"),
        help:
            "Serve /ready and /metrics without a token, for a scraper on a private network (env CALLTRAIL_METRICS_OPEN=1)."
    )
    var metricsOpenFlag = false
    var metricsOpen: Bool { metricsOpenFlag || environment["CALLTRAIL_METRICS_OPEN"] == "1" }

    @Option(
        name: .customLong("ctisvr-allow"),
        help:
            "Addresses whose /v1/feed connections with format=ctisvr need no token, e.g. 10.20.0.0/16,10.30.1.5 (env CALLTRAIL_CTISVR_ALLOW)."
    )
    var ctisvrAllowOption: String?
    var ctisvrAllow: [String] { [ctisvrAllowOption ?? environment["CALLTRAIL_CTISVR_ALLOW"]].compactMap { $0 } }

    @Option(
        name: .customLong("tls-cert"),
        help:
            "Serve HTTPS and WSS with this PEM certificate chain, leaf first; read again on SIGHUP (env CALLTRAIL_TLS_CERT)."
    )
    var tlsCertOption: String?

    @Option(name: .customLong("tls-key"), help: "The PEM private key of --tls-cert (env CALLTRAIL_TLS_KEY).")
    var tlsKeyOption: String?

    @Option(
        name: .customLong("tls-client-ca"),
        help: "Require client certificates signed by this PEM CA: mutual TLS (env CALLTRAIL_TLS_CLIENT_CA).")
    var tlsClientCAOption: String?

    var tls: ServerTLS.Files? {
        guard let certificate = tlsCertOption ?? environment["CALLTRAIL_TLS_CERT"],
            let key = tlsKeyOption ?? environment["CALLTRAIL_TLS_KEY"]
        else { return nil }
        return ServerTLS.Files(
            certificate: certificate, key: key, clientCA: tlsClientCAOption ?? environment["CALLTRAIL_TLS_CLIENT_CA"])
    }

    @Option(
        name: .customLong("feed-heartbeat"),
        help: "Seconds between heartbeats on an idle /v1/feed connection (env CALLTRAIL_FEED_HEARTBEAT).")
    var feedHeartbeat: Double = Double(environment["CALLTRAIL_FEED_HEARTBEAT"] ?? "") ?? 15

    @Option(
        name: .customLong("feed-queue"),
        help:
            "Most messages waiting for one /v1/feed subscriber before it is closed as too slow (env CALLTRAIL_FEED_QUEUE)."
    )
    var feedQueue: Int = Int(environment["CALLTRAIL_FEED_QUEUE"] ?? "") ?? 1_000

    @Option(
        name: .customLong("feed-retention-days"),
        help:
            "Days feed messages are kept for subscribers resuming with after; 0 keeps them for ever (env CALLTRAIL_FEED_RETENTION_DAYS)."
    )
    var feedRetentionDays: Double = Double(environment["CALLTRAIL_FEED_RETENTION_DAYS"] ?? "") ?? 7

    @Option(
        name: .customLong("append-max-events"),
        help:
            "Most events one append transaction takes; requests waiting together are grouped up to it (env CALLTRAIL_APPEND_MAX_EVENTS)."
    )
    var appendMaxEvents: Int = Int(environment["CALLTRAIL_APPEND_MAX_EVENTS"] ?? "") ?? 2_000

    @Option(
        name: .customLong("append-lanes"), help: "Append transactions in flight at once (env CALLTRAIL_APPEND_LANES).")
    var appendLanes: Int = Int(environment["CALLTRAIL_APPEND_LANES"] ?? "") ?? 2

    @Option(
        name: .customLong("projector-nice"),
        help:
            "Niceness (0-19) of the projector's thread: when the CPUs are busy, accepting events goes first (env CALLTRAIL_PROJECTOR_NICE)."
    )
    var projectorNiceness: Int32 = Int32(environment["CALLTRAIL_PROJECTOR_NICE"] ?? "") ?? 10

    @Option(
        name: .customLong("projector-max-pause"),
        help:
            "Longest the projector steps aside, in seconds, while a burst saturates the appender; 0 never (env CALLTRAIL_PROJECTOR_MAX_PAUSE)."
    )
    var projectorLongestPause: Double = Double(environment["CALLTRAIL_PROJECTOR_MAX_PAUSE"] ?? "") ?? 2

    @Option(
        name: .customLong("read-wait"),
        help:
            "Longest a read with minPosition (and user data set on a call) waits for the projections, in seconds; then 503 (env CALLTRAIL_READ_WAIT)."
    )
    var readWaitSeconds: Double = Double(environment["CALLTRAIL_READ_WAIT"] ?? "") ?? 5

    @Option(
        name: .customLong("links"),
        help:
            "The AES links to run: a YAML or JSON file (env CALLTRAIL_LINKS; docs/links.md, example: links.example.yaml)."
    )
    var linksOption: String?

    /// `--links`, else `CALLTRAIL_LINKS`.
    var linksFile: String? { linksOption ?? environment["CALLTRAIL_LINKS"] }

    /// The links of the links file; `validate` has read it once already, so a bad file stops the command there.
    var links: [LinkConfiguration] {
        guard let linksFile else { return [] }
        do {
            return try LinkConfiguration.load(file: linksFile)
        } catch {
            // Read fine by `validate` a moment ago: the file changed under us. Running without the links would
            // hide it, so the process stops, saying why.
            FileHandle.standardError.write(Data("calltrail serve: --links: \(error)\n".utf8))
            Foundation.exit(EXIT_FAILURE)
        }
    }

    var feed: FeedPolicy {
        FeedPolicy(heartbeatSeconds: feedHeartbeat, queueCapacity: feedQueue, retentionDays: feedRetentionDays)
    }
    var userData: UserDataPolicy {
        UserDataPolicy(defaultTTL: userDataTTL, maxTTL: userDataMaxTTL, maxBodyBytes: userDataMaxBytes)
    }
    var databaseURL: String? { database.databaseURL }
    var dataDirectory: String { database.dataDirectory }
    var logLevel: Logger.Level { database.logLevel }
    var migrationsDirectory: String? { database.migrationsDirectory }

    func validate() throws {
        guard (1...65535).contains(port) else { throw ValidationError("--port must be from 1 to 65535") }
        guard maxBodyBytes > 0 else { throw ValidationError("--max-body-bytes must be positive") }
        guard userDataMaxTTL > 0, (1...userDataMaxTTL).contains(userDataTTL) else {
            throw ValidationError("--userdata-ttl must be from 1 to --userdata-max-ttl (\(userDataMaxTTL))")
        }
        guard userDataMaxBytes > 0 else { throw ValidationError("--userdata-max-bytes must be positive") }
        guard feedHeartbeat >= 0.1 else { throw ValidationError("--feed-heartbeat must be at least 0.1 seconds") }
        guard feedQueue >= 2 else { throw ValidationError("--feed-queue must be at least 2") }
        guard appendMaxEvents > 0, appendLanes > 0 else {
            throw ValidationError("--append-max-events and --append-lanes must be positive")
        }
        guard (0...19).contains(projectorNiceness) else {
            throw ValidationError("--projector-nice must be from 0 to 19")
        }
        guard projectorLongestPause >= 0 else {
            throw ValidationError("--projector-max-pause must be 0 or more seconds")
        }
        guard readWaitSeconds >= 0 else { throw ValidationError("--read-wait must be 0 or more seconds") }
        guard feedRetentionDays >= 0 else {
            throw ValidationError("--feed-retention-days must be 0 (keep for ever) or more")
        }
        let certificate = tlsCertOption ?? environment["CALLTRAIL_TLS_CERT"]
        let key = tlsKeyOption ?? environment["CALLTRAIL_TLS_KEY"]
        guard (certificate == nil) == (key == nil) else {
            throw ValidationError("--tls-cert and --tls-key go together: give both, or neither")
        }
        if certificate == nil, tlsClientCAOption ?? environment["CALLTRAIL_TLS_CLIENT_CA"] != nil {
            throw ValidationError("--tls-client-ca needs --tls-cert and --tls-key: mutual TLS is TLS first")
        }
        if let linksFile {
            do { _ = try LinkConfiguration.load(file: linksFile) } catch { throw ValidationError("--links: \(error)") }
        }
    }

    func run() async throws {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let app = try await buildApplication(self, metrics: registry)
        // A graceful shutdown finishes the batches in flight; it is bounded all the same: a database call that a
        // PostgreSQL restart left waiting for ever holds a pooled connection, and the pool would wait for it.
        var group = ServiceGroupConfiguration(
            services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: app.logger)
        group.maximumGracefulShutdownDuration = .seconds(20)
        group.maximumCancellationDuration = .seconds(5)
        try await ServiceGroup(configuration: group).run()
    }
}
