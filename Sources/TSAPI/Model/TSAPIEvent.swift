import Foundation

/// One TSAPI event as the ingest envelope carries it (the ingest envelope, docs/api.md), decoded for the projections.
///
/// Ingest itself never needs this full decode (it reads the envelope with `IngestBatchParser` and stores the
/// bytes); projections and tools decode stored events with `JSONDecoder` into this type.
package struct TSAPIEvent: Sendable, Hashable, Decodable {
    package var id: String?
    package var source: String
    package var switchName: String?
    package var seq: Int64?
    package var time: Date
    package var monitor: Int64?
    package var type: String
    package var csta: CSTAEvent
    package var att: ATTPrivateData?

    package var eventType: EventType? { EventType(rawValue: type) }
    /// The switch, defaulting to the source as the contract says.
    package var switchID: String { switchName ?? source }

    /// The envelope's members an event is read from (`TSAPIEvent(json:)` skips the rest unread: members a client
    /// added, and the `dmcc` XML that link events stored before it had a column of its own carried).
    static let membersRead = Set(CodingKeys.allCases.map(\.stringValue))

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case id, source, seq, time, monitor, type, csta, att
        case switchName = "switch"
    }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decodeIfPresent(String.self, forKey: .id)
        source = try container.decode(String.self, forKey: .source)
        switchName = try container.decodeIfPresent(String.self, forKey: .switchName)
        seq = try container.decodeLenientInteger(forKey: .seq)
        let timeText = try container.decode(String.self, forKey: .time)
        guard let time = Timestamp.parse(timeText) else {
            throw DecodingError.dataCorruptedError(
                forKey: .time, in: container, debugDescription: "not RFC 3339: \(timeText)")
        }
        self.time = time
        monitor = try container.decodeLenientInteger(forKey: .monitor)
        type = try container.decode(String.self, forKey: .type)
        let eventType = EventType(rawValue: type)
        if container.contains(.csta), let nested = try? container.superDecoder(forKey: .csta) {
            csta = CSTAEvent.decode(eventType, from: nested)
        } else {
            csta = .other
        }
        att = try? container.decodeIfPresent(ATTPrivateData.self, forKey: .att)
    }
}
