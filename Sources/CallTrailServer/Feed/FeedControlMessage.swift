import CallModel
import Foundation
import TSAPI

/// The native feed's own messages, the ones that are not events: written through `Codable` (they are sent once
/// per subscription or per heartbeat, not per event).
enum FeedControlMessage: Encodable {
    /// The subscription was read: the filter as understood, and where replay starts (`null`: live only).
    case subscribed(filter: FeedFilter, after: Int64?)
    /// Replay has caught up; events now come as they are stored.
    case live(position: Int64)
    /// How far the subscriber has got, so an idle one knows its resume point too.
    case heartbeat(position: Int64, time: Date)
    /// What was wrong, naming the field at fault (`null` for none).
    case error(field: String?, message: String)

    private enum Keys: String, CodingKey { case type, filter, after, position, time, field, message }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        switch self {
        case .subscribed(let filter, let after):
            try c.encode("subscribed", forKey: .type)
            try c.encode(filter, forKey: .filter)
            try c.encode(after, forKey: .after)
        case .live(let position):
            try c.encode("live", forKey: .type)
            try c.encode(position, forKey: .position)
        case .heartbeat(let position, let time):
            try c.encode("heartbeat", forKey: .type)
            try c.encode(position, forKey: .position)
            try c.encode(Timestamp.format(time), forKey: .time)
        case .error(let field, let message):
            try c.encode("error", forKey: .type)
            try c.encode(field, forKey: .field)
            try c.encode(message, forKey: .message)
        }
    }

    /// The message's text. Encoding these values cannot fail (strings and integers only).
    var text: String {
        (try? JSONCoding.text(self)) ?? #"{"type":"error","field":null,"message":"the message could not be written"}"#
    }
}
