import Foundation
import TSAPI
import Testing

/// Envelope JSON for the ingest parser tests (the ingest envelope, docs/api.md), built by hand so each test shows exactly the
/// bytes it sends.
enum Envelope {
    static let time = "2026-11-20T10:00:01.250Z"
    /// `time` in whole microseconds since 1970.
    static let timeMicros: Int64 = 1_795_168_801_250_000

    /// One event; `csta`, `att` and `extra` are JSON text spliced in as they are.
    static func event(
        _ type: String = "CSTA_DELIVERED", source: String = "aes1", seq: Int = 1, csta: String? = nil,
        att: String? = nil, extra: String? = nil
    ) -> String {
        var members = [#""source":"\#(source)""#, #""seq":\#(seq)"#, #""time":"\#(time)""#, #""type":"\#(type)""#]
        if let csta { members.append(#""csta":\#(csta)"#) }
        if let att { members.append(#""att":\#(att)"#) }
        if let extra { members.append(extra) }
        return "{" + members.joined(separator: ",") + "}"
    }

    /// A `ConnectionID_t` object.
    static func connection(_ callID: Int64, _ device: String = "5001") -> String {
        #"{"callID":\#(callID),"deviceID":"\#(device)","devIDType":"STATIC_ID"}"#
    }
}

/// Parses text as a request body.
func parseBatch(_ text: String) throws(TSAPIError) -> [IncomingEvent] {
    try IngestBatchParser.parse(Array(text.utf8))
}

/// Parses a body that must hold exactly one event.
func parseSingle(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> IncomingEvent {
    let events = try parseBatch(text)
    try #require(events.count == 1, sourceLocation: sourceLocation)
    return events[0]
}

/// The error a body is refused with, or nil when it parses.
func ingestError(_ text: String) -> TSAPIError? {
    do {
        _ = try parseBatch(text)
        return nil
    } catch {
        return error
    }
}
