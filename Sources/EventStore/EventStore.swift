import Foundation
import TSAPI

/// The append-only log of TSAPI events, keyed by UCID.
///
/// A protocol so the HTTP layer and the projections name what they need, not PostgreSQL; the one real
/// implementation is `PostgresEventStore`, and the tests exercise it against a real server.
package protocol EventStore: Sendable {
    /// Appends each batch all-or-nothing, in one transaction for all of them, and returns one result per batch.
    func append(_ batches: [[IncomingEvent]]) async throws -> [AppendResult]
    /// The global log after `position`, in position order.
    func read(after position: Int64, limit: Int) async throws -> [StoredEvent]
    /// Every event of a call: those stored under its UCID and those linked to it later, in position order.
    func readStream(_ ucid: UCID) async throws -> [StoredEvent]
    /// The last position handed out.
    func headPosition() async throws -> Int64
}

/// What an append reports to the client (the ingest envelope, docs/api.md).
package struct AppendResult: Sendable, Equatable, Codable {
    package var accepted: Int
    package var duplicates: Int
    /// The first and last positions of the events this batch stored; nil when it stored none.
    package var firstPosition: Int64?
    package var lastPosition: Int64?

    package init(accepted: Int, duplicates: Int, firstPosition: Int64?, lastPosition: Int64?) {
        self.accepted = accepted
        self.duplicates = duplicates
        self.firstPosition = firstPosition
        self.lastPosition = lastPosition
    }

    private enum CodingKeys: String, CodingKey { case accepted, duplicates, firstPosition, lastPosition }

    /// The positions are `null` when the batch stored nothing, rather than absent: a client reads the same members
    /// from every answer.
    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(accepted, forKey: .accepted)
        try c.encode(duplicates, forKey: .duplicates)
        try c.encode(firstPosition, forKey: .firstPosition)
        try c.encode(lastPosition, forKey: .lastPosition)
    }
}

/// One row of the log as the store returns it.
package struct StoredEvent: Sendable, Equatable {
    package var position: Int64
    package var id: String
    package var source: String
    package var switchName: String
    package var seq: Int64?
    package var monitor: Int64?
    package var type: String
    /// False for a type the contract does not name: stored, flagged, ignored by projections.
    package var isKnownType: Bool
    package var time: Date
    /// The stream the event was stored in; nil while its UCID is unknown (a link event attaches it later).
    package var ucid: UCID?
    package var streamVersion: Int?
    package var callID: Int64?
    /// The event's JSON exactly as received.
    package var body: String
    package var storedAt: Date
    /// The source's own message the event was made of, as it sent it (an AES link's DMCC XML); nil for an event
    /// that came as JSON.
    package var sourceMessage: String?

    package init(
        position: Int64, id: String, source: String, switchName: String, seq: Int64?, monitor: Int64?, type: String,
        isKnownType: Bool, time: Date, ucid: UCID?, streamVersion: Int?, callID: Int64?, body: String, storedAt: Date,
        sourceMessage: String? = nil
    ) {
        self.position = position
        self.id = id
        self.source = source
        self.switchName = switchName
        self.seq = seq
        self.monitor = monitor
        self.type = type
        self.isKnownType = isKnownType
        self.time = time
        self.ucid = ucid
        self.streamVersion = streamVersion
        self.callID = callID
        self.body = body
        self.storedAt = storedAt
        self.sourceMessage = sourceMessage
    }
}
