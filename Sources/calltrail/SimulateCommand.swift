import ArgumentParser
import Foundation
import NIOCore
import NIOHTTP1
import Simulator

/// `calltrail simulate`: a Communication Manager and its AES links, emitting TSAPI traffic to a running
/// CallTrail or to an NDJSON file.
struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Generate realistic TSAPI traffic: post it to CallTrail (--url) or write NDJSON (--output).",
        discussion: """
            Calls arrive as a Poisson process at --rate calls per simulated second; each plays a scenario drawn from \
            --mix (name=weight,...) with agents from a pool of --agents stations (5001…). Scenarios: \
            \(Scenario.allCases.map(\.rawValue).joined(separator: ", ")). The same --seed gives the same events.
            Examples:
              calltrail simulate --url http://127.0.0.1:8080 --rate 50 --duration 60
              calltrail simulate --url http://127.0.0.1:8080 --rate 2 --duration 600 --speed 1
              calltrail simulate --calls 100000 --output traffic.ndjson
              calltrail simulate --scenario c-consultative-transfer --calls 1 --output -
            """)

    @Option(help: "Calls per second of simulated time.")
    var rate: Double = 2

    @Option(help: "Stop new calls after this many simulated seconds (calls in progress finish).")
    var duration: Double?

    @Option(help: "Stop after this many calls.")
    var calls: Int?

    @Option(help: "Agent stations in the pool.")
    var agents: Int = 20

    @Option(help: "Scenario weights, e.g. a-inbound-answered=8,c-consultative-transfer=2 (default: a realistic mix).")
    var mix: String?

    @Option(help: "Only this scenario (same as --mix NAME=1).")
    var scenario: String?

    @Option(help: "Seed of the random generator.")
    var seed: UInt64 = 1

    @Option(help: "CallTrail to post to, e.g. http://127.0.0.1:8080.")
    var url: String?

    @Option(help: "NDJSON file to write, or - for standard output.")
    var output: String?

    @Option(
        help:
            "Simulated seconds per real second when posting: 1 is real time, 10 ten times faster; 0 (the default) posts as fast as CallTrail takes it."
    )
    var speed: Double = 0

    @Option(help: "Events per POST.")
    var batch: Int = 200

    func validate() throws {
        guard (url == nil) != (output == nil) else { throw ValidationError("give exactly one of --url and --output") }
        guard calls != nil || duration != nil else { throw ValidationError("give --calls or --duration") }
        guard rate > 0, agents >= 3, batch > 0, speed >= 0 else {
            throw ValidationError(
                "--rate must be positive, --agents at least 3, --batch positive, --speed not negative")
        }
        _ = try parsedMix()
    }

    func parsedMix() throws -> [(Scenario, Double)] {
        if let scenario {
            guard let chosen = Scenario(rawValue: scenario) else {
                throw ValidationError("unknown scenario \(scenario)")
            }
            return [(chosen, 1)]
        }
        guard let mix else { return Traffic.defaultMix }
        return try mix.split(separator: ",").map { item in
            let parts = item.split(separator: "=")
            guard parts.count == 2, let scenario = Scenario(rawValue: String(parts[0])), let weight = Double(parts[1]),
                weight >= 0
            else {
                throw ValidationError("--mix entry \"\(item)\" is not NAME=WEIGHT with a known scenario name")
            }
            return (scenario, weight)
        }
    }

    func run() async throws {
        var options = Traffic.Options()
        options.rate = rate
        options.calls = calls
        options.duration = duration
        options.agents = agents
        options.mix = try parsedMix()
        options.seed = seed
        var traffic = Traffic(options)
        var progress = Progress()
        if let output {
            try write(&traffic, to: output, progress: &progress)
        } else if let url {
            try await post(&traffic, to: url, progress: &progress)
        }
        progress.finish(calls: traffic.callsGenerated, events: traffic.eventsEmitted)
    }

    private func write(_ traffic: inout Traffic, to path: String, progress: inout Progress) throws {
        let handle: FileHandle
        if path == "-" {
            handle = .standardOutput
        } else {
            // Create the file only if it is missing: createFile replaces what is there (a device such as
            // /dev/null included) with a new regular file.
            if !FileManager.default.fileExists(atPath: path) {
                guard FileManager.default.createFile(atPath: path, contents: nil) else {
                    throw ValidationError("cannot create \(path)")
                }
            }
            handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            try? handle.truncate(atOffset: 0)
        }
        var buffer = ""
        buffer.reserveCapacity(1 << 20)
        while let line = traffic.next() {
            buffer += line
            buffer += "\n"
            if buffer.utf8.count > 1 << 20 {
                handle.write(Data(buffer.utf8))
                buffer.removeAll(keepingCapacity: true)
                progress.tick(calls: traffic.callsGenerated, events: traffic.eventsEmitted)
            }
        }
        handle.write(Data(buffer.utf8))
        if path != "-" { try handle.close() }
    }

    private func post(_ traffic: inout Traffic, to url: String, progress: inout Progress) async throws {
        let started = ContinuousClock.now
        let simulatedStart = traffic.clock
        let batch = self.batch, speed = self.speed
        var generator = traffic
        var meter = progress
        try await IngestConnection.with(url) { connection in
            var lines: [String] = []
            var exhausted = false
            while !exhausted {
                lines.removeAll(keepingCapacity: true)
                while lines.count < batch, let line = generator.next() { lines.append(line) }
                exhausted = lines.count < batch
                guard !lines.isEmpty else { break }
                if speed > 0 {
                    // Keep to the simulated clock: a batch leaves when its last event's time has come.
                    let due = generator.clock.timeIntervalSince(simulatedStart) / speed
                    let elapsed = (ContinuousClock.now - started).components
                    let wait = due - (Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18)
                    if wait > 0 { try await Task.sleep(for: .milliseconds(Int(wait * 1000))) }
                }
                let answer = try await connection.post(lines.joined(separator: "\n"))
                guard answer.status == 200 else {
                    throw ValidationError("CallTrail answered \(answer.status): \(answer.body)")
                }
                meter.tick(calls: generator.callsGenerated, events: generator.eventsEmitted)
            }
        }
        traffic = generator
        progress = meter
    }
}

/// A progress line on standard error, at most once a second.
struct Progress {
    let started = ContinuousClock.now
    var lastPrint = ContinuousClock.now

    private var seconds: Double {
        let elapsed = (ContinuousClock.now - started).components
        return Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
    }

    mutating func tick(calls: Int, events: Int) {
        guard ContinuousClock.now - lastPrint > .seconds(1) else { return }
        lastPrint = ContinuousClock.now
        FileHandle.standardError.write(
            Data("calls \(calls), events \(events), \(Int(Double(events) / max(seconds, 0.001))) events/s\n".utf8))
    }

    func finish(calls: Int, events: Int) {
        FileHandle.standardError.write(
            Data(
                "done: \(calls) calls, \(events) events in \(String(format: "%.1f", seconds)) s (\(Int(Double(events) / max(seconds, 0.001))) events/s)\n"
                    .utf8))
    }
}
