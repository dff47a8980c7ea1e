import CallModel
import EventStore
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import PostgresNIO
import Projections
import TSAPI
import TestSupport
import Testing

@testable import CallTrailServer

/// Feed retention (migration 0007) on a real PostgreSQL, as the app role: the oldest messages go as a prefix of
/// positions, and a subscriber asking for what went is told so instead of silently missing it.
struct FeedRetentionTests {
    @Test func theOldestMessagesGoAsAPrefixAndTheTrimPointIsKept() async throws {
        try await TestDatabase.with { database in
            try await database.withClient { pool in
                let store = PostgresJourneyStore(client: pool, logger: database.logger)
                let feed = PostgresFeedStore(client: pool, logger: database.logger)
                var (tracker, through) = try ScenarioFixtures.batch("c-consultative-transfer", from: 1)
                let messages = tracker.takeFeed()
                try await store.commit(
                    tracker.takeChanges(), feed: messages, through: through, clock: tracker.clock,
                    expected: try await store.checkpoint())
                let all = try await feed.page(after: 0, limit: 1_000)
                #expect(all.trimmedThrough == 0)
                #expect(all.messages.map(\.position) == Array(1...Int64(messages.count)))

                // The app role may not delete from the feed itself.
                do {
                    try await pool.query("DELETE FROM feed_messages WHERE position = 1", logger: database.logger)
                    Issue.record("the app role deleted a feed message")
                } catch let error as PSQLError {
                    #expect(error.serverInfo?[.sqlState] == "42501", "\(String(reflecting: error))")
                }

                // Trim before the time of a message in the middle: everything before it goes, nothing after.
                let middle = all.messages[all.messages.count / 2]
                let expected = all.messages.filter { $0.message.time < middle.message.time }.map(\.position).max() ?? 0
                #expect(expected > 0 && expected < Int64(messages.count))
                #expect(try await feed.trim(olderThan: middle.message.time, batch: 3) == expected)
                let head = try await feed.head()
                #expect(head.trimmedThrough == expected)
                #expect(head.position == Int64(messages.count))
                let rest = try await feed.page(after: 0, limit: 1_000)
                #expect(rest.trimmedThrough == expected)
                #expect(rest.messages.map(\.position) == Array((expected + 1)...Int64(messages.count)))
                #expect(try await feed.trim(olderThan: middle.message.time) == 0, "trimming again removes nothing")

                // The service's pass with a week's retention, a year later: all of it goes.
                let retention = FeedRetention(
                    store: feed, keep: .seconds(7 * 86_400), interval: .seconds(600), logger: database.logger)
                await retention.trimOnce(now: middle.message.time.addingTimeInterval(365 * 86_400))
                #expect(try await feed.head().trimmedThrough == Int64(messages.count))
                #expect(try await feed.page(after: 0, limit: 1_000).messages.isEmpty)
            }
        }
    }

    @Test func aSubscriberAskingForTrimmedMessagesIsToldWhereToResume() async throws {
        try await TestDatabase.with { database in
            let app = try await buildApplication(TestArguments(databaseURL: database.url.urlString))
            try await app.test(.live) { client in
                let port = try #require(client.port)
                try await AppHarness.post(client, try ScenarioFixtures.lines("c-consultative-transfer"))
                try await AppHarness.waitForProjection(client)
                let head = try await FeedHarness.feedHead(client, port: port)
                let trimmed = try await database.withClient { pool in
                    let feed = PostgresFeedStore(client: pool, logger: database.logger)
                    let messages = try await feed.page(after: 0, limit: 1_000).messages
                    return try await feed.trim(olderThan: messages[messages.count / 2].message.time)
                }
                #expect(trimmed > 0 && trimmed < head)

                let (error, closeCode) = try await FeedHarness.rawWebSocket(port: port, query: "after=1")
                #expect(error?["type"]?.string == "error")
                #expect(error?["field"]?.string == "after")
                #expect(
                    error?["message"]?.string?.contains("resume with after=\(trimmed)") == true,
                    "\(String(describing: error))")
                #expect(closeCode == 1008)

                let rest = try await FeedHarness.replay(port: port, query: "after=\(trimmed)", head: head)
                #expect(FeedHarness.positions(rest) == Array((trimmed + 1)...head))
            }
        }
    }
}
