/// The requests a monitoring link sends AES, as XML text, and the answers it sends to AES's own requests.
///
/// Shapes follow what public DMCC clients send and AES accepts: session requests in ECMA-354's namespace, device
/// requests in Avaya's, monitor requests in ECMA-323 ed3's. Every value is escaped.
package enum DMCCRequest {
    package static let sessionNamespace = "http://www.ecma-international.org/standards/ecma-354/appl_session"
    package static let cstaNamespace = "http://www.ecma-international.org/standards/ecma-323/csta/ed3"
    package static let avayaNamespace = "http://www.avaya.com/csta"
    private static let prolog = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"

    /// The protocol versions CallTrail can speak, newest first; AES picks one and says which.
    package static let protocolVersions = [
        "http://www.ecma-international.org/standards/ecma-323/csta/ed3/privA",
        "http://www.ecma-international.org/standards/ecma-323/csta/ed3/priv9",
        "http://www.ecma-international.org/standards/ecma-323/csta/ed3/priv8",
        "http://www.ecma-international.org/standards/ecma-323/csta/ed3/priv7",
        "http://www.ecma-international.org/standards/ecma-323/csta/ed3/priv6",
    ]

    /// A protocol version as a links file may name it (`ed3/priv6`), or in full.
    package static func protocolVersion(_ short: String) -> String {
        short.hasPrefix("http") ? short : "http://www.ecma-international.org/standards/ecma-323/csta/" + short
    }

    /// Opens an application session. `resume` asks AES to take back a session it still keeps (its ID), with its
    /// monitors.
    package static func startApplicationSession(
        applicationID: String, username: String, password: String, protocolVersions: [String], duration: Int,
        cleanupDelay: Int, resume: String? = nil
    ) -> String {
        prolog + "<StartApplicationSession xmlns=\"\(sessionNamespace)\"><applicationInfo>"
            + "<applicationID>\(escape(applicationID))</applicationID><applicationSpecificInfo>"
            + "<ns1:SessionLoginInfo xsi:type=\"ns1:SessionLoginInfo\" xmlns:ns1=\"\(avayaNamespace)\" "
            + "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">"
            + "<ns1:userName>\(escape(username))</ns1:userName><ns1:password>\(escape(password))</ns1:password>"
            + "<ns1:sessionCleanupDelay>\(cleanupDelay)</ns1:sessionCleanupDelay>"
            + (resume.map { "<ns1:sessionID>\(escape($0))</ns1:sessionID>" } ?? "")
            + "</ns1:SessionLoginInfo></applicationSpecificInfo></applicationInfo><requestedProtocolVersions>"
            + protocolVersions.map { "<protocolVersion>\(escape($0))</protocolVersion>" }.joined()
            + "</requestedProtocolVersions><requestedSessionDuration>\(duration)</requestedSessionDuration>"
            + "</StartApplicationSession>"
    }

    /// The keep-alive: AES ends a session whose timer runs out.
    package static func resetApplicationSessionTimer(sessionID: String, duration: Int) -> String {
        prolog + "<ResetApplicationSessionTimer xmlns=\"\(sessionNamespace)\"><sessionID>\(escape(sessionID))"
            + "</sessionID><requestedSessionDuration>\(duration)</requestedSessionDuration>"
            + "</ResetApplicationSessionTimer>"
    }

    package static func stopApplicationSession(sessionID: String) -> String {
        prolog + "<StopApplicationSession xmlns=\"\(sessionNamespace)\"><sessionID>\(escape(sessionID))</sessionID>"
            + "<sessionEndReason><definedEndReason>normal</definedEndReason></sessionEndReason>"
            + "</StopApplicationSession>"
    }

    /// The device ID AES uses for an extension on the switch connection `switchName`.
    package static func getDeviceId(switchName: String, extension: String) -> String {
        prolog + "<GetDeviceId xmlns=\"\(avayaNamespace)\"><switchName>\(escape(switchName))</switchName>"
            + "<extension>\(escape(`extension`))</extension><controllableByOtherSessions>true"
            + "</controllableByOtherSessions></GetDeviceId>"
    }

    package static func releaseDeviceId(_ device: String) -> String {
        prolog + "<ReleaseDeviceId xmlns=\"\(avayaNamespace)\"><device>\(escape(device))</device></ReleaseDeviceId>"
    }

    /// The call-control events CallTrail records, asked for with Avaya's inverted filter (`true` means "send
    /// it"), plus the digits a caller enters.
    private static let callControl = [
        "callCleared", "conferenced", "connectionCleared", "delivered", "diverted", "established", "failed", "held",
        "networkReached", "originated", "queued", "retrieved", "serviceInitiated", "transferred",
    ]

    /// A call-control monitor on a device: a device monitor for a station, a calls-via-device monitor for a VDN
    /// (it follows each call the VDN handles).
    package static func monitorStart(device: String, isVDN: Bool) -> String {
        prolog + "<MonitorStart xmlns=\"\(cstaNamespace)\"><monitorObject>"
            + "<deviceObject typeOfNumber=\"other\" mediaClass=\"notKnown\">\(escape(device))</deviceObject>"
            + "</monitorObject><requestedMonitorFilter><callcontrol>"
            + callControl.map { "<\($0)>true</\($0)>" }.joined() + "</callcontrol></requestedMonitorFilter>"
            + (isVDN ? "<monitorType>call</monitorType>" : "")
            + "<extensions><privateData><private><AvayaEvents xmlns=\"\(avayaNamespace)\">"
            + "<invertFilter>true</invertFilter><callControlPrivate><enteredDigits>true</enteredDigits>"
            + "</callControlPrivate></AvayaEvents></private></privateData></extensions></MonitorStart>"
    }

    package static func monitorStop(crossRefID: String) -> String {
        prolog + "<MonitorStop xmlns=\"\(cstaNamespace)\"><monitorCrossRefID>\(escape(crossRefID))"
            + "</monitorCrossRefID></MonitorStop>"
    }

    /// The calls at a device now, with the device's state in each: what the link asks after a gap in its events.
    package static func snapshotDevice(_ device: String) -> String {
        prolog + "<SnapshotDevice xmlns=\"\(cstaNamespace)\"><snapshotObject typeOfNumber=\"other\" "
            + "mediaClass=\"notKnown\">\(escape(device))</snapshotObject></SnapshotDevice>"
    }

    /// Registers for AES's system status, so it reports the switch link going down and up (`SystemStatus`).
    package static func systemRegister(switchName: String) -> String {
        prolog + "<SystemRegister xmlns=\"\(cstaNamespace)\"><requestTypes><systemStatus>true</systemStatus>"
            + "</requestTypes><extensions><privateData><private><ns1:SystemRegisterPrivateData "
            + "xmlns:ns1=\"\(avayaNamespace)\"><ns1:switchName>\(escape(switchName))</ns1:switchName>"
            + "</ns1:SystemRegisterPrivateData></private></privateData></extensions></SystemRegister>"
    }

    /// The answer to AES's `SystemStatus`, sent with its invoke ID.
    package static var systemStatusResponse: String {
        prolog + "<SystemStatusResponse xmlns=\"\(cstaNamespace)\"/>"
    }

    /// Text as XML character data or an attribute value.
    package static func escape(_ text: String) -> String {
        guard text.contains(where: { $0 == "<" || $0 == ">" || $0 == "&" || $0 == "\"" || $0 == "'" }) else {
            return text
        }
        var out = ""
        out.reserveCapacity(text.utf8.count + 16)
        for character in text {
            switch character {
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(character)
            }
        }
        return out
    }
}
