import ArgumentParser
import CallTrailServer
import CommandSupport
import EventStore
import Foundation
import Logging
import PostgresNIO
import TSAPI

/// `calltrail tokens`: make, list and revoke API tokens. Works before the first `serve` (it migrates first).
struct TokensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens",
        abstract: "Make, list and revoke API tokens.",
        discussion: """
            Scopes: events:write, events:read, calls:read, journeys:read, userdata:read, userdata:write, feed, \
            admin (every scope). A new token's secret is printed once; only its SHA-256 digest is stored.
            """,
        subcommands: [Create.self, List.self, Revoke.self])

    /// Runs `body` with the token store of the database the options name, migrated first, and a way to record
    /// access events in its log.
    static func withStore<Result: Sendable>(
        _ database: DatabaseOptions,
        _ body:
            @Sendable (PostgresTokenStore, _ record: @Sendable (IncomingEvent) async -> Void) async throws ->
            Result
    ) async throws -> Result {
        let logger = database.logger
        let (url, embedded, role, _) = try await database.prepare(logger: logger)
        defer { embedded?.stop() }
        return try await DatabaseBootstrap.withTemporaryClient(url, role: role, logger: logger) { client in
            let events = PostgresEventStore(client: client, logger: logger)
            // The token's row is changed first; an event the database refuses then is a warning, not a failure of
            // the command (the change is made, and a made token's secret must still be printed).
            return try await body(PostgresTokenStore(client: client, logger: logger)) { event in
                do {
                    _ = try await events.append([[event]])
                } catch {
                    FileHandle.standardError.write(
                        Data(
                            "warning: the change is made, but its event was not recorded: \(LoggedError(error))\n".utf8)
                    )
                }
            }
        }
    }

    /// Who the log says made or revoked a token from the command line: the system user.
    static var agent: AccessEvent.Agent {
        .command(
            user: ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.environment["LOGNAME"]
                ?? "unknown")
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a token and print its secret (the only time it is shown).")

        @OptionGroup var database: DatabaseOptions
        @Option(help: "The token's name: who uses it (letters, digits, . _ -; at most 64).")
        var name: String
        @Option(name: .customLong("scope"), help: "A scope; repeat for several.")
        var scopes: [String]
        @Option(help: "How long the token lasts: 90d, 12h, 30m (never, if not given).")
        var expires: String?

        func validate() throws {
            guard APIToken.isValidName(name) else {
                throw ValidationError("--name must be 1 to 64 letters, digits, '.', '_' or '-'")
            }
            for scope in scopes where Scope(rawValue: scope) == nil {
                throw ValidationError(
                    "--scope \(scope) is not a scope; scopes: \(Scope.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            if let expires, Self.seconds(expires) == nil {
                throw ValidationError("--expires \(expires) is not a duration such as 90d, 12h or 30m")
            }
        }

        static func seconds(_ text: String) -> Double? {
            guard let unit = text.last, let count = Double(text.dropLast()), count > 0 else { return nil }
            switch unit {
            case "d": return count * 86_400
            case "h": return count * 3_600
            case "m": return count * 60
            default: return nil
            }
        }

        func run() async throws {
            let scopes = Set(self.scopes.compactMap(Scope.init(rawValue:)))
            let expiresAt = expires.flatMap(Self.seconds).map { Date().addingTimeInterval($0) }
            let name = self.name
            do {
                let secret = try await TokensCommand.withStore(database) { store, record in
                    let secret = try await store.create(name: name, scopes: scopes, expiresAt: expiresAt)
                    await record(
                        AccessEvent.tokenCreated(
                            name: name, scopes: scopes, expiresAt: expiresAt, by: TokensCommand.agent))
                    return secret
                }
                print(secret)
                FileHandle.standardError.write(
                    Data(
                        "token \(name) made; its secret above is shown only now. Send it as Authorization: Bearer\n"
                            .utf8))
            } catch PostgresTokenStore.Refusal.nameTaken {
                throw ValidationError("a token named \(name) exists; revoke it or choose another name")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the tokens (never their secrets).")

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let tokens = try await TokensCommand.withStore(database) { store, _ in try await store.all() }
            func date(_ date: Date?) -> String { date.map { Timestamp.format($0) } ?? "-" }
            print("NAME\tSCOPES\tCREATED\tLAST USED\tEXPIRES\tREVOKED")
            for token in tokens {
                let scopes = token.scopes.map(\.rawValue).sorted().joined(separator: ",")
                print(
                    "\(token.name)\t\(scopes)\t\(date(token.createdAt))\t\(date(token.lastUsedAt))\t"
                        + "\(date(token.expiresAt))\t\(date(token.revokedAt))")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a token: refused from then on (within a second by a running server).")

        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The token's name.")
        var name: String

        func run() async throws {
            let name = self.name
            let revoked = try await TokensCommand.withStore(database) { store, record in
                guard try await store.revoke(name: name) else { return false }
                await record(AccessEvent.tokenRevoked(name: name, by: TokensCommand.agent))
                return true
            }
            guard revoked else { throw ValidationError("no token named \(name) that is not revoked already") }
            print("token \(name) revoked")
        }
    }
}
