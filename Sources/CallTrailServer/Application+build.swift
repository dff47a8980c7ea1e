import AESLink
import EventStore
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import PostgresNIO
import Projections
import Prometheus
import ServiceLifecycle

/// What `buildApplication` needs to know; the CLI's `serve` command and the tests each provide it.
package protocol AppArguments: Sendable {
    var hostname: String { get }
    var port: Int { get }
    /// `DATABASE_URL`; nil runs the embedded PostgreSQL under `dataDirectory`.
    var databaseURL: String? { get }
    var dataDirectory: String { get }
    var maxBodyBytes: Int { get }
    var logLevel: Logger.Level { get }
    var migrationsDirectory: String? { get }
    /// Most events one append transaction takes (requests waiting together are grouped up to this).
    var appendMaxEvents: Int { get }
    /// Append transactions in flight at once.
    var appendLanes: Int { get }
    /// The projector thread's niceness (0–19): how far behind the request handlers it runs when CPU is short.
    var projectorNiceness: Int32 { get }
    /// The longest the projector steps aside for a burst that saturates the appender, in seconds (0: never).
    var projectorLongestPause: Double { get }
    /// TTLs and the body limit of `/v1/userdata`.
    var userData: UserDataPolicy { get }
    /// Heartbeats and the per-subscriber queue of `/v1/feed`.
    var feed: FeedPolicy { get }
    /// The longest a read asking for `minPosition` (and user data set on a call) waits for the projections, in seconds.
    var readWaitSeconds: Double { get }
    /// The AES links to run (`--links FILE`).
    var links: [LinkConfiguration] { get }
    /// Serve without tokens on any address (`--insecure-no-auth`): logged loudly at start.
    var insecureNoAuth: Bool { get }
    /// `/ready` and `/metrics` without a token, for a scraper on a private network (`--metrics-open`).
    var metricsOpen: Bool { get }
    /// Addresses (`10.20.0.0/16`, `10.30.1.5`) whose feed connections with `format=ctisvr` need no token.
    var ctisvrAllow: [String] { get }
    /// HTTPS and WSS (`--tls-cert`, `--tls-key`, `--tls-client-ca`); nil serves plain HTTP.
    var tls: ServerTLS.Files? { get }
}

/// The defaults, for tests and tools; `calltrail serve` gives each an option (and an environment variable), so the
/// library itself reads no environment.
extension AppArguments {
    package var appendMaxEvents: Int { 2_000 }
    package var appendLanes: Int { 2 }
    package var projectorNiceness: Int32 { 10 }
    package var projectorLongestPause: Double { 2 }
    package var userData: UserDataPolicy { UserDataPolicy() }
    package var feed: FeedPolicy { FeedPolicy() }
    package var readWaitSeconds: Double { 5 }
    package var links: [LinkConfiguration] { [] }
    package var insecureNoAuth: Bool { false }
    package var metricsOpen: Bool { false }
    package var ctisvrAllow: [String] { [] }
    package var tls: ServerTLS.Files? { nil }
}

/// The composition root: the one place that wires the database, the store, the appender and the routes.
///
/// Services start in order (embedded PostgreSQL, the pool, the database monitor, the appender, the projector, then
/// the HTTP server) and stop in reverse, so the server stops taking requests before the appender commits its last
/// batches, and the database goes last. None of them ends the group over a database outage: each retries, and
/// `DatabaseAvailability` makes the routes answer `503` with `Retry-After` meanwhile. The process ends only on a
/// signal, or with an error (non-zero exit) when it cannot start: an unreachable database or a failed migration at
/// start-up, where a supervisor's restart is the right cure.
/// `onServerRunning` gets the port actually bound (useful with port 0); `onRoutes` every route as `GET /v1/events`
/// (the test that holds `openapi.yaml` to the router reads them).
package func buildApplication(
    _ arguments: some AppArguments, metrics: PrometheusCollectorRegistry? = nil,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in },
    onRoutes: ([String]) -> Void = { _ in }
) async throws -> some ApplicationProtocol {
    var logger = Logger(label: "calltrail")
    logger.handler = LibraryQuietLogHandler(base: logger.handler)
    logger.logLevel = arguments.logLevel

    var services: [any Service] = []
    let (databaseURL, dataDirectory, startLogger) = (arguments.databaseURL, arguments.dataDirectory, logger)
    let (url, embedded) = try await EmbeddedPostgres.offPool {
        try EmbeddedPostgres.locate(databaseURL: databaseURL, dataDirectory: dataDirectory, logger: startLogger)
    }
    if let embedded {
        services.append(EmbeddedPostgresService(postgres: embedded, logger: logger))
        // The socket's folder is named by the option, not by its path: no log line holds a file path.
        logger.info(
            "using the private PostgreSQL",
            metadata: ["psql": "psql -h <--data-dir>/run -p \(url.port) -U \(url.username) \(url.database)"])
    }

    let migrations: [Migration]
    let role: String?
    do {
        migrations = try Migration.load(
            from: arguments.migrationsDirectory.map { URL(fileURLWithPath: $0) } ?? Migration.defaultDirectory())
        role = try await DatabaseBootstrap.migrate(url, migrations: migrations, logger: logger)
    } catch {
        // The service group that would stop the private PostgreSQL never runs: stop it here.
        embedded?.stop()
        throw error
    }
    if role == nil {
        logger.notice("working as the database user itself: it may not create the calltrail_app role")
    }

    let client = PostgresClient(configuration: url.clientConfiguration(role: role), backgroundLogger: logger)
    let tls: ServerTLS?
    do {
        tls = try arguments.tls.map { try ServerTLS(files: $0, logger: logger) }
    } catch {
        embedded?.stop()
        throw error
    }
    let availability = DatabaseAvailability(logger: logger)
    let store = PostgresEventStore(client: client, logger: logger)
    let userData = PostgresUserDataStore(client: client, logger: logger)
    let userDataWriter = UserDataWriter(store: userData, logger: logger)
    let feed = PostgresFeedStore(client: client, logger: logger)
    let hub = FeedHub(
        store: feed, userData: userData, client: client,
        heartbeat: .milliseconds(Int64(arguments.feed.heartbeatSeconds * 1000)), logger: logger)
    // Within the process, each stage wakes the next directly (append → projector → feed); PostgreSQL's
    // notifications wake the stages of other processes. When CPU is short, accepting events comes first: the
    // projector runs on a thread of its own behind the request handlers, and steps aside while a burst saturates
    // the appender.
    let journeys = PostgresJourneyStore(client: client, logger: logger)
    let progress = ProjectionProgress { try await journeys.checkpoint().position }
    let saturation = AppendSaturation()
    let projector = JourneyProjector(
        store: journeys, logger: logger,
        executor: BackgroundThreadExecutor(name: "projector", niceness: arguments.projectorNiceness),
        ingest: saturation, longestPauseForIngest: .seconds(arguments.projectorLongestPause),
        progress: progress, availability: availability, onFeedMessages: { hub.messagesStored() })
    let appender = EventAppender(
        store: store, logger: logger, maxEventsPerTransaction: arguments.appendMaxEvents, lanes: arguments.appendLanes,
        saturation: saturation, availability: availability, onCommit: { projector.eventsAppended() })
    // Access control's events go into the log like any other, through the appender.
    let recorder = AccessRecorder(logger: logger) { events in _ = try await appender.append(events) }
    let access = try await startAccessControl(
        arguments, client: client, url: url, role: role, recorder: recorder,
        clientCertificates: tls?.requiresClientCertificates ?? false,
        logger: logger
    ) {
        embedded?.stop()
    }
    services += [
        client, access, DatabaseMonitor(client: client, availability: availability, logger: logger), appender,
        recorder, userDataWriter, projector, hub,
    ]
    if let tls { services.append(tls) }
    // The AES links come after the appender, so on shutdown they stop (and store their last events) before it does.
    let links = LinkBoard(arguments.links)
    var aesLinks: [String: AESLink] = [:]
    let linkStore = PostgresLinkStore(client: client, logger: logger)
    for configuration in arguments.links {
        let link = AESLink(
            configuration: configuration, board: links, store: linkStore,
            append: { events in _ = try await appender.append(events) },
            lastSeq: { source in try await store.lastContiguousSeq(source: source) }, logger: logger)
        aesLinks[configuration.name] = link
        services.append(link)
    }
    if arguments.feed.retentionDays > 0 {
        services.append(
            FeedRetention(
                store: feed, keep: .seconds(arguments.feed.retentionDays * 86_400), interval: .seconds(600),
                logger: logger))
    }

    // HEAD is answered wherever GET is (a load balancer's check, `curl -I`): the GET route's answer, without its body.
    let router = Router(context: CallTrailRequestContext.self, options: .autoGenerateHeadEndpoints)
    let readWait = Duration.milliseconds(Int64(arguments.readWaitSeconds * 1000))
    let routeMethods = RouteMethods()
    router.add(middleware: ErrorMiddleware(availability: availability, routes: routeMethods))
    router.add(middleware: AccessMiddleware(access: access, reads: TokenReadCounters()))
    router.add(middleware: DatabaseGateMiddleware(availability: availability))
    EventRoutes(store: store, appender: appender, maxBodyBytes: arguments.maxBodyBytes).register(on: router)
    JourneyRoutes(journeys: journeys, userData: userData, feed: feed)
        .register(
            on: router.group().add(
                middleware: ProjectionPositionMiddleware(
                    progress: progress, wait: readWait, logHead: { try await store.headPosition() })))
    let userDataService = UserDataService(
        store: userData, writer: userDataWriter, journeys: journeys, defaultTTL: arguments.userData.defaultTTL,
        progress: progress,
        originWait: readWait)
    UserDataRoutes(service: userDataService, policy: arguments.userData).register(on: router)
    LinkRoutes(board: links, links: aesLinks).register(on: router)
    TokenRoutes(access: access).register(on: router)
    AuditRoutes(store: PostgresAuditStore(client: client, logger: logger)).register(on: router)
    HealthRoutes(client: client, availability: availability, migrations: migrations, metrics: metrics, access: access)
        .register(on: router)
    FeedRoutes.registerPlainHTTP(on: router)
    OpenAPIRoutes(logger: logger).register(on: router)
    routeMethods.set(router.routes.map { (method: $0.method, path: "\($0.path)") })
    onRoutes(router.routes.map { "\($0.method) \($0.path)" })

    let feedRoutes = FeedRoutes(
        hub: hub, journeys: journeys, feed: feed, userData: userDataService, policy: arguments.feed, access: access,
        logger: logger)

    return Application(
        router: router,
        server: HTTPServerBuilder { responder in
            FeedServerChannel(responder: responder, configuration: .init(admission: access.feedAdmission, tls: tls)) {
                socket, uri, caller, _ in
                await feedRoutes.serve(socket, uri: uri, caller: caller)
            }
        },
        configuration: .init(address: .hostname(arguments.hostname, port: arguments.port), serverName: "CallTrail"),
        services: services,
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? arguments.port) },
        logger: logger)
}

/// Keeps the embedded PostgreSQL for as long as the service runs, starting it again should it die, and stops it
/// last on shutdown.
struct EmbeddedPostgresService: Service {
    let postgres: EmbeddedPostgres
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while (try? await Task.sleep(for: .seconds(5))) != nil {
                do {
                    if try await EmbeddedPostgres.offPool({ try postgres.restartIfStopped() }) {
                        logger.error("the private PostgreSQL had stopped; started it again")
                    }
                } catch {
                    logger.error(
                        "the private PostgreSQL is down and did not start", metadata: ["error": "\(LoggedError(error))"]
                    )
                }
            }
        }
        try? await EmbeddedPostgres.offPool { postgres.stop() }
    }
}

/// Reads the tokens before anything is served and decides whether the server may start: with no token, only on
/// loopback (the README's first run, served openly), with mutual TLS (the client's certificate is its credential)
/// or with `--insecure-no-auth`. A refusal stops the start with an error that says what to do (`stopEmbedded` first
/// stops the private PostgreSQL).
private func startAccessControl(
    _ arguments: some AppArguments, client: PostgresClient, url: DatabaseURL, role: String?,
    recorder: AccessRecorder, clientCertificates: Bool, logger: Logger, stopEmbedded: () -> Void
) async throws -> AccessControl {
    let ranges: [AddressRange]
    do {
        ranges = try arguments.ctisvrAllow.flatMap { try AddressRange.list($0) }
    } catch {
        stopEmbedded()
        throw error
    }
    let access = AccessControl(
        store: PostgresTokenStore(client: client, logger: logger),
        loopbackOnly: AccessControl.isLoopback(arguments.hostname), insecureNoAuth: arguments.insecureNoAuth,
        metricsOpen: arguments.metricsOpen, clientCertificates: clientCertificates, ctisvrAllow: ranges,
        recorder: recorder, logger: logger)
    do {
        let tokens = try await DatabaseBootstrap.withTemporaryClient(url, role: role, logger: logger) { client in
            try await PostgresTokenStore(client: client, logger: logger).all()
        }
        access.set(tokens)
    } catch {
        stopEmbedded()
        throw error
    }
    if arguments.insecureNoAuth {
        logger.critical(
            "serving WITHOUT access control (--insecure-no-auth): anyone who reaches the port reads and writes everything"
        )
    } else if access.certificatesAdmit {
        logger.notice(
            "no token was ever made: each client is admitted by its TLS certificate (--tls-client-ca) and named by it")
    } else if !access.hasTokens {
        guard access.loopbackOnly else {
            stopEmbedded()
            throw AccessError(
                "refusing to serve on \(arguments.hostname) without a token: make one with `calltrail tokens create "
                    + "--name NAME --scope admin`, or give --insecure-no-auth")
        }
        if access.isOpen {
            logger.notice(
                "serving openly on loopback: no token is defined. Make one with `calltrail tokens create --name NAME --scope admin`; from then on every request needs one"
            )
        } else {
            logger.warning(
                "every token is revoked or expired: every request is refused until one is made with `calltrail tokens create --name NAME --scope admin`"
            )
        }
    }
    return access
}

/// Why the server will not start as asked.
package struct AccessError: Error, CustomStringConvertible {
    package var description: String
    init(_ description: String) { self.description = description }
}
