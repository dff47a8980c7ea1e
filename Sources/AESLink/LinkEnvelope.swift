import DMCC
import Foundation
import TSAPI

/// The envelopes a link stores: each DMCC event as the TSAPI event it is; `LINK_UP` / `LINK_DOWN` for every
/// start, loss and recovery of the link, so a journey that spans a gap can say so; and after a gap, a
/// `LINK_SNAPSHOT` of each monitored device's calls. The XML of an event is stored
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
    package enum DownCode: String, Sendable {
        /// The socket was lost.
        case closed
        /// AES did not answer a keep-alive within 5 s: a peer gone quiet, its socket perhaps still open.
        case silent
        /// AES reports the switch link (Communication Manager to AES) down; the session is kept.
        case tlinkDown = "tlink-down"
        /// AES refused the login or the resume.
        case refused
        /// CallTrail ended the session itself: it is stopping, or moving to the link's other AES.
        case shutdown
        /// The process that owned the link died; recorded by the one that took it over.
        case ownerLost = "owner-lost"
        /// Anything else: a malformed frame, a request AES never answered.
        case error
    }

    static func linkUp(
        link: LinkConfiguration, aes: LinkURL, seq: Int64, time: Date, sessionID: String, resumed: Bool,
        reason: String
    ) -> String {
        record("LINK_UP", link: link, seq: seq, time: time) { l in
            l.add("aes", aes.description)
            l.add("sessionID", sessionID)
            l.add("reason", reason)
            l.add("resumed", bool: resumed)
        }
    }

    static func linkDown(
        link: LinkConfiguration, aes: LinkURL, seq: Int64, time: Date, sessionID: String?, code: DownCode,
        reason: String
    ) -> String {
        record("LINK_DOWN", link: link, seq: seq, time: time) { l in
            l.add("aes", aes.description)
            l.add("sessionID", sessionID)
            l.add("reason", reason)
            l.add("code", code.rawValue)
            l.add("resumed", bool: false)
        }
    }

    /// The link's previous owner (another CallTrail process) died holding it: recorded by the process that takes
    /// it over, for the gap between the owner's last report and the new session.
    static func ownerLost(
        link: LinkConfiguration, aes: String, seq: Int64, time: Date, sessionID: String?, reason: String
    ) -> String {
        record("LINK_DOWN", link: link, seq: seq, time: time) { l in
            l.add("aes", aes)
            l.add("sessionID", sessionID)
            l.add("reason", reason)
            l.add("code", DownCode.ownerLost.rawValue)
            l.add("resumed", bool: false)
        }
    }

    /// The calls at one monitored device as AES has them after a gap in the link's events (`from` to `to`): the
    /// projections end the legs at the device that are not among them, and take up the ones they did not know.
    static func snapshot(
        link: LinkConfiguration, aes: LinkURL, seq: Int64, time: Date, sessionID: String, device: String,
        kind: String, calls: [DMCCMessage.SnapshotCall], gap: (from: Date, to: Date)
    ) -> String {
        record(
            "LINK_SNAPSHOT", link: link, seq: seq, time: time,
            extra: { e in
                e.add("device", device)
                e.add("kind", kind)
                e.add("calls", array: calls) { a, call in
                    a.object { c in
                        if let number = Int64(call.callID) {
                            c.add("callID", number: number)
                        } else {
                            c.add("callID", call.callID)
                        }
                        c.add("state", call.state)
                    }
                }
            }
        ) { l in
            l.add("aes", aes.description)
            l.add("sessionID", sessionID)
            l.add("reason", "resynchronising after a gap in the link's events")
            l.add(
                "gap",
                object: { g in
                    g.add("from", Timestamp.format(gap.from, fractionDigits: 6))
                    g.add("to", Timestamp.format(gap.to, fractionDigits: 6))
                })
        }
    }

    private static func record(
        _ type: String, link: LinkConfiguration, seq: Int64, time: Date,
        extra: (inout JSONWriter) -> Void = { _ in }, _ body: (inout JSONWriter) -> Void
    ) -> String {
        JSONWriter.object { e in
            e.add("source", link.name)
            e.add("switch", link.switchID)
            e.add("seq", number: seq)
            e.add("time", Timestamp.format(time, fractionDigits: 6))
            e.add("type", type)
            e.add("link", object: body)
            extra(&e)
        }
    }
}
