import ArgumentParser

/// The `calltrail` executable: a thin shell over `buildApplication` and the tools around it.
@main
struct CallTrailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calltrail",
        abstract: "Event-sourced call data for Avaya contact centers: stores every TSAPI event, keyed by UCID.",
        discussion: """
            Start with `calltrail serve`: with no DATABASE_URL it runs a private PostgreSQL under ./calltrail-data \
            (initdb on first run), applies the migrations and serves HTTP on 127.0.0.1:8080. Send events with \
            POST /v1/events and read them back with GET /v1/events or GET /v1/calls/{ucid}/events.
            """,
        subcommands: [
            ServeCommand.self, MigrateCommand.self, ProjectionsCommand.self, SimulateCommand.self, FeedCommand.self,
            TokensCommand.self,
        ]
    )
}
