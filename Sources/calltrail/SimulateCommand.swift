import AESSimulator
import ArgumentParser
import Foundation
import Logging
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
              calltrail simulate --dmcc-listen 127.0.0.1:4721 --rate 1 --duration 3600 --speed 1
            With --dmcc-listen it plays AES instead: CallTrail connects with a links file (links.example.yaml), \
            and once a link monitors its devices the traffic goes out as DMCC XML to the monitors it concerns.
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

    @Option(help: "Play AES: listen for DMCC links on HOST:PORT (e.g. 127.0.0.1:4721).")
    var dmccListen: String?

    @Option(help: "The user name the AES accepts (with --dmcc-listen).")
    var dmccUser: String = "calltrail"

    @Option(help: "The password the AES accepts (env CALLTRAIL_DMCC_PASSWORD).")
    var dmccPassword: String = ProcessInfo.processInfo.environment["CALLTRAIL_DMCC_PASSWORD"] ?? "calltrail"

    @Option(help: "PEM certificate chain: the AES listens with TLS (with --dmcc-key).")
    var dmccCert: String?

    @Option(help: "PEM private key of --dmcc-cert.")
    var dmccKey: String?

    @Option(help: "How the AES writes event XML: default, prefixed or versioned (default: each in turn).")
    var dmccStyle: String?

    func validate() throws {
        guard [url, output, dmccListen].compactMap({ $0 }).count == 1 else {
            throw ValidationError("give exactly one of --url, --output and --dmcc-listen")
        }
        if let dmccListen { _ = try Self.address(dmccListen) }
        guard (dmccCert == nil) == (dmccKey == nil) else {
            throw ValidationError("give --dmcc-cert and --dmcc-key together")
        }
        if let dmccStyle, DMCCEventWriter.Style(rawValue: dmccStyle) == nil {
            throw ValidationError("--dmcc-style must be default, prefixed or versioned")
        }
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
        } else if let dmccListen {
            try await playAES(&traffic, on: dmccListen, progress: &progress)
            return
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
        var lines: [String] = []
        var exhausted = false
        var reconnects = 0
        while !exhausted || !lines.isEmpty {
            do {
                try await IngestConnection.with(url) { connection in
                    while true {
                        if lines.isEmpty {
                            guard !exhausted else { return }
                            while lines.count < batch, let line = generator.next() { lines.append(line) }
                            exhausted = lines.count < batch
                            guard !lines.isEmpty else { return }
                            if speed > 0 {
                                // Keep to the simulated clock: a batch leaves when its last event's time has come.
                                let due = generator.clock.timeIntervalSince(simulatedStart) / speed
                                let elapsed = (ContinuousClock.now - started).components
                                let wait = due - (Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18)
                                if wait > 0 { try await Task.sleep(for: .milliseconds(Int(wait * 1000))) }
                            }
                        }
                        let body = lines.joined(separator: "\n")
                        let answer = try await connection.post(body)
                        guard answer.status == 200 else {
                            throw ValidationError("CallTrail answered \(answer.status): \(answer.body)")
                        }
                        lines.removeAll(keepingCapacity: true)
                        reconnects = 0
                        meter.tick(calls: generator.callsGenerated, events: generator.eventsEmitted)
                    }
                }
            } catch let error as IngestClientError where error.closed && reconnects < 5 {
                // The batch is sent again on a new connection; a batch stored twice counts as duplicates.
                reconnects += 1
                try await Task.sleep(for: .milliseconds(200 * reconnects))
            }
        }
        traffic = generator
        progress = meter
    }
}

extension SimulateCommand {
    static func address(_ text: String) throws -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        else { throw ValidationError("--dmcc-listen must be HOST:PORT, e.g. 127.0.0.1:4721; got \(text)") }
        return (String(text[..<colon]), port)
    }

    /// Plays AES: serves DMCC sessions and, once a link monitors devices, sends the traffic to their monitors;
    /// then keeps serving the links until interrupted.
    func playAES(_ traffic: inout Traffic, on address: String, progress: inout Progress) async throws {
        var options = AESSimulatorServer.Options()
        (options.host, options.port) = try Self.address(address)
        options.username = dmccUser
        options.password = dmccPassword
        options.certificateFile = dmccCert
        options.keyFile = dmccKey
        options.style = dmccStyle.flatMap(DMCCEventWriter.Style.init(rawValue:))
        options.sites = traffic.sites
        let server = try await AESSimulatorServer.start(options, logger: Logger(label: "aes-simulator"))
        FileHandle.standardError.write(
            Data(
                ("playing AES on \(dmccCert == nil ? "tcp" : "tls")://\(options.host):\(server.port) "
                    + "(user \(dmccUser)); waiting for a link to monitor its devices\n").utf8))
        while server.monitoredSites.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
        // Let every link that is connecting finish starting its monitors.
        try await Task.sleep(for: .seconds(1))
        let started = ContinuousClock.now
        let simulatedStart = traffic.clock
        while let event = traffic.nextSwitchEvent() {
            if speed > 0 {
                let due = event.time.timeIntervalSince(simulatedStart) / speed
                let elapsed = (ContinuousClock.now - started).components
                let wait = due - (Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18)
                if wait > 0 { try await Task.sleep(for: .milliseconds(Int(wait * 1000))) }
            }
            await server.send(event)
            progress.tick(calls: traffic.callsGenerated, events: server.eventsSent)
        }
        progress.finish(calls: traffic.callsGenerated, events: server.eventsSent)
        FileHandle.standardError.write(Data("the traffic is played; still serving the links (Ctrl-C ends)\n".utf8))
        while true { try await Task.sleep(for: .seconds(3600)) }
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
