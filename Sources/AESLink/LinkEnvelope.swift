import DMCC
import Foundation
import TSAPI

/// The envelopes a link stores: each DMCC event as the TSAPI event it is, and `LINK_UP` / `LINK_DOWN` for every
/// start, loss and recovery of the link, so a journey that spans a gap can say so. The XML of an event is stored
/// beside its envelope, as AES sent it (`IncomingEvent.sourceMessage`), never inside it as an escaped string.
package enum LinkEnvelope {
    /// One event. `time` is when CallTrail received it: DMCC events carry no time.
    package static func event(_ event: DMCCEvent, link: LinkConfiguration, seq: Int64, time: Date) -> String {
        JSONWriter.object(capacity: event.csta.utf8.count + (event.att?.utf8.count ?? 0) + 256) { e in
            e.add("source", link.name)
            e.add("switch", link.switchID)
            e.add("seq", number: seq)
            e.add("time", Timestamp.format(time, fractionDigits: 6))
            e.add("type", event.type)
            // A crossRefID that is not a number stays in the XML: the envelope's `monitor` is a number.
            if let monitor = Int64(event.monitor) { e.add("monitor", number: monitor) }
            e.add("csta", json: event.csta)
            if let att = event.att { e.add("att", json: att) }
        }
    }

    /// An envelope the ingest parser refused (a bug of the mapping), kept as an event of an unknown type with its
    /// seq (and its XML beside it, as every event's), so the link's seqs stay without a gap and nothing AES sent is
    /// lost.
    static func unreadable(_ envelope: String, link: LinkConfiguration) -> String {
        let tree = try? JSONTree(parsing: envelope)
        return JSONWriter.object { e in
            e.add("source", link.name)
            e.add("switch", link.switchID)
            e.add("seq", number: tree?["seq"]?.integer ?? 0)
            e.add("time", tree?["time"]?.string ?? Timestamp.format(Date()))
            e.add("type", "DMCC_UNREADABLE")
        }
    }

    /// Why a link went down, in words for people and a code for programs.
    enum DownCode: String {
        /// The socket was lost.
        case closed
        /// The process is stopping.
        case shutdown
        /// Anything else: a malformed frame, a request AES never answered.
        case error
    }

    static func linkUp(link: LinkConfiguration, seq: Int64, time: Date, sessionID: String) -> String {
        record("LINK_UP", link: link, seq: seq, time: time) { l in
            l.add("aes", link.url.description)
            l.add("sessionID", sessionID)
            l.add("reason", "session started")
            l.add("resumed", bool: false)
        }
    }

    static func linkDown(
        link: LinkConfiguration, seq: Int64, time: Date, sessionID: String?, code: DownCode, reason: String
    ) -> String {
        record("LINK_DOWN", link: link, seq: seq, time: time) { l in
            l.add("aes", link.url.description)
            l.add("sessionID", sessionID)
            l.add("reason", reason)
            l.add("code", code.rawValue)
            l.add("resumed", bool: false)
        }
    }

    private static func record(
        _ type: String, link: LinkConfiguration, seq: Int64, time: Date, _ body: (inout JSONWriter) -> Void
    ) -> String {
        JSONWriter.object { e in
            e.add("source", link.name)
            e.add("switch", link.switchID)
            e.add("seq", number: seq)
            e.add("time", Timestamp.format(time, fractionDigits: 6))
            e.add("type", type)
            e.add("link", object: body)
        }
    }
}
