import Foundation
import PostgresNIO

/// Where the database is: a `postgres://user:password@host:port/database` URL (`DATABASE_URL`), or a Unix
/// socket folder (`postgres://user@/database?host=/path/to/folder`, the libpq form the embedded server uses).
package struct DatabaseURL: Sendable, Hashable, CustomStringConvertible {
    package var username: String
    package var password: String?
    package var host: String?
    package var port: Int
    package var socketDirectory: String?
    package var database: String
    /// `sslmode=require|verify-full` asks for TLS; otherwise none (the embedded server listens only locally).
    package var requireTLS: Bool

    package init(
        username: String, password: String? = nil, host: String? = nil, port: Int = 5432,
        socketDirectory: String? = nil,
        database: String, requireTLS: Bool = false
    ) {
        self.username = username
        self.password = password
        self.host = host
        self.port = port
        self.socketDirectory = socketDirectory
        self.database = database
        self.requireTLS = requireTLS
    }

    package init(_ text: String) throws(EventStoreError) {
        guard let components = URLComponents(string: text), let scheme = components.scheme,
            scheme == "postgres" || scheme == "postgresql"
        else {
            throw EventStoreError.setup("DATABASE_URL is not usable: it must start with postgres:// or postgresql://")
        }
        let query = Dictionary(
            (components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        self.username =
            components.percentEncodedUser.flatMap { $0.removingPercentEncoding } ?? query["user"] ?? "postgres"
        self.password = components.percentEncodedPassword.flatMap { $0.removingPercentEncoding } ?? query["password"]
        let host = components.percentEncodedHost.flatMap { $0.removingPercentEncoding }.flatMap {
            $0.isEmpty ? nil : $0
        }
        if let socket = query["host"], socket.hasPrefix("/") {
            self.socketDirectory = socket
            self.host = nil
        } else {
            self.socketDirectory = nil
            self.host = host ?? query["host"] ?? "localhost"
        }
        self.port = components.port ?? query["port"].flatMap { Int($0) } ?? 5432
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        self.database = path.isEmpty ? (query["dbname"] ?? self.username) : path
        self.requireTLS = ["require", "verify-ca", "verify-full"].contains(query["sslmode"] ?? "")
    }

    /// The same server, another database (tests give each case its own).
    package func with(database: String) -> DatabaseURL {
        var copy = self
        copy.database = database
        return copy
    }

    package func with(username: String, password: String?) -> DatabaseURL {
        var copy = self
        copy.username = username
        copy.password = password
        return copy
    }

    /// The client configuration; `role` makes every connection of the pool work as that role (`SET ROLE` at
    /// startup), which is how the service gives up the privileges it must not have.
    package func clientConfiguration(role: String? = nil, maximumConnections: Int = 20) -> PostgresClient.Configuration
    {
        var configuration: PostgresClient.Configuration
        if let socketDirectory {
            configuration = .init(
                unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)", username: username, password: password,
                database: database)
        } else {
            configuration = .init(
                host: host ?? "localhost", port: port, username: username, password: password, database: database,
                tls: requireTLS ? .require(.makeClientConfiguration()) : .disable)
        }
        // The append's gapless positions rely on READ COMMITTED (a fresh snapshot after the log-head lock), whatever
        // the server's default.
        // JIT off: PostgreSQL compiles a query it estimates costly with LLVM before running it, tens of
        // milliseconds that CallTrail's statements (a batch's rows, a page of a search) never win back.
        var options = "-c default_transaction_isolation=read\\ committed -c jit=off"
        if let role { options += " -c role=\(role)" }
        configuration.options.additionalStartupParameters = [("options", options)]
        configuration.options.maximumConnections = maximumConnections
        // The pool arms a keep-alive timer (and, above the minimum, an idle timer) each time a connection goes back
        // to it, and a cancelled timer keeps its task and dispatch source until its deadline. With the library's
        // 30 s and 60 s, the pool of a server taking 2,000 events/s held some 37,000 of them (16 MB). Short
        // deadlines keep that to a few thousand; 5 s is still far shorter than any firewall's idle cut.
        // Even so, arming and cancelling them took about a quarter of the server's CPU at 2,000 user-data GETs a
        // second (`bench userdata`). A Unix socket has no firewall or NAT in between to drop an idle connection,
        // so there the pings are pure cost and are left out.
        // No connections are kept open as a minimum, though those would never arm an idle timer: PostgresNIO 1.33's
        // pool traps (a precondition in its state machine) when a request comes while fewer than the minimum are
        // open, which is just what a database restart leaves behind. A restart must not take CallTrail down.
        configuration.options.keepAliveBehavior = socketDirectory == nil ? .init(frequency: .seconds(5)) : nil
        configuration.options.minimumConnections = 0
        configuration.options.connectionIdleTimeout = .seconds(10)
        return configuration
    }

    /// The URL without the password, for logs.
    package var description: String {
        let server = socketDirectory.map { "?host=\($0)&port=\(port)" } ?? ""
        let authority = socketDirectory == nil ? "\(host ?? "localhost"):\(port)" : ""
        return "postgres://\(username)@\(authority)/\(database)\(server)"
    }

    /// The URL as text, password included, in the form `init(_:)` reads back.
    package var urlString: String {
        let credentials =
            username.addingPercentEncoding(withAllowedCharacters: .urlUserAllowed)!
            + (password.map { ":" + $0.addingPercentEncoding(withAllowedCharacters: .urlPasswordAllowed)! } ?? "")
        if let socketDirectory {
            return "postgres://\(credentials)@/\(database)?host=\(socketDirectory)&port=\(port)"
        }
        return
            "postgres://\(credentials)@\(host ?? "localhost"):\(port)/\(database)\(requireTLS ? "?sslmode=require" : "")"
    }

    /// A libpq connection string for psql.
    package var psqlArguments: [String] {
        ["-h", socketDirectory ?? host ?? "localhost", "-p", "\(port)", "-U", username, database]
    }
}
