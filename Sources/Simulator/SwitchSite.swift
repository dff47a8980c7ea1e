import Foundation
import TSAPI

/// One Communication Manager and the AES link that reports it: its dial plan as the reference's topology
/// (§4.0) lays it out, and the monitors an application would start on it.
package struct SwitchSite: Sendable {
    /// The switch name (`switch` in the envelope).
    package var name: String
    /// The AES link (`source`).
    package var source: String
    /// UCID network node id (1–32767).
    package var node: Int
    /// VDN → the skill its vector queues to.
    package var vdns: [String: String]
    /// monitorCrossRefID of each monitored device: calls-via-device on VDNs, device monitors on stations.
    package var monitors: [String: Int64]
    /// The incoming trunk group, the outgoing PSTN trunk group and the tie trunk to the other site.
    package var incomingTrunk = ("10", "5")
    package var outgoingTrunk = ("20", "7")
    package var tieTrunk = ("30", "1")

    package init(name: String, source: String, node: Int, vdns: [String: String], monitors: [String: Int64]) {
        self.name = name
        self.source = source
        self.node = node
        self.vdns = vdns
        self.monitors = monitors
    }

    /// Site 1 of the reference: VDN 7001 → skill 3001, VDN 7002 → skill 3002, stations 5001… with their
    /// device monitors (5001 → 201, 5002 → 202, …).
    package static func site1(stations: Int = 3) -> SwitchSite {
        var monitors: [String: Int64] = ["7001": 101, "7002": 102]
        for index in 1...max(stations, 3) { monitors[station(index)] = 200 + Int64(index) }
        return SwitchSite(
            name: "cm1", source: "aes1", node: 1, vdns: ["7001": "3001", "7002": "3002"], monitors: monitors)
    }

    /// Site 2 of the reference's scenario (i): VDN 87001 → skill 83001, stations 6001….
    package static func site2(stations: Int = 3) -> SwitchSite {
        var monitors: [String: Int64] = ["87001": 101]
        for index in 1...max(stations, 3) { monitors["\(6000 + index)"] = 200 + Int64(index) }
        return SwitchSite(name: "cm2", source: "aes2", node: 2, vdns: ["87001": "83001"], monitors: monitors)
    }

    /// The extension of agent station `index` (1-based) on site 1.
    package static func station(_ index: Int) -> String { "\(5000 + index)" }
}
