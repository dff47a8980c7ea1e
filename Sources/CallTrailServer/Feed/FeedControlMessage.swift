import CallModel
import Foundation
import TSAPI

/// The native feed's own messages, the ones that are not events. Written with `JSONWriter` like the feed's event
/// messages, `type` first: desktop integrations read these as they arrive, and some tell them apart by their
/// first member, so their text stays exactly as it has always been.
package enum FeedControlMessage {
    /// The subscription was read: the filter as understood, and where replay starts (`null`: live only).
    case subscribed(filter: FeedFilter, after: Int64?)
    /// Replay has caught up; events now come as they are stored.
    case live(position: Int64)
    /// How far the subscriber has got, so an idle one knows its resume point too.
    case heartbeat(position: Int64, time: Date)
    /// What was wrong, naming the field at fault (`null` for none).
    case error(field: String?, message: String)

    package var text: String {
        JSONWriter.object { m in
            switch self {
            case .subscribed(let filter, let after):
                m.add("type", "subscribed")
                m.add("filter") { f in
                    for (name, values) in [
                        ("devices", filter.devices), ("agents", filter.agents), ("vdns", filter.vdns),
                        ("splits", filter.splits), ("events", filter.events.map { Set($0.map(\.rawValue)) }),
                    ] {
                        if let values { f.add(name, strings: values.sorted()) } else { f.add(name, json: "null") }
                    }
                }
                m.add("after", number: after)
            case .live(let position):
                m.add("type", "live")
                m.add("position", number: position)
            case .heartbeat(let position, let time):
                m.add("type", "heartbeat")
                m.add("position", number: position)
                m.add("time", Timestamp.format(time))
            case .error(let field, let message):
                m.add("type", "error")
                m.add("field", field)
                m.add("message", message)
            }
        }
    }
}
