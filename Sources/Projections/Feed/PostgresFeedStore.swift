import CallModel
import Foundation
import Logging
import PostgresNIO
import TSAPI

/// The feed's messages in PostgreSQL (migrations/0005_feed.sql): the projector appends them with the journeys;
/// every process's feed reads them by position.
package struct PostgresFeedStore: Sendable {
    /// The NOTIFY channel a commit of new messages wakes; the payload is the last position.
    package static let channel = "calltrail_feed"

    let client: PostgresClient
    let logger: Logger

    package init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Where the feed stands: its last position, the last event whose messages it holds, and how far its oldest
    /// messages were removed (`trim`).
    package struct Head: Sendable, Equatable {
        package var position: Int64
        package var eventPosition: Int64
        package var trimmedThrough: Int64
    }

    package func head() async throws -> Head {
        let rows = try await client.query(
            "SELECT position, event_position, trimmed_through FROM feed_head", logger: logger)
        for try await (position, eventPosition, trimmed) in rows.decode((Int64, Int64, Int64).self) {
            return Head(position: position, eventPosition: eventPosition, trimmedThrough: trimmed)
        }
        throw ProjectionsError.schema("feed_head has no row: the database was not migrated by CallTrail")
    }

    /// Messages after a position, and how far the feed was trimmed when they were read (in one snapshot): when
    /// `trimmedThrough` is past the position asked for, messages after it are gone and the page does not start
    /// where the reader stands.
    package struct Page: Sendable {
        package var trimmedThrough: Int64
        package var messages: [(position: Int64, message: FeedMessage)]
    }

    /// Messages after `position`, in order, at most `limit`, with the trim point they were read at.
    package func page(after position: Int64, limit: Int) async throws -> Page {
        var page = Page(trimmedThrough: 0, messages: [])
        for try await (trimmed, at, body) in try await client.execute(
            PageAfter(after: position, limit: Int64(limit)), logger: logger)
        {
            page.trimmedThrough = trimmed
            guard let at, let body, let message = stored(body, at: at) else { continue }
            page.messages.append((at, message))
        }
        return page
    }

    /// `page`'s statement, prepared: every dispatch of the feed reads one.
    struct PageAfter: RowsAfterStatement {
        static let sql = """
            SELECT h.trimmed_through, m.position, m.body FROM feed_head h
            LEFT JOIN LATERAL (
                SELECT position, body FROM feed_messages WHERE position > $1 ORDER BY position LIMIT $2
            ) m ON true
            """
        var after: Int64
        var limit: Int64

        func decodeRow(_ row: PostgresRow) throws -> (Int64, Int64?, String?) {
            try row.decode((Int64, Int64?, String?).self)
        }
    }

    /// Removes the messages whose time is before `olderThan`, oldest first, `batch` at a time (each batch its own
    /// transaction, so the projector's commits never wait long); returns how many it removed.
    @discardableResult
    package func trim(olderThan cutoff: Date, batch: Int = 10_000) async throws -> Int64 {
        var removed: Int64 = 0
        while true {
            var step: Int64 = 0
            let rows = try await client.query("SELECT calltrail_trim_feed(\(cutoff), \(Int32(batch)))", logger: logger)
            for try await count in rows.decode(Int64.self) { step = count }
            removed += step
            if step < batch { return removed }
        }
    }

    /// The last message of `kind` at `device`.
    package func latest(
        _ kind: FeedMessage.Kind, device: String
    ) async throws -> (position: Int64, message: FeedMessage)? {
        try await decode(
            client.query(
                """
                SELECT position, body FROM feed_messages WHERE device = \(device) AND kind = \(kind.rawValue)
                ORDER BY position DESC LIMIT 1
                """, logger: logger)
        ).first
    }

    private func decode(_ rows: PostgresRowSequence) async throws -> [(position: Int64, message: FeedMessage)] {
        var messages: [(Int64, FeedMessage)] = []
        for try await (position, body) in rows.decode((Int64, String).self) {
            if let message = stored(body, at: position) { messages.append((position, message)) }
        }
        return messages
    }

    /// A stored message read back; nil (and logged) for a body that is not one.
    private func stored(_ body: String, at position: Int64) -> FeedMessage? {
        guard let message = FeedMessage(storedJSON: body) else {
            logger.error("unreadable feed message", metadata: ["position": "\(position)"])
            return nil
        }
        return message
    }
}

/// Feed messages as column arrays, as the projector's commit and a rebuild's stage bind them (the columns of
/// `calltrail_append_feed`, migrations/0005_feed.sql).
struct FeedRows {
    var eventPositions: [Int64] = []
    var kinds: [String] = []
    var devices: [String] = []
    /// Empty for none (client arrays cannot hold NULL).
    var ucids: [String] = []
    var journeyIDs: [String] = []
    var times: [Date] = []
    var bodies: [String] = []

    init(_ messages: [FeedMessage]) {
        for message in messages {
            eventPositions.append(message.eventPosition)
            kinds.append(message.kind.rawValue)
            devices.append(message.device)
            ucids.append(message.ucid?.rawValue ?? "")
            journeyIDs.append(message.journeyID)
            times.append(message.time)
            bodies.append(message.storedJSON)
        }
    }
}
