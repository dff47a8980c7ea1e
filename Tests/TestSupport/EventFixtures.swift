import Foundation
import TSAPI

/// Builds TSAPI events in the ingest envelope (the ingest envelope, docs/api.md), with the fields the reference's sequences
/// use, so tests read as the scenario they play.
package struct EventFixtures: Sendable {
    package var source: String
    package var switchName: String?
    package private(set) var seq: Int64
    package var clock: Date

    package init(
        source: String = "aes1", switchName: String? = "cm1", startSeq: Int64 = 1,
        clock: Date = Date(timeIntervalSince1970: 1_795_000_000)
    ) {
        self.source = source
        self.switchName = switchName
        self.seq = startSeq
        self.clock = clock
    }

    package static let ani = "6135550100"
    package static let dnis = "8005551234"
    package static let u1 = "00001000421700000000"
    package static let u2 = "00001000431700000060"

    /// One event as JSON text, with the next seq and a clock 250 ms later than the last.
    package mutating func event(_ type: String, monitor: Int? = nil, csta: String, att: String? = nil) -> String {
        defer { seq += 1; clock += 0.25 }
        var fields = [
            "\"source\":\"\(source)\"", "\"seq\":\(seq)", "\"time\":\"\(Timestamp.format(clock))\"",
            "\"type\":\"\(type)\"",
        ]
        if let switchName { fields.append("\"switch\":\"\(switchName)\"") }
        if let monitor { fields.append("\"monitor\":\(monitor)") }
        fields.append("\"csta\":\(csta)")
        if let att { fields.append("\"att\":\(att)") }
        return "{" + fields.joined(separator: ",") + "}"
    }

    package static func connection(_ callID: Int64, _ device: String, dynamic: Bool = false) -> String {
        "{\"callID\":\(callID),\"deviceID\":\"\(device)\",\"devIDType\":\"\(dynamic ? "DYNAMIC_ID" : "STATIC_ID")\"}"
    }

    package mutating func delivered(
        _ callID: Int64, at device: String, ucid: String?, monitor: Int? = nil, toACD: Bool = false,
        ani: String = Self.ani,
        uui: (type: String, data: String) = ("UUI_IA5_ASCII", "ACCT=998877;LANG=FR")
    ) -> String {
        event(
            "CSTA_DELIVERED", monitor: monitor,
            csta: """
                {"connection":\(Self.connection(callID, device)),"alertingDevice":"\(device)",\
                "callingDevice":{"deviceID":"\(ani)","deviceIDType":"EXPLICIT_PUBLIC_UNKNOWN","deviceIDStatus":"ID_PROVIDED"},\
                "calledDevice":"\(Self.dnis)","localConnectionInfo":"\(toACD ? "CS_NONE" : "CS_ALERTING")","cause":"EC_NONE"}
                """,
            att: ucid.map {
                """
                {"deliveredType":"\(toACD ? "DELIVERED_TO_ACD" : "DELIVERED_TO_STATION")","trunkGroup":"10","trunkMember":"5",\
                "ucid":"\($0)","userInfo":{"type":"\(uui.type)","data":\(JSONWriter.quote(uui.data))}}
                """
            })
    }

    package mutating func established(_ callID: Int64, at device: String, ucid: String?, monitor: Int? = nil) -> String
    {
        event(
            "CSTA_ESTABLISHED", monitor: monitor,
            csta: """
                {"establishedConnection":\(Self.connection(callID, device)),"answeringDevice":"\(device)",\
                "callingDevice":"\(Self.ani)","calledDevice":"\(Self.dnis)","localConnectionInfo":"CS_CONNECT","cause":"EC_NONE"}
                """,
            att: ucid.map { "{\"ucid\":\"\($0)\"}" })
    }

    package mutating func queued(_ callID: Int64, split: String = "3001", monitor: Int? = nil) -> String {
        event(
            "CSTA_QUEUED", monitor: monitor,
            csta: "{\"queuedConnection\":\(Self.connection(callID, split)),\"queue\":\"\(split)\",\"numberQueued\":1}")
    }

    package mutating func held(_ callID: Int64, at device: String, monitor: Int? = nil) -> String {
        event(
            "CSTA_HELD", monitor: monitor,
            csta: "{\"heldConnection\":\(Self.connection(callID, device)),\"holdingDevice\":\"\(device)\"}")
    }

    package mutating func serviceInitiated(
        _ callID: Int64, at device: String, ucid: String?, monitor: Int? = nil
    ) -> String {
        event(
            "CSTA_SERVICE_INITIATED", monitor: monitor,
            csta:
                "{\"initiatedConnection\":\(Self.connection(callID, device)),\"localConnectionInfo\":\"CS_INITIATE\"}",
            att: ucid.map { "{\"ucid\":\"\($0)\"}" })
    }

    package mutating func originated(_ callID: Int64, at device: String, called: String, monitor: Int? = nil) -> String
    {
        event(
            "CSTA_ORIGINATED", monitor: monitor,
            csta:
                "{\"originatedConnection\":\(Self.connection(callID, device)),\"callingDevice\":\"\(device)\",\"calledDevice\":\"\(called)\"}"
        )
    }

    /// Transferred with the connection list in TSAPI's `{count, connection}` struct form.
    package mutating func transferred(
        primary: Int64, secondary: Int64, from controller: String, to target: String, ucid: String?, monitor: Int? = nil
    ) -> String {
        event(
            "CSTA_TRANSFERRED", monitor: monitor,
            csta: """
                {"primaryOldCall":\(Self.connection(primary, controller)),"secondaryOldCall":\(Self.connection(secondary, controller)),\
                "transferringDevice":"\(controller)","transferredDevice":"\(target)",\
                "transferredConnections":{"count":2,"connection":[\
                {"party":\(Self.connection(secondary, "T\(secondary)#1", dynamic: true)),"staticDevice":"\(Self.ani)"},\
                {"party":\(Self.connection(secondary, target)),"staticDevice":"\(target)"}]},"cause":"EC_TRANSFER"}
                """,
            att: ucid.map {
                "{\"ucid\":\"\($0)\",\"originalCallInfo\":{\"reason\":\"OR_TRANSFERRED\",\"callingDevice\":\"\(Self.ani)\"}}"
            })
    }

    package mutating func connectionCleared(_ callID: Int64, device: String, monitor: Int? = nil) -> String {
        event(
            "CSTA_CONNECTION_CLEARED", monitor: monitor,
            csta:
                "{\"droppedConnection\":\(Self.connection(callID, device, dynamic: device.hasPrefix("T"))),\"releasingDevice\":\"\(device)\"}"
        )
    }

    package mutating func callCleared(_ callID: Int64, monitor: Int? = nil) -> String {
        event(
            "CSTA_CALL_CLEARED", monitor: monitor,
            csta: "{\"clearedCall\":{\"callID\":\(callID),\"deviceID\":\"\"},\"cause\":\"EC_NONE\"}")
    }

    /// Parses events written by this builder. They are valid by construction, so a failure is a broken
    /// fixture, and stops the test run rather than letting a test run on no events.
    package static func incoming(_ events: [String]) -> [IncomingEvent] {
        do {
            return try IngestBatchParser.parse(Array(("[" + events.joined(separator: ",") + "]").utf8))
        } catch {
            preconditionFailure("a fixture built an invalid event: \(error)")
        }
    }
}
