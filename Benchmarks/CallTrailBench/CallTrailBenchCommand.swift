import ArgumentParser

/// `calltrail-bench`: the benchmarks anyone can run from the repository, apart from the `calltrail` that ships.
/// Each one says what it measures and whether its target is met; `Benchmarks/README.md` has the current figures.
@main
struct CallTrailBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calltrail-bench",
        abstract:
            "CallTrail's benchmarks: build them in release mode (swift build -c release), then run .build/release/calltrail-bench ...",
        subcommands: [
            IngestBenchCommand.self, ProjectionsBenchCommand.self, UserDataBenchCommand.self, FeedBenchCommand.self,
            LinkBenchCommand.self,
        ])
}
