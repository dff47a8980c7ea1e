import EventStore
import Logging
import Synchronization
import TSAPI
import TestSupport
import Testing

/// The appender's saturation signal (pure logic: the store is a stand-in whose appends finish when the test says).
/// It must hold only while every lane writes, and through a lane that finishes one group and at once takes the next.
struct AppendSaturationTests {
    /// A store whose appends wait until released, in the order they began.
    final class GatedStore: EventStore {
        private let waiting = Mutex<[CheckedContinuation<Void, Never>]>([])

        var appendsWaiting: Int { waiting.withLock { $0.count } }

        func releaseOne() {
            let next = waiting.withLock { $0.isEmpty ? nil : $0.removeFirst() }
            next?.resume()
        }

        func append(_ batches: [[IncomingEvent]]) async throws -> [AppendResult] {
            await withCheckedContinuation { continuation in waiting.withLock { $0.append(continuation) } }
            return batches.map {
                AppendResult(accepted: $0.count, duplicates: 0, firstPosition: nil, lastPosition: nil)
            }
        }

        func read(after position: Int64, limit: Int) async throws -> [StoredEvent] { [] }
        func readStream(_ ucid: UCID) async throws -> [StoredEvent] { [] }
        func headPosition() async throws -> Int64 { 0 }
    }

    static func event(_ seq: Int64) -> [IncomingEvent] {
        var fixtures = EventFixtures(startSeq: seq)
        return EventFixtures.incoming([fixtures.delivered(seq, at: "5001", ucid: nil)])
    }

    static func waitUntil(_ condition: @Sendable () -> Bool) async throws {
        for _ in 0..<500 where !condition() { try await Task.sleep(for: .milliseconds(10)) }
        #expect(condition(), "the condition did not come true within 5 s")
    }

    @Test func heldWhileEveryLaneWritesAndThroughAHandOver() async throws {
        let store = GatedStore()
        let saturation = AppendSaturation()
        // One event per transaction, so each request is a group of its own.
        let appender = EventAppender(
            store: store, logger: .init(label: "test"), maxEventsPerTransaction: 1, lanes: 2, saturation: saturation)
        let running = Task { try await appender.run() }
        defer { running.cancel() }

        let first = Task { try await appender.append(Self.event(1)) }
        try await Self.waitUntil { store.appendsWaiting == 1 }
        #expect(!saturation.hasLasted(.zero), "one lane of two writes")

        let second = Task { try await appender.append(Self.event(2)) }
        let third = Task { try await appender.append(Self.event(3)) }
        try await Self.waitUntil { store.appendsWaiting == 2 }
        #expect(saturation.hasLasted(.zero), "both lanes write, a request waits")
        try await Task.sleep(for: .milliseconds(50))
        #expect(saturation.hasLasted(.milliseconds(50)))

        // A lane finishes and takes the waiting request at once: still saturated, and since the same moment.
        store.releaseOne()
        _ = try await first.value
        try await Self.waitUntil { store.appendsWaiting == 2 }
        #expect(saturation.hasLasted(.milliseconds(50)))

        // Nothing left to take: the lane that finishes next goes idle, and the burst is over.
        store.releaseOne()
        try await Self.waitUntil { store.appendsWaiting == 1 }
        try await Self.waitUntil { !saturation.hasLasted(.zero) }
        store.releaseOne()
        _ = try await second.value
        _ = try await third.value
        #expect(!saturation.hasLasted(.zero))
    }
}
