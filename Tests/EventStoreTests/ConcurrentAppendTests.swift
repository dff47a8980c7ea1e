import EventStore
import Foundation
import Logging
import ServiceLifecycle
import TSAPI
import TestSupport
import Testing

/// Gapless, commit-ordered positions under concurrent writers (event-store-lessons §2.1): a reader that polls
/// while 8 clients write sees every position exactly once, in order, and nothing is lost or doubled.
struct ConcurrentAppendTests {
    static let writers = 8
    static let batchesPerWriter = 25
    static let callsPerBatch = 4

    /// Each writer's batches: whole calls (Delivered, Established, CallCleared), on its own source and callIDs.
    static func batches(writer: Int) -> [[IncomingEvent]] {
        var f = EventFixtures(source: "aes\(writer)", switchName: "cm1")
        return (0..<batchesPerWriter).map { batch in
            EventFixtures.incoming(
                (0..<callsPerBatch).flatMap { call -> [String] in
                    let callID = Int64(1 + writer * 10_000 + batch * 10 + call)
                    let ucid = UCID(node: writer + 1, sequence: batch * 10 + call + 1, time: 1_795_000_000).rawValue
                    return [
                        f.delivered(callID, at: "5001", ucid: ucid), f.held(callID, at: "5001"), f.callCleared(callID),
                    ]
                })
        }
    }

    static var total: Int { writers * batchesPerWriter * callsPerBatch * 3 }

    /// Polls the log from a checkpoint, as a projection or feed would, until it has seen `total` events.
    static func pollEverything(_ store: some EventStore) async throws -> [Int64] {
        var seen: [Int64] = []
        var after: Int64 = 0
        let deadline = ContinuousClock.now + .seconds(120)
        while seen.count < total, ContinuousClock.now < deadline {
            let page = try await store.read(after: after, limit: 97)
            seen += page.map(\.position)
            after = page.last?.position ?? after
            if page.isEmpty { try await Task.sleep(for: .milliseconds(2)) }
        }
        return seen
    }

    static func checkLog(_ store: some EventStore, seenByPoller: [Int64]) async throws {
        #expect(seenByPoller == Array(1...Int64(total)), "the poller saw every position exactly once, in order")
        var all: [StoredEvent] = []
        var after: Int64 = 0
        while true {
            let page = try await store.read(after: after, limit: 1000)
            guard let last = page.last else { break }
            all += page
            after = last.position
        }
        #expect(all.count == total, "no loss")
        #expect(Set(all.map(\.id)).count == total, "no duplicate")
        #expect(all.allSatisfy { $0.ucid != nil }, "every event resolved to its call's UCID")
        #expect(try await store.headPosition() == Int64(total))
    }

    @Test func eightConcurrentWritersLeaveNoGapNoDuplicateNoLoss() async throws {
        try await TestDatabase.with { database in
            try await database.withClient { client in
                let store = PostgresEventStore(client: client, logger: database.logger)
                let seen = try await withThrowingTaskGroup(of: [Int64]?.self) { group in
                    group.addTask { try await Self.pollEverything(store) }
                    for writer in 0..<Self.writers {
                        group.addTask {
                            for batch in Self.batches(writer: writer) {
                                let result = try await store.append([batch])
                                #expect(result[0].accepted == batch.count)
                            }
                            return nil
                        }
                    }
                    var seen: [Int64] = []
                    for try await result in group { if let result { seen = result } }
                    return seen
                }
                try await Self.checkLog(store, seenByPoller: seen)
            }
        }
    }

    @Test func theAppenderGroupsConcurrentRequestsWithoutMixingThem() async throws {
        try await TestDatabase.with { database in
            try await database.withClient { client in
                let store = PostgresEventStore(client: client, logger: database.logger)
                let appender = EventAppender(store: store, logger: database.logger)
                let group = ServiceGroup(services: [appender], gracefulShutdownSignals: [], logger: database.logger)
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    tasks.addTask { try await group.run() }
                    let seen = try await withThrowingTaskGroup(of: [Int64]?.self) { clients in
                        clients.addTask { try await Self.pollEverything(store) }
                        for writer in 0..<Self.writers {
                            clients.addTask {
                                for batch in Self.batches(writer: writer) {
                                    let result = try await appender.append(batch)
                                    #expect(result.accepted == batch.count)
                                    let first = try #require(result.firstPosition)
                                    #expect(
                                        result.lastPosition == first + Int64(batch.count) - 1,
                                        "a request's events are contiguous")
                                }
                                return nil
                            }
                        }
                        var seen: [Int64] = []
                        for try await result in clients { if let result { seen = result } }
                        return seen
                    }
                    try await Self.checkLog(store, seenByPoller: seen)
                    await group.triggerGracefulShutdown()
                    try await tasks.waitForAll()
                }
            }
        }
    }
}

/// Resends racing each other: several clients send overlapping batches, in opposite orders, at once. Each
/// event is stored once, every request succeeds, and the duplicates are counted.
struct ConcurrentResendTests {
    @Test func overlappingResendsInOppositeOrdersAllSucceed() async throws {
        try await TestDatabase.with { database in
            try await database.withClient { client in
                let store = PostgresEventStore(client: client, logger: database.logger)
                var f = EventFixtures()
                let events = EventFixtures.incoming(
                    (0..<40).flatMap { call -> [String] in
                        let callID = Int64(2000 + call)
                        let ucid = UCID(node: 9, sequence: call + 1, time: 1_795_000_000).rawValue
                        return [f.delivered(callID, at: "5001", ucid: ucid), f.held(callID, at: "5001")]
                    })
                let results = try await withThrowingTaskGroup(of: AppendResult.self) { group in
                    for client in 0..<6 {
                        let batch = client % 2 == 0 ? events : events.reversed()
                        group.addTask { try await store.append([Array(batch)])[0] }
                    }
                    var results: [AppendResult] = []
                    for try await result in group { results.append(result) }
                    return results
                }
                #expect(results.reduce(0) { $0 + $1.accepted } == events.count, "every event stored exactly once")
                #expect(results.reduce(0) { $0 + $1.duplicates } == events.count * 5)
                let stored = try await store.read(after: 0, limit: 1000)
                // A reversed batch that wins the race stores each Held before its call's UCID is known, and links it.
                let received = stored.filter { $0.type != EventType.ucidLinked.rawValue }
                #expect(received.count == events.count)
                #expect(Set(received.map(\.id)).count == events.count)
                #expect(stored.map(\.position) == Array(1...Int64(stored.count)), "gapless")
                #expect(stored.allSatisfy { $0.ucid != nil || $0.type == "CSTA_HELD" })
            }
        }
    }
}
