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
    /// The device's calls after a gap, on a `LINK_SNAPSHOT`; nil on every other event.
    package var snapshot: LinkSnapshot?

    package var eventType: EventType? { EventType(rawValue: type) }
    /// The switch, defaulting to the source as the contract says.
    package var switchID: String { switchName ?? source }

    /// The envelope's members an event is read from (`TSAPIEvent(json:)` skips the rest unread: members a client
    /// added, and the `dmcc` XML that link events stored before it had a column of its own carried).
    static let membersRead = Set(CodingKeys.allCases.map(\.stringValue))

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case id, source, seq, time, monitor, type, csta, att
        case switchName = "switch"
        // A LINK_SNAPSHOT's own members.
        case link, device, kind, calls
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
        if eventType == .linkSnapshot {
            snapshot = try? SnapshotMembers(from: decoder).snapshot
        }
    }

    /// The members of a `LINK_SNAPSHOT`, decoded as `LinkSnapshot(envelope:)` reads them from a tree.
    private struct SnapshotMembers: Decodable {
        struct Link: Decodable { var gap: Gap }
        struct Gap: Decodable { var from: String, to: String }
        struct Call: Decodable {
            var callID: Int64
            var state: String
            init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: CallKeys.self)
                guard let callID = try container.decodeLenientInteger(forKey: .callID) else {
                    throw DecodingError.keyNotFound(
                        CallKeys.callID, .init(codingPath: container.codingPath, debugDescription: "no callID"))
                }
                self.callID = callID
                state = try container.decode(String.self, forKey: .state)
            }
            enum CallKeys: String, CodingKey { case callID, state }
        }
        var link: Link
        var device: String
        var kind: String
        var calls: [Call]

        var snapshot: LinkSnapshot? {
            guard !device.isEmpty, let kind = LinkSnapshot.Kind(rawValue: kind),
                let from = Timestamp.parse(link.gap.from), let to = Timestamp.parse(link.gap.to)
            else { return nil }
            return LinkSnapshot(
                device: device, kind: kind, calls: calls.map { LinkSnapshot.Call(callID: $0.callID, state: $0.state) },
                gap: LinkGap(from: from, to: to))
        }
    }
}
