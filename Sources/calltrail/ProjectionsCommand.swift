import ArgumentParser
import CommandSupport
import EventStore
import Foundation
import Logging
import PostgresNIO
import Projections

/// `calltrail projections`: operate the read models.
struct ProjectionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "projections",
        abstract: "Operate the journey read models.",
        subcommands: [Rebuild.self])

    struct Rebuild: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rebuild",
            abstract: "Replay the whole event store into fresh journey tables and swap them in; replay the user data.",
            discussion: """
                Safe while `calltrail serve` runs: the service keeps serving the old tables until the swap, then \
                its projector reloads from the new ones. Use it after a change to the journey rules, or to check \
                that the live tables equal a replay. Prints the events per second it reached.
                """)

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let logger = database.logger
            let (url, embedded, role, _) = try await database.prepare(logger: logger)
            defer { embedded?.stop() }
            let report = try await DatabaseBootstrap.withTemporaryClient(
                url, role: role, maximumConnections: 20, logger: logger
            ) { client in
                let rebuilder = ProjectionRebuilder(
                    store: PostgresJourneyStore(client: client, logger: logger), logger: logger)
                let report = try await rebuilder.run { position, head in
                    print("  replayed to position \(position) of \(head)")
                }
                let changes = try await PostgresUserDataStore(client: client, logger: logger).rebuild()
                print("rebuilt the user data from \(changes) changes")
                return report
            }
            print(
                String(
                    format: "rebuilt %d journeys from %d events (to position %lld) in %.1f s: %.0f events/s",
                    report.journeys, report.events, report.position, report.seconds, report.eventsPerSecond))
        }
    }
}
