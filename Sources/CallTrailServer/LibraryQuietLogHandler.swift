import Logging

/// The server's log handler: the one it was given, less PostgresNIO's own trace and debug lines.
///
/// Why: at those levels PostgresNIO logs every statement it sends, SQL and all, and the server's log must never hold
/// SQL (it may be shipped to people who should not read the schema, and a statement is the first thing an attacker
/// wants). CallTrail's own lines keep every level; PostgresNIO's warnings and errors still come through.
struct LibraryQuietLogHandler: LogHandler {
    var base: any LogHandler
    /// The modules (a log line's `source`) kept below `info`.
    static let quietSources: Set<String> = ["PostgresNIO", "_ConnectionPoolModule"]

    func log(event: LogEvent) {
        if event.level < .info, Self.quietSources.contains(event.source) { return }
        base.log(event: event)
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { base[metadataKey: key] }
        set { base[metadataKey: key] = newValue }
    }

    var metadata: Logger.Metadata {
        get { base.metadata }
        set { base.metadata = newValue }
    }

    var logLevel: Logger.Level {
        get { base.logLevel }
        set { base.logLevel = newValue }
    }
}
