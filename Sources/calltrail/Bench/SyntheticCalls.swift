import Foundation
import TSAPI

/// Realistic TSAPI traffic for benchmarks: inbound calls that follow the reference's scenario (a) — offered to
/// VDN 7001, queued to skill 3001, delivered to and answered by an agent, cleared — with the monitor copies a
/// VDN monitor and a station monitor produce (10 events a call), and callIDs reused as CM does.
///
/// The switch simulator (its own issue) will replace this with every scenario; the shape of each event here
/// follows architecture §2's example.
struct SyntheticCalls {
    var source = "aes1"
    var switchName = "cm1"
    private var seq: Int64 = 0
    private var clock = Date(timeIntervalSince1970: 1_795_000_000)
    private var callNumber = 0

    /// The events of the next call.
    mutating func nextCall() -> [String] {
        callNumber += 1
        let callNumber = self.callNumber
        let callID = Int64(1000 + callNumber % 9000)  // CM reuses callIDs once calls clear
        let agent = 5001 + callNumber % 200
        let ucid = UCID(node: 1, sequence: callNumber % 65535 + 1, time: 1_795_000_000 + Int64(callNumber)).rawValue
        let ani = "613555\(String(format: "%04d", callNumber % 10000))"
        let conn = { (device: String) in "{\"callID\":\(callID),\"deviceID\":\"\(device)\",\"devIDType\":\"STATIC_ID\"}" }
        let trunk = "{\"callID\":\(callID),\"deviceID\":\"T\(callID)#1\",\"devIDType\":\"DYNAMIC_ID\"}"
        let calling = "{\"deviceID\":\"\(ani)\",\"deviceIDType\":\"EXPLICIT_PUBLIC_UNKNOWN\",\"deviceIDStatus\":\"ID_PROVIDED\"}"
        let private_ = { (delivered: String, split: String) in
            """
            {"deliveredType":"\(delivered)","trunkGroup":"10","trunkMember":"5","split":"\(split)","ucid":"\(ucid)",\
            "distributingVDN":"7001","userEnteredCode":{"type":"UE_CALL_PROMPTER","indicator":"UE_COLLECT","data":"4321","collectVDN":"7001"},\
            "userInfo":{"type":"UUI_IA5_ASCII","data":"ACCT=\(callNumber);LANG=FR"},"originalCallInfo":{"reason":"OR_NONE"}}
            """
        }
        var events: [String] = []
        func emit(_ type: String, _ monitors: [Int], _ csta: (Int) -> String, _ att: String? = nil) {
            clock += 0.5
            for monitor in monitors {
                seq += 1
                var text = "{\"id\":\"\(source)-\(seq)\",\"source\":\"\(source)\",\"switch\":\"\(switchName)\",\"seq\":\(seq),"
                text += "\"time\":\"\(Timestamp.format(clock))\",\"monitor\":\(monitor),\"type\":\"\(type)\",\"csta\":\(csta(monitor))"
                if let att { text += ",\"att\":\(att)" }
                events.append(text + "}")
            }
        }
        let lci = { (monitor: Int, state: String) in monitor == 101 ? "CS_NONE" : state }
        emit("CSTA_DELIVERED", [101], { _ in
            "{\"connection\":\(conn("7001")),\"alertingDevice\":\"7001\",\"callingDevice\":\(calling),\"calledDevice\":\"8005551234\",\"localConnectionInfo\":\"CS_NONE\",\"cause\":\"EC_NONE\"}"
        }, private_("DELIVERED_TO_ACD", ""))
        emit("CSTA_QUEUED", [101], { _ in
            "{\"queuedConnection\":\(conn("3001")),\"queue\":\"3001\",\"callingDevice\":\(calling),\"calledDevice\":\"8005551234\",\"lastRedirectionDevice\":\"7001\",\"numberQueued\":1,\"localConnectionInfo\":\"CS_NONE\",\"cause\":\"EC_NONE\"}"
        })
        emit("CSTA_DELIVERED", [101, 200 + agent % 1000], { monitor in
            "{\"connection\":\(conn("\(agent)")),\"alertingDevice\":\"\(agent)\",\"callingDevice\":\(calling),\"calledDevice\":\"8005551234\",\"lastRedirectionDevice\":\"7001\",\"localConnectionInfo\":\"\(lci(monitor, "CS_ALERTING"))\",\"cause\":\"EC_NONE\"}"
        }, private_("DELIVERED_TO_STATION", "3001"))
        emit("CSTA_ESTABLISHED", [101, 200 + agent % 1000], { monitor in
            "{\"establishedConnection\":\(conn("\(agent)")),\"answeringDevice\":\"\(agent)\",\"callingDevice\":\(calling),\"calledDevice\":\"8005551234\",\"lastRedirectionDevice\":\"7001\",\"localConnectionInfo\":\"\(lci(monitor, "CS_CONNECT"))\",\"cause\":\"EC_NONE\"}"
        }, private_("DELIVERED_TO_STATION", "3001"))
        emit("CSTA_CONNECTION_CLEARED", [101, 200 + agent % 1000], { monitor in
            "{\"droppedConnection\":\(trunk),\"releasingDevice\":\(calling),\"localConnectionInfo\":\"\(lci(monitor, "CS_CONNECT"))\",\"cause\":\"EC_NONE\"}"
        }, "{\"userInfo\":{\"type\":\"UUI_NONE\",\"data\":\"\"},\"deviceHistory\":[]}")
        emit("CSTA_CALL_CLEARED", [101, 200 + agent % 1000], { _ in
            "{\"clearedCall\":{\"callID\":\(callID),\"deviceID\":\"\",\"devIDType\":\"STATIC_ID\"},\"localConnectionInfo\":\"CS_NULL\",\"cause\":\"EC_NONE\"}"
        }, "{\"reason\":\"AR_NONE\"}")
        return events
    }
}
