import Foundation
import TSAPI

/// Writes the switch events of one call in order, advancing its own clock: the vocabulary the scenarios are
/// written in, one method per TSAPI event with the fields the reference's tables give it (§1.3, §2.2, §4).
package struct CallScript {
    package let sites: [SwitchSite]
    package private(set) var events: [SwitchEvent] = []
    package var clock: Date
    /// The site the next events happen on.
    package var site = 0

    package init(sites: [SwitchSite], start: Date) {
        self.sites = sites
        self.clock = start
    }

    package mutating func wait(_ seconds: Double) { clock += seconds }

    /// Adds an event, reported to the monitors of the given devices that have one.
    mutating func add(
        _ type: EventType, to views: [(device: String, state: String)], csta: [(key: String, value: JSONTree)],
        cause: String = "EC_NONE", att: JSONTree? = nil
    ) {
        let monitors = sites[site].monitors
        let recipients = views.compactMap { view in monitors[view.device].map { (monitor: $0, state: view.state) } }
        guard !recipients.isEmpty else { return }
        events.append(
            SwitchEvent(
                time: clock, site: site, type: type, recipients: recipients, csta: csta, cause: cause, att: att))
        clock += 0.05
    }

    // MARK: Values

    static func connection(_ callID: Int64, _ device: String) -> JSONTree {
        // Trunk parties are dynamic devices (`T<callID>#<n>`); stations, VDNs and splits are static.
        let dynamic = device.hasPrefix("T")
        return .object([
            ("callID", .int(callID)), ("deviceID", .string(device)),
            ("devIDType", .string(dynamic ? "DYNAMIC_ID" : "STATIC_ID")),
        ])
    }

    /// An external party in TSAPI's struct form (the other form, a bare string, is used for extensions).
    static func party(_ number: String) -> JSONTree {
        .object([
            ("deviceID", .string(number)), ("deviceIDType", "EXPLICIT_PUBLIC_UNKNOWN"),
            ("deviceIDStatus", "ID_PROVIDED"),
        ])
    }

    static func trunk(_ callID: Int64, _ index: Int = 1) -> String { "T\(callID)#\(index)" }
}

/// What a call carries that the private data repeats: the caller, what they dialled, the trunk, the UUI, the
/// digits the vector collected, the UCID.
package struct CallData: Sendable {
    package var callID: Int64
    package var ucid: UCID
    package var ani: String
    package var dnis: String
    package var vdn: String
    package var skill: String
    package var trunk: (group: String, member: String)
    package var uui: String?
    package var digits: String?

    var userInfo: JSONTree {
        uui.map { .object([("type", "UUI_IA5_ASCII"), ("data", .string($0))]) }
            ?? .object([("type", "UUI_NONE"), ("data", "")])
    }

    var userEnteredCode: JSONTree {
        guard let digits else { return .object([("type", "UE_NONE")]) }
        return .object([
            ("type", "UE_CALL_PROMPTER"), ("indicator", "UE_COLLECT"), ("data", .string(digits)),
            ("collectVDN", .string(vdn)),
        ])
    }

    /// `originalCallInfo` as CM fills it after a consultation, transfer or conference.
    func originalCallInfo(_ reason: String) -> JSONTree {
        .object([
            ("reason", .string(reason)), ("callingDevice", CallScript.party(ani)), ("calledDevice", .string(dnis)),
            ("trunkGroup", .string(trunk.group)), ("trunkMember", .string(trunk.member)),
            ("userEnteredCode", userEnteredCode), ("userInfo", userInfo), ("ucid", .string(ucid.rawValue)),
        ])
    }
}
