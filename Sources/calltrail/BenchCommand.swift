import ArgumentParser

/// `calltrail bench`: the benchmarks anyone can run from the repo.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks: run them with a release build (swift run -c release calltrail bench ...).",
        subcommands: [IngestBenchCommand.self, ProjectionsBenchCommand.self, UserDataBenchCommand.self, FeedBenchCommand.self])
}
