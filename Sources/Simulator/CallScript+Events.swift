import Foundation
import TSAPI

/// One method per TSAPI event, filling the fields the reference's sequences give it. `views` are the devices
/// whose monitors see the event and the connection state each reports.
extension CallScript {
    typealias Views = [(device: String, state: String)]

    /// Delivered to a VDN (`DELIVERED_TO_ACD`, "call offered to domain"): no digits collected yet.
    mutating func deliveredToVDN(_ call: CallData, vdn: String? = nil, calling: JSONTree? = nil, views: Views) {
        let vdn = vdn ?? call.vdn
        add(
            .delivered, to: views,
            csta: [
                ("connection", Self.connection(call.callID, vdn)), ("alertingDevice", .string(vdn)),
                ("callingDevice", calling ?? Self.party(call.ani)), ("calledDevice", .string(call.dnis)),
                ("lastRedirectionDevice", .string("")),
            ],
            att: .object([
                ("deliveredType", "DELIVERED_TO_ACD"), ("trunkGroup", .string(call.trunk.group)),
                ("trunkMember", .string(call.trunk.member)), ("split", ""),
                ("lookaheadInfo", .object([("type", "LAI_NO_INTERFLOW")])),
                ("userEnteredCode", .object([("type", "UE_NONE")])),
                ("userInfo", call.userInfo), ("reason", "AR_NONE"),
                ("originalCallInfo", .object([("reason", "OR_NONE")])),
                ("ucid", .string(call.ucid.rawValue)),
            ]))
    }

    mutating func queued(_ call: CallData, vdn: String? = nil, skill: String? = nil, position: Int64 = 1, views: Views)
    {
        let skill = skill ?? call.skill
        add(
            .queued, to: views,
            csta: [
                ("queuedConnection", Self.connection(call.callID, skill)), ("queue", .string(skill)),
                ("callingDevice", Self.party(call.ani)), ("calledDevice", .string(call.dnis)),
                ("lastRedirectionDevice", .string(vdn ?? call.vdn)), ("numberQueued", .int(position)),
            ], att: .object([("deviceHistory", .array([]))]))
    }

    /// The private data of Delivered/Established at a station (scenario (a), the answered call).
    func stationPrivateData(
        _ call: CallData, ucid: UCID? = nil, original: String = "OR_NONE", history: [JSONTree] = [],
        split: String? = nil,
        vdn: String? = nil
    ) -> JSONTree {
        .object([
            ("deliveredType", "DELIVERED_TO_STATION"), ("trunkGroup", .string(call.trunk.group)),
            ("trunkMember", .string(call.trunk.member)), ("split", .string(split ?? call.skill)),
            ("userEnteredCode", call.userEnteredCode), ("userInfo", call.userInfo), ("reason", "AR_NONE"),
            (
                "originalCallInfo",
                original == "OR_NONE" ? .object([("reason", "OR_NONE")]) : call.originalCallInfo(original)
            ),
            ("distributingDevice", .string(vdn ?? call.vdn)), ("ucid", .string((ucid ?? call.ucid).rawValue)),
            ("deviceHistory", .array(history)), ("distributingVDN", .string(vdn ?? call.vdn)),
        ])
    }

    mutating func delivered(
        _ call: CallData, at station: String, calling: JSONTree? = nil, called: String? = nil,
        redirectedBy: String? = nil,
        att: JSONTree, views: Views
    ) {
        add(
            .delivered, to: views,
            csta: [
                ("connection", Self.connection(call.callID, station)), ("alertingDevice", .string(station)),
                ("callingDevice", calling ?? Self.party(call.ani)), ("calledDevice", .string(called ?? call.dnis)),
                ("lastRedirectionDevice", .string(redirectedBy ?? call.vdn)),
            ], att: att)
    }

    mutating func established(
        _ call: CallData, at station: String, calling: JSONTree? = nil, called: String? = nil,
        redirectedBy: String? = nil,
        att: JSONTree, views: Views
    ) {
        add(
            .established, to: views,
            csta: [
                ("establishedConnection", Self.connection(call.callID, station)), ("answeringDevice", .string(station)),
                ("callingDevice", calling ?? Self.party(call.ani)), ("calledDevice", .string(called ?? call.dnis)),
                ("lastRedirectionDevice", .string(redirectedBy ?? call.vdn)),
            ], att: att)
    }

    mutating func connectionCleared(_ callID: Int64, device: String, releasing: JSONTree, views: Views) {
        add(
            .connectionCleared, to: views,
            csta: [
                ("droppedConnection", Self.connection(callID, device)), ("releasingDevice", releasing),
            ],
            att: .object([("userInfo", .object([("type", "UUI_NONE"), ("data", "")])), ("deviceHistory", .array([]))]))
    }

    mutating func callCleared(_ callID: Int64, views: Views) {
        add(
            .callCleared, to: views, csta: [("clearedCall", Self.connection(callID, ""))],
            att: .object([("reason", "AR_NONE")]))
    }

    mutating func held(_ callID: Int64, at station: String, consultMode: String, views: Views) {
        add(
            .held, to: views,
            csta: [
                ("heldConnection", Self.connection(callID, station)), ("holdingDevice", .string(station)),
            ], att: .object([("consultMode", .string(consultMode))]))
    }

    mutating func retrieved(_ callID: Int64, at station: String, views: Views) {
        add(
            .retrieved, to: views,
            csta: [
                ("retrievedConnection", Self.connection(callID, station)), ("retrievingDevice", .string(station)),
            ])
    }

    mutating func serviceInitiated(_ callID: Int64, at station: String, ucid: UCID, consultMode: String, views: Views) {
        add(
            .serviceInitiated, to: views, csta: [("initiatedConnection", Self.connection(callID, station))],
            cause: "EC_NEW_CALL",
            att: .object([("ucid", .string(ucid.rawValue)), ("consultMode", .string(consultMode))]))
    }

    mutating func originated(
        _ callID: Int64, at station: String, agent: String, called: String, uui: JSONTree? = nil, consultMode: String,
        views: Views
    ) {
        var att: [(key: String, value: JSONTree)] = [("logicalAgent", .string(agent))]
        if let uui { att.append(("userInfo", uui)) }
        att.append(("consultMode", .string(consultMode)))
        add(
            .originated, to: views,
            csta: [
                ("originatedConnection", Self.connection(callID, station)), ("callingDevice", .string(station)),
                ("calledDevice", .string(called)),
            ], att: .object(att))
    }

    mutating func networkReached(_ callID: Int64, trunk: String, called: String, group: (String, String), views: Views)
    {
        add(
            .networkReached, to: views,
            csta: [
                ("connection", Self.connection(callID, trunk)),
                (
                    "trunkUsed",
                    .object([
                        ("deviceID", .string(trunk)), ("deviceIDType", "TRUNK_IDENTIFIER"),
                        ("deviceIDStatus", "ID_PROVIDED"),
                    ])
                ),
                ("calledDevice", .string(called)),
            ],
            att: .object([
                ("progressLocation", "PL_PUB_LOCAL"), ("progressDescription", "PD_CALL_OFF_ISDN"),
                ("trunkGroup", .string(group.0)), ("trunkMember", .string(group.1)), ("deviceHistory", .array([])),
            ]))
    }

    mutating func diverted(_ callID: Int64, from station: String, to destination: String, views: Views) {
        add(
            .diverted, to: views,
            csta: [
                ("connection", Self.connection(callID, station)), ("divertingDevice", .string(station)),
                ("newDestination", .string(destination)),
            ], cause: "EC_REDIRECTED", att: .object([("deviceHistory", .array([]))]))
    }

    /// Transferred or Conferenced: the connection list names the surviving call.
    mutating func merged(
        _ type: EventType, primary: JSONTree, secondary: JSONTree, controller: String, added: String,
        connections: [(party: JSONTree, staticDevice: JSONTree)], att: JSONTree, views: Views
    ) {
        let list: JSONTree = .object([
            ("count", .int(Int64(connections.count))),
            (
                "connection",
                .array(connections.map { .object([("party", $0.party), ("staticDevice", $0.staticDevice)]) })
            ),
        ])
        let transfer = type == .transferred
        add(
            type, to: views,
            csta: [
                ("primaryOldCall", primary), ("secondaryOldCall", secondary),
                (transfer ? "transferringDevice" : "confController", .string(controller)),
                (transfer ? "transferredDevice" : "addedParty", .string(added)),
                (transfer ? "transferredConnections" : "conferenceConnections", list),
            ], cause: transfer ? "EC_TRANSFER" : "EC_NONE", att: att)
    }

    /// The private data of Transferred/Conferenced: the resulting (original) UCID and the original call's data.
    func mergePrivateData(
        _ call: CallData, reason: String, controller: String, trunks: [(Int64, String, (String, String))]
    ) -> JSONTree {
        .object([
            ("originalCallInfo", call.originalCallInfo(reason)), ("distributingDevice", .string(call.vdn)),
            ("ucid", .string(call.ucid.rawValue)),
            (
                "trunkList",
                .array(
                    trunks.map { trunk in
                        .object([
                            ("connection", Self.connection(trunk.0, trunk.1)), ("trunkGroup", .string(trunk.2.0)),
                            ("trunkMember", .string(trunk.2.1)),
                        ])
                    })
            ),
            (
                "deviceHistory",
                .array([
                    .object([
                        ("olddeviceID", .string(controller)),
                        ("cause", reason == "OR_TRANSFERRED" ? "EC_TRANSFER" : "EC_NONE"),
                        ("oldconnectionID", Self.connection(call.callID, controller)),
                    ])
                ])
            ),
            ("distributingVDN", .string(call.vdn)),
        ])
    }
}
