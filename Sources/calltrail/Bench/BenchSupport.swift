import EventStore
import Foundation
import Logging
import PostgresNIO

/// The machine a benchmark ran on, for its report: cores and CPU model.
func benchMachine() -> String {
    let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let model = info.split(separator: "\n").first { $0.hasPrefix("model name") }
        .map { $0.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "" }
    return "\(ProcessInfo.processInfo.activeProcessorCount) cores, \(model ?? "unknown CPU")"
}

/// A CHECKPOINT between phases, so that no phase pays for the previous one's dirty pages.
func benchCheckpoint(_ server: DatabaseURL, logger: Logger) async throws {
    do {
        try await DatabaseBootstrap.withTemporaryClient(server, logger: logger) { client in
            try await client.query("CHECKPOINT", logger: logger)
        }
    } catch {
        print("(no CHECKPOINT between phases: \(String(reflecting: error).prefix(80)))")
    }
}

/// The benchmarks' logger: warnings only, so the figures stay readable.
func benchLogger() -> Logger {
    var logger = Logger(label: "bench")
    logger.logLevel = .warning
    return logger
}
