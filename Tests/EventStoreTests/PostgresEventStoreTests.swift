import EventStore
import Foundation
import Logging
import PostgresNIO
import TSAPI
import TestSupport
import Testing

/// The event store against a real PostgreSQL: each test gets its own migrated database.
struct PostgresEventStoreTests {
    let u1 = UCID(EventFixtures.u1)!
    let u2 = UCID(EventFixtures.u2)!

    /// Runs `body` with a store working as the app role, on a fresh database.
    func withStore(_ body: @Sendable (PostgresEventStore, TestDatabase) async throws -> Void) async throws {
        try await TestDatabase.with { database in
            try await database.withClient { client in
                try await body(PostgresEventStore(client: client, logger: database.logger), database)
            }
        }
    }

    @Test func appendsAndReadsBackExactly() async throws {
        try await withStore { store, _ in
            var f = EventFixtures()
            let texts = [
                f.delivered(1001, at: "7001", ucid: EventFixtures.u1, monitor: 101, toACD: true),
                f.queued(1001, monitor: 101),
            ]
            let results = try await store.append([EventFixtures.incoming(texts)])
            #expect(results == [AppendResult(accepted: 2, duplicates: 0, firstPosition: 1, lastPosition: 2)])

            let log = try await store.read(after: 0, limit: 10)
            #expect(log.map(\.position) == [1, 2])
            #expect(log.map(\.body) == texts, "bodies come back byte for byte")
            #expect(log.map(\.ucid) == [u1, u1])
            #expect(log.map(\.streamVersion) == [1, 2])
            #expect(log[0].id == "aes1-1")
            #expect(log[0].switchName == "cm1")
            #expect(log[0].monitor == 101)
            #expect(log[0].callID == 1001)
            #expect(log[0].type == "CSTA_DELIVERED")
            #expect(log[0].isKnownType)
            #expect(abs(log[1].time.timeIntervalSince(log[0].time) - 0.25) < 0.001)
            #expect(try await store.read(after: 1, limit: 10).map(\.position) == [2])
            #expect(try await store.read(after: 0, limit: 1).map(\.position) == [1])
            #expect(try await store.headPosition() == 2)
            #expect(try await store.readStream(u1).map(\.position) == [1, 2])
        }
    }

    @Test func resendingABatchStoresNothingNewAndCountsDuplicates() async throws {
        try await withStore { store, _ in
            var f = EventFixtures()
            let batch = EventFixtures.incoming([
                f.delivered(1001, at: "5001", ucid: EventFixtures.u1),
                f.established(1001, at: "5001", ucid: EventFixtures.u1),
            ])
            _ = try await store.append([batch])
            let again = try await store.append([batch])
            #expect(again == [AppendResult(accepted: 0, duplicates: 2, firstPosition: nil, lastPosition: nil)])

            // A batch mixing old and new events, and repeating one of its own.
            let next = EventFixtures.incoming([f.callCleared(1001)])
            let mixed = try await store.append([batch + next + next])
            #expect(mixed == [AppendResult(accepted: 1, duplicates: 3, firstPosition: 3, lastPosition: 3)])
            #expect(try await store.read(after: 0, limit: 100).count == 3)
            #expect(try await store.readStream(u1).map(\.streamVersion) == [1, 2, 3])
        }
    }

    @Test func severalBatchesInOneTransactionGetTheirOwnResults() async throws {
        try await withStore { store, _ in
            var f = EventFixtures()
            let first = EventFixtures.incoming([f.delivered(1001, at: "5001", ucid: EventFixtures.u1)])
            let second = EventFixtures.incoming([f.held(1001, at: "5001"), f.callCleared(1001)])
            let results = try await store.append([first, second, first])
            #expect(
                results == [
                    AppendResult(accepted: 1, duplicates: 0, firstPosition: 1, lastPosition: 1),
                    AppendResult(accepted: 2, duplicates: 0, firstPosition: 2, lastPosition: 3),
                    AppendResult(accepted: 0, duplicates: 1, firstPosition: nil, lastPosition: nil),
                ])
        }
    }

    /// Every way to rewrite history, on both tables an event is stored in.
    static let rewrites = [
        "UPDATE event_bodies SET type = 'X'", "DELETE FROM event_bodies", "TRUNCATE event_bodies CASCADE",
        "UPDATE event_log SET ucid = NULL, stream_version = NULL", "DELETE FROM event_log", "TRUNCATE event_log",
    ]

    @Test func theDatabaseRefusesUpdateAndDelete() async throws {
        try await withStore { store, database in
            var f = EventFixtures()
            _ = try await store.append([EventFixtures.incoming([f.delivered(1001, at: "5001", ucid: EventFixtures.u1)])]
            )
            #expect(database.role == "calltrail_app")

            // The app role lacks the privilege.
            try await database.withClient { client in
                for statement in Self.rewrites {
                    let error = await #expect(throws: PSQLError.self) {
                        try await client.query(PostgresQuery(unsafeSQL: statement))
                    }
                    #expect(error?.serverInfo?[.sqlState] == "42501", "\(statement) must be refused: permission denied")
                }
            }
            // The owner is stopped by the trigger.
            try await database.withClient(asOwner: true) { client in
                for statement in Self.rewrites {
                    let error = await #expect(throws: PSQLError.self) {
                        try await client.query(PostgresQuery(unsafeSQL: statement))
                    }
                    #expect(error?.serverInfo?[.message]?.contains("append-only") == true, "\(statement)")
                }
            }
            let after = try await store.read(after: 0, limit: 10)
            #expect(after.count == 1)
            #expect(after[0].type == "CSTA_DELIVERED")
        }
    }

    @Test func callIDReuseAfterCallClearedMapsToTheNewUCID() async throws {
        try await withStore { store, _ in
            var f = EventFixtures()
            _ = try await store.append([
                EventFixtures.incoming([
                    f.delivered(1001, at: "5001", ucid: EventFixtures.u1), f.held(1001, at: "5001"),
                    f.callCleared(1001),
                ])
            ])
            // A new call reuses 1001, in a later request.
            _ = try await store.append([
                EventFixtures.incoming([
                    f.delivered(1001, at: "5002", ucid: EventFixtures.u2), f.held(1001, at: "5002"),
                ])
            ])
            _ = try await store.append([
                EventFixtures.incoming([f.connectionCleared(1001, device: "5002"), f.callCleared(1001)])
            ])
            #expect(try await store.readStream(u1).map(\.position) == [1, 2, 3])
            #expect(try await store.readStream(u2).map(\.position) == [4, 5, 6, 7])
            #expect(
                try await store.readStream(u2).map(\.type) == [
                    "CSTA_DELIVERED", "CSTA_HELD", "CSTA_CONNECTION_CLEARED", "CSTA_CALL_CLEARED",
                ])
        }
    }

    @Test func aLateUCIDMakesEarlierEventsFindable() async throws {
        try await withStore { store, _ in
            var f = EventFixtures()
            // An outbound call seen first without a UCID (older private data), in its own request.
            let early = EventFixtures.incoming([
                f.originated(1010, at: "5001", called: "916135550199"), f.held(1010, at: "5001"),
            ])
            let stored = try await store.append([early])
            #expect(stored[0].accepted == 2)
            #expect(
                try await store.read(after: 0, limit: 10).map(\.ucid) == [nil, nil], "stored at once, without a stream")

            _ = try await store.append([
                EventFixtures.incoming([f.established(1010, at: "5001", ucid: EventFixtures.u2)])
            ])
            let stream = try await store.readStream(u2)
            #expect(stream.map(\.position) == [1, 2, 3, 4])
            #expect(
                stream.map(\.type) == ["CSTA_ORIGINATED", "CSTA_HELD", "CSTA_ESTABLISHED", "CALLTRAIL_UCID_LINKED"])
            let link = try #require(stream.last)
            #expect(link.ucid == u2)
            #expect(link.body.contains("\"positions\":[1,2]"))
            #expect(!link.body.contains("\"ucid\""), "the stream says the UCID: a read adds it once")
            // The original rows are unchanged: the link is a new event, not a rewrite.
            #expect(try await store.read(after: 0, limit: 2).map(\.ucid) == [nil, nil])
        }
    }

    @Test func unknownTypesAreStoredAndFlagged() async throws {
        try await withStore { store, _ in
            let events = EventFixtures.incoming([
                #"{"source":"aes1","seq":1,"time":"2026-11-20T10:00:00Z","type":"ATT_ROUTE_REQUEST","csta":[1,2,3]}"#
            ])
            #expect(try await store.append([events])[0].accepted == 1)
            let stored = try await store.read(after: 0, limit: 10)
            #expect(stored.map(\.isKnownType) == [false])
            #expect(stored[0].body.contains("[1,2,3]"))
        }
    }

    /// Bodies and times go in through COPY's text format, written a word at a time: white space and escapes
    /// in any position, before and after the first eight bytes, come back byte for byte, and times to the
    /// microsecond, before 1970 too.
    @Test func copyKeepsEveryByteAndMicrosecond() async throws {
        try await withStore { store, _ in
            let bodies = [
                "{\"type\":\"X\",\"note\":\"a\\\\b\"}",
                "{\r\n\t\"type\":\t\"X\",\n\"note\":\"tab\\tnew\\nline\\r\\\\\\\"\"\r\n}",
                "\t{\"type\":\"X\",\"note\":\"" + String(repeating: "é-long run without escapes ", count: 4)
                    + "\\\\\"}\n",
            ]
            let times = [
                Date(timeIntervalSince1970: 1_795_000_000.123_456), Date(timeIntervalSince1970: -946_684_799.999_999),
                Date(timeIntervalSince1970: 0.000_001),
            ]
            let events = zip(bodies, times).enumerated().map { index, pair in
                IncomingEvent(
                    id: "copy-\(index)", source: "aes1", switchName: "cm1", seq: Int64(index) - 1, time: pair.1,
                    monitor: nil, type: "X", eventType: nil, ucid: nil, callID: nil, rawJSON: pair.0)
            }
            #expect(try await store.append([events])[0].accepted == 3)
            let stored = try await store.read(after: 0, limit: 10)
            #expect(stored.map(\.body) == bodies)
            #expect(
                stored.map { Int64(($0.time.timeIntervalSince1970 * 1_000_000).rounded()) }
                    == times.map { Int64(($0.timeIntervalSince1970 * 1_000_000).rounded()) })
            #expect(stored.map(\.seq) == [-1, 0, 1])
            #expect(stored.map(\.monitor) == [nil, nil, nil])
        }
    }
}
