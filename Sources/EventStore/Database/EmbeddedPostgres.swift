import Foundation
import Logging
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A private PostgreSQL server under a local data folder, run from the system's binaries, for the default
/// `calltrail serve` with no `DATABASE_URL` (docs/operations.md).
///
/// It listens only on a Unix socket inside its own folder, so it never clashes with another server's port.
/// PostgreSQL refuses to run as root, so when CallTrail runs as root the server runs as the `postgres` user
/// that Debian's package creates. A second start against the same folder reuses the data, and reuses a server
/// that is still running there.
package final class EmbeddedPostgres: Sendable {
    package let dataDirectory: URL
    let logger: Logger
    let port = 5432
    /// The database CallTrail uses inside the private cluster.
    package static let databaseName = "calltrail"
    package static let superuser = "calltrail"

    /// The server's settings, beyond listening only on the socket.
    ///
    /// Why a small buffer pool, written out early: PostgreSQL 15 grows a table by writing zero-filled pages through
    /// the page cache, and those pages stay dirty there until the buffer holding the real page is written out. With
    /// a large pool that comes only at the next checkpoint, so Linux writes a file's dirty pages back 30 s after
    /// they were first dirtied, all at once (100–150 MB at 2,000 events/s), and every WAL flush waits behind them
    /// for 100–200 ms. A 32 MB pool, a background writer that keeps ahead of it and backends that ask the kernel
    /// to write what they evict (`*_flush_after`) keep the dirty data near the pool's size and the writes steady:
    /// the feed's offer latency lost its 30-second spikes (max 190–220 ms before, 19–34 ms after). Reads come
    /// from the page cache instead; the ingest and user-data benchmarks did not move.
    package static let serverSettings: KeyValuePairs<String, String> = [
        "max_connections": "200",
        "shared_buffers": "32MB",
        "bgwriter_delay": "50ms",
        "bgwriter_lru_maxpages": "1000",
        "backend_flush_after": "256kB",
    ]

    package init(dataDirectory: URL, logger: Logger) {
        self.dataDirectory = dataDirectory.standardizedFileURL
        self.logger = logger
    }

    var clusterDirectory: URL { dataDirectory.appendingPathComponent("pgdata") }
    var logFile: URL { dataDirectory.appendingPathComponent("postgres.log") }

    /// The socket folder: inside the data folder when the path fits a socket address (107 bytes), else under /tmp.
    var socketDirectory: String {
        let inside = dataDirectory.appendingPathComponent("run").path
        if inside.utf8.count + 16 < 100 { return inside }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in dataDirectory.path.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return "/tmp/calltrail-pg-\(String(hash, radix: 16))"
    }

    /// The URL to reach the server once started.
    package var url: DatabaseURL {
        DatabaseURL(username: Self.superuser, port: port, socketDirectory: socketDirectory, database: Self.databaseName)
    }

    /// Whether this object started the server (and so should stop it).
    private let startedHere = Mutex(false)

    /// Creates the cluster if needed and starts the server if it is not running; returns its URL.
    package func start() throws -> DatabaseURL {
        let binaries = try PostgresBinaries.find()
        let runAs = try Self.unprivilegedUser()
        try FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: socketDirectory, withIntermediateDirectories: true)
        if let user = runAs {
            try Self.run("/bin/chown", ["-R", "\(user):\(user)", dataDirectory.path, socketDirectory])
            guard (try? Self.run("/usr/sbin/runuser", ["-u", user, "--", "test", "-w", dataDirectory.path])) != nil
            else {
                throw EventStoreError.setup(
                    "the \(user) user cannot reach \(dataDirectory.path) (PostgreSQL refuses to run as root, so it runs as \(user)); "
                        + "pass --data-dir with a folder \(user) can enter, such as /var/lib/calltrail")
            }
        }
        if !FileManager.default.fileExists(atPath: clusterDirectory.appendingPathComponent("PG_VERSION").path) {
            logger.info("creating a private PostgreSQL cluster", metadata: ["folder": "\(clusterDirectory.path)"])
            try Self.run(
                binaries.initdb,
                [
                    "-D", clusterDirectory.path, "-U", Self.superuser, "--auth=trust", "--encoding=UTF8", "--no-locale",
                ], as: runAs)
        }
        if (try? Self.run(binaries.pgCtl, ["status", "-D", clusterDirectory.path], as: runAs)) != nil {
            logger.info(
                "reusing the private PostgreSQL already running", metadata: ["folder": "\(clusterDirectory.path)"])
        } else {
            // Trust authentication is safe only because nobody else can reach the socket: no TCP, and a socket
            // only its owner (and root) may open.
            let options =
                "-k \(socketDirectory) -p \(port) -c listen_addresses='' -c unix_socket_permissions=0700 "
                + Self.serverSettings.map { "-c \($0.key)=\($0.value)" }.joined(separator: " ")
            do {
                try Self.run(
                    binaries.pgCtl,
                    [
                        "start", "-D", clusterDirectory.path, "-w", "-t", "120", "-l", logFile.path, "-o", options,
                    ], as: runAs)
            } catch {
                let tail =
                    (try? String(contentsOf: logFile, encoding: .utf8))?.split(separator: "\n").suffix(5).joined(
                        separator: "\n") ?? ""
                throw EventStoreError.setup("PostgreSQL did not start: \(error)\n\(tail)")
            }
            startedHere.withLock { $0 = true }
            logger.info(
                "started a private PostgreSQL", metadata: ["socket": "\(socketDirectory)", "log": "\(logFile.path)"])
        }
        try createDatabaseIfMissing(binaries: binaries, runAs: runAs)
        return url
    }

    /// Starts the server again if it is no longer running (it crashed, or someone stopped it); returns whether it
    /// had to. `calltrail serve` asks every few seconds, so a private PostgreSQL that dies comes back by itself.
    package func restartIfStopped() throws -> Bool {
        if isRunning { return false }
        _ = try start()
        return true
    }

    /// Whether the postmaster named in the cluster's `postmaster.pid` is alive: a look at a file and a signal 0, no
    /// program to run, so it can be asked every few seconds.
    var isRunning: Bool {
        guard
            let text = try? String(
                contentsOf: clusterDirectory.appendingPathComponent("postmaster.pid"), encoding: .utf8),
            let pid = text.split(separator: "\n").first.flatMap({ pid_t($0.trimmingCharacters(in: .whitespaces)) })
        else { return false }
        return kill(pid, 0) == 0 || errno == EPERM
    }

    /// Stops the server if this object started it.
    package func stop() {
        guard startedHere.withLock({ $0 }), let binaries = try? PostgresBinaries.find() else { return }
        let runAs = try? Self.unprivilegedUser()
        do {
            try Self.run(
                binaries.pgCtl, ["stop", "-D", clusterDirectory.path, "-m", "fast", "-w", "-t", "60"], as: runAs)
            startedHere.withLock { $0 = false }
            logger.info("stopped the private PostgreSQL")
        } catch {
            logger.error("could not stop the private PostgreSQL", metadata: ["error": "\(LoggedError(error))"])
        }
    }

    private func createDatabaseIfMissing(binaries: PostgresBinaries, runAs: String?) throws {
        let psql = ["-h", socketDirectory, "-p", "\(port)", "-U", Self.superuser, "-d", "postgres", "-tAc"]
        let exists = try Self.run(
            binaries.psql, psql + ["SELECT 1 FROM pg_database WHERE datname = '\(Self.databaseName)'"], as: runAs)
        if exists.trimmingCharacters(in: .whitespacesAndNewlines) != "1" {
            _ = try Self.run(binaries.psql, psql + ["CREATE DATABASE \(Self.databaseName)"], as: runAs)
        }
    }

    /// The folder to use for `requested`: itself, unless CallTrail runs as root and the `postgres` user cannot
    /// enter it (a checkout under `/root`, say); then a folder under `/var/lib/calltrail` named after it.
    package static func usableDataDirectory(for requested: URL, logger: Logger) -> URL {
        guard let user = try? unprivilegedUser() else { return requested }
        var ancestor = requested.standardizedFileURL.deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: ancestor.path) { ancestor.deleteLastPathComponent() }
        if (try? run("/usr/sbin/runuser", ["-u", user, "--", "test", "-x", ancestor.path])) != nil { return requested }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in requested.standardizedFileURL.path.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let fallback = URL(
            fileURLWithPath: "/var/lib/calltrail/\(requested.lastPathComponent)-\(String(hash, radix: 16))")
        logger.notice(
            "the postgres user cannot enter the data folder, so the private PostgreSQL lives elsewhere",
            metadata: ["requested": "\(requested.path)", "using": "\(fallback.path)"])
        return fallback
    }

    /// nil when not root; else the user the server must run as.
    static func unprivilegedUser() throws -> String? {
        guard geteuid() == 0 else { return nil }
        guard getpwnam("postgres") != nil else {
            throw EventStoreError.setup(
                "running as root, and there is no postgres user to run PostgreSQL as: install Debian's postgresql package "
                    + "(apt-get install -y postgresql) or run CallTrail as an unprivileged user")
        }
        return "postgres"
    }

    /// Runs a program (through `runuser` when a user is given), returning its output or throwing with it.
    ///
    /// Spawned directly rather than with Foundation's `Process`: `pg_ctl start` leaves the server running with
    /// the handles it inherited, and `Process` then never sees its child finish.
    @discardableResult
    static func run(_ program: String, _ arguments: [String], as user: String? = nil) throws -> String {
        let argv = user.map { ["/usr/sbin/runuser", "-u", $0, "--", program] + arguments } ?? [program] + arguments
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent(
            "calltrail-\(UUID().uuidString).out"
        ).path
        defer { unlink(outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let cArguments = argv.map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, argv[0], &actions, nil, cArguments, environ)
        guard spawned == 0 else {
            throw EventStoreError.setup("could not start \(argv[0]): \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1, errno == EINTR {}
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let exited = status & 0x7f == 0
        let code = (status >> 8) & 0xff
        guard exited, code == 0 else {
            let how = exited ? "exited with \(code)" : "was killed by signal \(status & 0x7f)"
            throw EventStoreError.setup("\((program as NSString).lastPathComponent) \(how): \(text)")
        }
        return text
    }
}

/// The PostgreSQL server programs of the system.
struct PostgresBinaries {
    var initdb: String
    var pgCtl: String
    var psql: String

    /// Looks in `PG_BINDIR`, then Debian's `/usr/lib/postgresql/<version>/bin` (highest version first).
    static func find(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> PostgresBinaries {
        var candidates: [String] = []
        if let dir = environment["PG_BINDIR"], !dir.isEmpty { candidates.append(dir) }
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        candidates += versions.compactMap { Int($0) }.sorted(by: >).map { "\(root)/\($0)/bin" }
        candidates += ["/usr/local/pgsql/bin", "/usr/local/bin", "/usr/bin"]
        for dir in candidates
        where FileManager.default.isExecutableFile(atPath: "\(dir)/initdb")
            && FileManager.default.isExecutableFile(atPath: "\(dir)/pg_ctl")
        {
            let psql = FileManager.default.isExecutableFile(atPath: "\(dir)/psql") ? "\(dir)/psql" : "/usr/bin/psql"
            return PostgresBinaries(initdb: "\(dir)/initdb", pgCtl: "\(dir)/pg_ctl", psql: psql)
        }
        throw EventStoreError.setup(
            "no PostgreSQL server binaries found (looked for initdb and pg_ctl in \(candidates.joined(separator: ", "))). "
                + "Install them with: sudo apt-get install -y postgresql   (or point DATABASE_URL at a server, or PG_BINDIR at the binaries)"
        )
    }
}

extension EmbeddedPostgres {
    /// Runs `work` (a start, stop or check of the server, which waits for `initdb` or `pg_ctl` for up to seconds) on
    /// NIO's threads for blocking work. The methods above block their caller, which is right for a command that
    /// does nothing else meanwhile; a process that serves requests or holds AES links calls them through this, for a
    /// thread of Swift's cooperative pool that waits is one that no request, link or timer runs on (a 2-core machine
    /// has two, and a keep-alive that misses its deadline ends a healthy AES session).
    package static func offPool<Result: Sendable>(
        _ work: @escaping @Sendable () throws -> Result
    ) async throws -> Result {
        try await NIOThreadPool.singleton.runIfActive(work)
    }

    /// The database every command uses: `databaseURL` when given, else the private server under `dataDirectory`,
    /// started (the caller stops it through the returned object when it is done).
    package static func locate(
        databaseURL: String?, dataDirectory: String, logger: Logger
    ) throws -> (url: DatabaseURL, embedded: EmbeddedPostgres?) {
        if let databaseURL, !databaseURL.isEmpty { return (try DatabaseURL(databaseURL), nil) }
        let folder = usableDataDirectory(for: URL(fileURLWithPath: dataDirectory), logger: logger)
        let embedded = EmbeddedPostgres(dataDirectory: folder, logger: logger)
        return (try embedded.start(), embedded)
    }
}
