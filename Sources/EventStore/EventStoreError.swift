import Foundation

/// Every error the event store module throws, one type as postgres-nio has `PSQLError`: a `code` for callers that
/// act on the kind of failure, and a message that says what was wrong in an operator's terms. The HTTP edge maps
/// the codes once: `unavailable`, `timeout` and `shuttingDown` are `503` with `Retry-After` (the request was not
/// carried out and may be sent again as it is).
package struct EventStoreError: Error, Sendable, CustomStringConvertible {
    package enum Code: Sendable, Equatable {
        /// The database is away (an outage the process is riding out).
        case unavailable
        /// A database call got no answer within its bound.
        case timeout
        /// This process is shutting down and takes no more work.
        case shuttingDown
        /// The migrations cannot be loaded or applied.
        case migration
        /// The database to use cannot be set up: a bad `DATABASE_URL`, or the private PostgreSQL will not start.
        case setup
        /// The database is not in the shape CallTrail's migrations leave it.
        case schema
    }

    package let code: Code
    package let message: String
    /// For `unavailable`: since when the database has been away.
    package let since: Date?

    package init(_ code: Code, _ message: String, since: Date? = nil) {
        self.code = code
        self.message = message
        self.since = since
    }

    package var description: String { message }

    /// The database is away: a request gets `503` with `Retry-After`, and the work is tried again later.
    package static func unavailable(since: Date, reason: String) -> EventStoreError {
        EventStoreError(.unavailable, "the database is unavailable (\(reason)); retry shortly", since: since)
    }

    package static func timeout(after limit: Duration) -> EventStoreError {
        EventStoreError(.timeout, "the database did not answer within \(limit)")
    }

    package static func shuttingDown(_ what: String) -> EventStoreError {
        EventStoreError(
            .shuttingDown, "CallTrail is shutting down and takes no more \(what); retry against another instance")
    }

    static func migration(_ failure: MigrationFailure) -> EventStoreError {
        EventStoreError(.migration, failure.description)
    }

    static func setup(_ message: String) -> EventStoreError { EventStoreError(.setup, message) }

    package static func schema(_ message: String) -> EventStoreError { EventStoreError(.schema, message) }
}

/// Why migrating failed; the message names the file.
enum MigrationFailure: Sendable, CustomStringConvertible {
    case folderUnreadable(String)
    case badFileName(String)
    case duplicateVersion(Int, String, String)
    case changedAfterApply(String)
    case unknownApplied(Int, String)
    case statementFailed(String, Int, String)

    var description: String {
        switch self {
        case .folderUnreadable(let path): "cannot read migrations: \(path)"
        case .badFileName(let name): "migration file \(name) is not named NNNN_name.sql"
        case .duplicateVersion(let version, let first, let second):
            "migrations \(first) and \(second) share number \(version)"
        case .changedAfterApply(let name):
            "migration \(name) was changed after it was applied; released migrations are never edited: add a new file instead"
        case .unknownApplied(let version, let name):
            "the database has migration \(version) (\(name)) which this build does not know: it is newer than this CallTrail"
        case .statementFailed(let name, let index, let message): "migration \(name), statement \(index + 1): \(message)"
        }
    }
}
