/// A message from AES, read by its root element's local name: an answer to one of the link's requests, a request
/// of AES's own, or an event.
package enum DMCCMessage: Sendable, Equatable {
    case sessionStarted(sessionID: String, protocolVersion: String?, duration: Int?)
    case timerReset(duration: Int?)
    case sessionStopped
    case deviceID(String)
    case deviceReleased
    case monitorStarted(crossRefID: String)
    case monitorStopped
    case systemRegistered
    /// The calls at a device (`SnapshotDeviceResponse`): each call's ID and the device's connection state in it,
    /// in TSAPI's names (`CS_CONNECT`).
    case snapshot([SnapshotCall])
    /// A refusal: a negative response or a `CSTAErrorCode`; the error carries AES's name for it.
    case refused(DMCCError)
    /// AES asks for an answer (`SystemStatus`): `switchLinkUp` is what it says of the switch link, when it says.
    case systemStatus(switchLinkUp: Bool?)
    /// AES reports the application session's end.
    case sessionTerminated(reason: String?)
    /// An event of a monitor.
    case event(XMLElement)
    /// Any other message, by name.
    case other(String)

    package init(_ root: XMLElement) {
        switch root.name {
        case "StartApplicationSessionPosResponse":
            self = .sessionStarted(
                sessionID: root.text(of: "sessionID") ?? "", protocolVersion: root.text(of: "actualProtocolVersion"),
                duration: root.text(of: "actualSessionDuration").flatMap { Int($0) })
        case "ResetApplicationSessionTimerPosResponse":
            self = .timerReset(duration: root.text(of: "actualSessionDuration").flatMap { Int($0) })
        case "StopApplicationSessionPosResponse":
            self = .sessionStopped
        case "GetDeviceIdResponse", "GetThirdPartyDeviceIdResponse":
            self = .deviceID(root.text(of: "device") ?? "")
        case "ReleaseDeviceIdResponse":
            self = .deviceReleased
        case "MonitorStartResponse":
            self = .monitorStarted(crossRefID: root.text(of: "monitorCrossRefID") ?? "")
        case "MonitorStopResponse":
            self = .monitorStopped
        case "SystemRegisterResponse":
            self = .systemRegistered
        case "SnapshotDeviceResponse":
            // ECMA-323: snapshotData holds one snapshotDeviceResponseInfo per call, with the call's connection
            // and the device's state in it (compound, or simple as in some releases).
            self = .snapshot(
                root.descendants("snapshotDeviceResponseInfo").compactMap { info in
                    guard let callID = info.descendant("callID")?.text.trimmed, !callID.isEmpty else { return nil }
                    let state =
                        info.descendant("localConnectionState")?.text.trimmed
                        ?? info.descendant("simpleCallState")?.text.trimmed ?? ""
                    return SnapshotCall(callID: callID, state: Mapper.connectionState(state))
                })
        case "StartApplicationSessionNegResponse", "ResetApplicationSessionTimerNegResponse",
            "StopApplicationSessionNegResponse", "CSTAErrorCode", "ErrorValue":
            self = .refused(Self.refusal(root))
        case "SystemStatus":
            // The switch link's own status when AES gives it (Avaya's private data); otherwise the system's: a
            // disabled system passes no events, like a switch link down.
            let tlink = root.descendant("tlinkStatus")?.text.trimmed
            switch (tlink, root.descendant("systemStatus")?.text.trimmed) {
            case (let tlink?, _): self = .systemStatus(switchLinkUp: tlink == "tlinkUp")
            case (nil, "disabled"?): self = .systemStatus(switchLinkUp: false)
            case (nil, "enabled"?), (nil, "normal"?): self = .systemStatus(switchLinkUp: true)
            default: self = .systemStatus(switchLinkUp: nil)
            }
        case "ApplicationSessionTerminated":
            self = .sessionTerminated(reason: root.descendant("definedTermReason")?.text.trimmed)
        default:
            self = DMCCEvent.isEvent(root.name) ? .event(root) : .other(root.name)
        }
    }

    /// One call of a device's snapshot.
    package struct SnapshotCall: Sendable, Equatable {
        package var callID: String
        package var state: String

        package init(callID: String, state: String) {
            self.callID = callID
            self.state = state
        }
    }

    /// AES's error, named as deeply as it says it: `<errorCode><definedError>invalidApplicationInfo</...>` gives
    /// `invalidApplicationInfo`; `<CSTAErrorCode><operation>invalidDeviceID</operation>` gives `invalidDeviceID`.
    static func refusal(_ root: XMLElement) -> DMCCError {
        var element = root
        while let child = element.children.first { element = child }
        let hasText = !element.text.trimmed.isEmpty
        let name = hasText ? element.text.trimmed : element.name
        // `<operation>invalidDeviceID</operation>` says its category; `<definedError>` says nothing more.
        let category = hasText && !["definedError", "applError"].contains(element.name) ? "\(element.name): " : ""
        return DMCCError(.refused, "AES refused the request (\(root.name)): \(category)\(name)", aesError: name)
    }
}
