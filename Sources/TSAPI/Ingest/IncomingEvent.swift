import Foundation

/// One event of an ingest batch: the envelope fields that route and identify it, and its JSON exactly as it
/// came, which is what the store keeps.
package struct IncomingEvent: Sendable, Equatable {
    /// Idempotency key: the given `id`, or `{source}-{seq}`.
    package var id: String
    package var source: String
    /// The Communication Manager; callIDs are unique per switch among live calls.
    package var switchName: String
    package var seq: Int64?
    package var time: Date
    package var monitor: Int64?
    /// The event name as sent.
    package var type: String
    /// nil when the name is not one the contract knows: such an event is stored and flagged.
    package var eventType: EventType?
    /// The UCID the event carries in its private data (`att.ucid`), if a valid one.
    package var ucid: UCID?
    /// The callID of the event's own connection (for Transferred/Conferenced, the primary old call).
    package var callID: Int64?
    /// For Transferred/Conferenced: the old calls merged away (primary, secondary), callID 0 dropped.
    package var oldCallIDs: [Int64]
    /// For Transferred/Conferenced: the surviving callID, read from the connection list.
    package var resultingCallID: Int64?
    /// Fields inside `csta`/`att` that were present but of a shape CallTrail could not read; counted, never
    /// rejected (the ingest envelope, docs/api.md).
    package var uninterpretedFields: [String]
    /// The event object's JSON text, byte for byte as received.
    package var rawJSON: String
    /// The source's own message the event was made of, exactly as the source sent it (an AES link's DMCC XML),
    /// stored beside the event; nil for an event that came as JSON.
    package var sourceMessage: String?

    package init(
        id: String, source: String, switchName: String, seq: Int64?, time: Date, monitor: Int64?, type: String,
        eventType: EventType?, ucid: UCID?, callID: Int64?, oldCallIDs: [Int64] = [], resultingCallID: Int64? = nil,
        uninterpretedFields: [String] = [], rawJSON: String, sourceMessage: String? = nil
    ) {
        self.id = id
        self.source = source
        self.switchName = switchName
        self.seq = seq
        self.time = time
        self.monitor = monitor
        self.type = type
        self.eventType = eventType
        self.ucid = ucid
        self.callID = callID
        self.oldCallIDs = oldCallIDs
        self.resultingCallID = resultingCallID
        self.uninterpretedFields = uninterpretedFields
        self.rawJSON = rawJSON
        self.sourceMessage = sourceMessage
    }
}
