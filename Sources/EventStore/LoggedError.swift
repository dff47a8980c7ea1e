import PostgresNIO

/// An error as a log line or an answer may show it: what went wrong, never the SQL, a file path, a password or a
/// stack trace.
///
/// Why: PostgresNIO's full description of an error holds the query and the source file that sent it, and
/// Foundation's file errors name the file. An operator needs the kind of failure and the server's own message
/// (`42P01 relation "x" does not exist`); the rest stays out of logs that may be shipped elsewhere.
package struct LoggedError: CustomStringConvertible, Sendable {
    package let description: String

    package init(_ error: any Error) {
        if let error = error as? PSQLError {
            var text = "database error \(error.code)"
            if let info = error.serverInfo {
                text += ": " + [info[.sqlState], info[.message]].compactMap { $0 }.joined(separator: " ")
            }
            if let underlying = error.underlying { text += " (\(LoggedError(underlying)))" }
            description = text
        } else {
            description = Self.masked(String(describing: error))
        }
    }

    /// The text with file paths and URL passwords replaced.
    package static func masked(_ text: String) -> String {
        text.replacing(#/://([^:/@\s]+):[^@\s/]+@/#) { "://\($0.output.1):***@" }
            .replacing(#/(/[A-Za-z0-9._~\-]+){2,}/?/#, with: "<path>")
    }
}
