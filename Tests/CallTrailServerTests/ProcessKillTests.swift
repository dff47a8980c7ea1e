import EventStore
import Foundation
import PostgresNIO
import Synchronization
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Drill: `kill -9` of a serving `calltrail` process in the middle of ingest. Every batch it acknowledged is stored,
/// the log has no gap, a new process serves the same database at once, and sending every batch again stores
/// nothing twice.
struct ProcessKillTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The `calltrail` executable `swift test` built beside the tests.
    static var executable: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("calltrail")
    }

    /// Starts `calltrail serve` on a free port and waits until it answers `/health`.
    static func serve(_ database: TestDatabase, extra: [String] = []) async throws -> (Process, RawHTTP) {
        let port = try freePort()
        let process = Process()
        process.executableURL = executable
        process.arguments =
            [
                "serve", "--database-url", database.url.urlString, "--port", "\(port)", "--log-level", "error",
                "--migrations", packageRoot.appendingPathComponent("migrations").path,
            ] + extra
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let http = RawHTTP(port: port, timeout: 2)
        for _ in 0..<600 {
            if await onThread({ (try? http.exchange("GET", "/health"))?.status }) == 200 { return (process, http) }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.terminate()
        throw RawHTTP.Failure(description: "calltrail serve did not answer on port \(port)")
    }

    final class Flag: Sendable {
        let value = Atomic<Bool>(false)
    }

    static func batch(_ name: String, size: Int) -> [UInt8] {
        let events = (0..<size).map { index in
            #"{"id":"\#(name)-\#(index)","source":"drill","time":"2026-11-20T10:00:01.250Z","type":"CSTA_QUEUED","csta":{}}"#
        }
        return Array(("[" + events.joined(separator: ",") + "]").utf8)
    }

    @Test func killingAServingProcessMidIngestLosesNothingAcknowledged() async throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: Self.executable.path),
            "no calltrail executable at \(Self.executable.path)")
        try await TestDatabase.with { database in
            let (first, http) = try await Self.serve(database)
            let size = 20
            let stop = Flag()

            // Four clients post batches until the server is gone; each keeps the names of the batches it sent and of
            // those acknowledged.
            let posting = (0..<4).map { client in
                Task {
                    await onThread { () -> (sent: [String], acknowledged: [String]) in
                        var sent: [String] = []
                        var acknowledged: [String] = []
                        var number = 0
                        while !stop.value.load(ordering: .relaxed) {
                            let name = "k\(client)-\(number)"
                            number += 1
                            sent.append(name)
                            guard
                                let answer = try? http.exchange(
                                    "POST", "/v1/events", body: Self.batch(name, size: size))
                            else { break }
                            if answer.status == 200 { acknowledged.append(name) }
                        }
                        return (sent, acknowledged)
                    }
                }
            }
            try await Task.sleep(for: .milliseconds(1_500))
            kill(first.processIdentifier, SIGKILL)
            await first.exited()
            stop.value.store(true, ordering: .relaxed)
            var sent: [String] = []
            var acknowledged: [String] = []
            for task in posting {
                let result = await task.value
                sent += result.sent
                acknowledged += result.acknowledged
            }
            #expect(acknowledged.count > 10, "the clients got batches in before the kill")

            let (second, again) = try await Self.serve(database)
            // Every acknowledged event is stored; the log has no gap.
            let ids = acknowledged.flatMap { name in (0..<size).map { "\(name)-\($0)" } }
            let (found, events, last) = try await database.withClient(asOwner: true) { client in
                var found = 0
                for try await count in try await client.query(
                    "SELECT count(*)::int FROM event_bodies WHERE id = ANY(\(ids))"
                ).decode(Int.self) {
                    found = count
                }
                var events = 0
                var last: Int64 = 0
                for try await (count, head) in try await client.query(
                    "SELECT count(*)::int, coalesce(max(position), 0) FROM event_log"
                )
                .decode((Int, Int64).self) {
                    (events, last) = (count, head)
                }
                return (found, events, last)
            }
            #expect(found == ids.count, "every acknowledged event survived")
            #expect(Int64(events) == last, "positions 1...\(last) with no gap")

            // Sending everything again, as the clients would: what was stored is a duplicate, the rest goes in once.
            let acknowledgedSet = Set(acknowledged)
            for name in sent {
                let answer = await onThread {
                    try? again.exchange("POST", "/v1/events", body: Self.batch(name, size: size))
                }
                let body = try #require(answer, "resending \(name)")
                #expect(body.status == 200, "\(body.body)")
                if acknowledgedSet.contains(name) {
                    #expect(body.body.contains(#""duplicates":\#(size)"#), "\(name): \(body.body)")
                }
            }
            let total = try await database.withClient(asOwner: true) { client in
                var total = 0
                for try await count in try await client.query(
                    "SELECT count(*)::int FROM event_bodies WHERE source = 'drill'"
                ).decode(Int.self) {
                    total = count
                }
                return total
            }
            #expect(total == sent.count * size, "each event stored once")

            second.terminate()
            await second.exited()
            #expect(second.terminationStatus == 0, "SIGTERM stops the process gracefully")
        }
    }
}
