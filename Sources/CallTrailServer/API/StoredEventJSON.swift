import EventStore
import TSAPI

/// Renders stored events as JSON: the event exactly as received, with CallTrail's facts about it (its
/// position, stream and flags) added at the front.
///
/// The body is spliced as text rather than decoded and re-encoded, so a read returns the bytes that were
/// stored. The added names (`position`, `ucid`, `streamVersion`, `storedAt`, `unknownType`) are reserved at the
/// top level of an event.
enum StoredEventJSON {
    static func render(_ event: StoredEvent) -> String {
        var text = "{\"position\":\(event.position),\"ucid\":\(JSONText.quote(event.ucid?.rawValue)),"
        text += "\"streamVersion\":\(JSONText.number(event.streamVersion)),"
        text += "\"storedAt\":\"\(Timestamp.format(event.storedAt))\",\"unknownType\":\(!event.isKnownType)"
        let rest = event.body.drop(while: { $0 != "{" }).dropFirst().drop(while: { $0.isWhitespace })
        text += rest.first == "}" ? "}" : "," + rest
        return text
    }

    static func render(_ events: [StoredEvent]) -> String {
        "[" + events.map(render).joined(separator: ",") + "]"
    }
}
