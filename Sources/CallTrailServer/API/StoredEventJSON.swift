import EventStore
import TSAPI

/// Renders stored events as JSON: the event exactly as received, with CallTrail's facts about it (its
/// position, stream and flags) added at the front.
///
/// The body is spliced as text rather than decoded and re-encoded, so a read returns the bytes that were
/// stored. The added names (`position`, `ucid`, `streamVersion`, `storedAt`, `unknownType`) are reserved at the
/// top level of an event. A source's own message, stored beside the event (an AES link's DMCC XML), comes last,
/// as the string `dmcc`.
enum StoredEventJSON {
    static func render(_ event: StoredEvent) -> String {
        var facts = JSONWriter(capacity: event.body.utf8.count + 128)
        // A link record stored before December 2026 holds its stream's UCID in its body (CallTrail wrote it so;
        // the log is never rewritten): the body's says it, once.
        let bodyHasUCID = event.type == EventType.ucidLinked.rawValue && event.body.contains("\"ucid\":")
        facts.object { o in
            o.add("position", number: event.position)
            if !bodyHasUCID { o.add("ucid", event.ucid?.rawValue) }
            o.add("streamVersion", number: event.streamVersion)
            o.add("storedAt", Timestamp.format(event.storedAt))
            o.add("unknownType", bool: !event.isKnownType)
        }
        // The facts' object reopened, and the body's members after them, as they were received.
        var text = facts.text
        text.removeLast()
        let rest = event.body.drop(while: { $0 != "{" }).dropFirst().drop(while: { $0.isWhitespace })
        text += rest.first == "}" ? "}" : "," + rest
        if let message = event.sourceMessage {
            while text.last?.isWhitespace == true { text.removeLast() }
            text.removeLast()
            text += ",\"dmcc\":" + JSONWriter.quote(message) + "}"
        }
        return text
    }

    static func render(_ events: [StoredEvent]) -> String {
        "[" + events.map(render).joined(separator: ",") + "]"
    }
}
