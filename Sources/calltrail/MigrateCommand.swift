import ArgumentParser
import CommandSupport
import EventStore
import Foundation
import Logging

/// `calltrail migrate`: bring the database to this build's schema and exit.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply the migrations this build has and the database lacks, then exit.",
        discussion: "Safe to run while other CallTrail processes start: an advisory lock makes them take turns.")

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let logger = database.logger
        let (url, embedded, _, migrations) = try await database.prepare(logger: logger)
        defer { embedded?.stop() }
        print("database \(url) is at migration \(migrations.last!.version) (\(migrations.last!.name))")
    }
}
