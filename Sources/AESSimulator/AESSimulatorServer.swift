import DMCC
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Simulator
import Synchronization
import TSAPI

/// The simulator playing AES: it takes DMCC sessions over TCP or TLS, checks their login, hands out device IDs
/// and monitors for the simulated switches' devices, and sends the simulated contact center's events as DMCC XML
/// to each monitor an event concerns, so the whole real path (AES link → store → journeys → feed) can be run and
/// tested on one machine (`calltrail simulate --dmcc-listen`).
///
/// A session names its switch in `GetDeviceId` (`CM1` for the site `cm1`); its monitors get the crossRefIDs the
/// simulator's sites give their devices, so a link and HTTP ingest of the same traffic store the same `monitor`s.
/// A device the site does not have is refused with `invalidDeviceID`, as AES would.
package final class AESSimulatorServer: Sendable {
    package struct Options: Sendable {
        package var host = "127.0.0.1"
        package var port = 0
        package var username = "calltrail"
        package var password = "calltrail"
        /// PEM certificate chain and key: TLS when given.
        package var certificateFile: String?
        package var keyFile: String?
        /// How event XML is written; nil rotates the styles per event, so a link meets every one.
        package var style: DMCCEventWriter.Style?
        package var sites: [SwitchSite] = [.site1(stations: 12), .site2()]

        package init() {}
    }

    package let options: Options
    private let state = Mutex(ServerState())
    private let logger: Logger
    private let channel: any Channel

    struct ServerState {
        var connections: [Int: ConnectionState] = [:]
        /// Sessions by ID. A session outlives its connection for its cleanup delay, so a client can resume it.
        var sessions: [String: SessionState] = [:]
        var nextConnection = 0
        var nextSession = 0
        var eventsSent = 0
        var styleIndex = 0
        /// Every request received, by name, in order.
        var requests: [String] = []
        /// AES neither answers nor sends while silent: a peer gone quiet with its socket still open.
        var silent = false
        /// Resumes are refused, as by an AES that restarted or lost the session.
        var refusesResumes = false
        /// The switch link (Communication Manager to AES) is down: events happen, but AES reports none.
        var switchLinkDown = false
        /// The calls at each monitored device, by site: what `SnapshotDevice` answers, kept even while no session
        /// hears the events (a gap).
        var calls: [[String: [DeviceCall]]] = []
    }

    struct ConnectionState {
        var outbound: NIOAsyncChannelOutboundWriter<DMCCFrame>
        var channel: any Channel
        var sessionID: String?
    }

    struct SessionState {
        var id: String
        var site: Int?
        /// crossRefID → device extension.
        var monitors: [String: String] = [:]
        /// The connection it is on; nil after a loss, while it waits for a resume.
        var connection: Int?
        var lostAt: ContinuousClock.Instant?
        var cleanupDelay: Duration
        var stopped = false
    }

    /// A call at a device, as `SnapshotDevice` reports it.
    struct DeviceCall: Equatable {
        var callID: Int64
        /// The TSAPI connection state (`CS_CONNECT`).
        var state: String
    }

    /// The address the server listens on (its port, when 0 was asked for).
    package var port: Int { channel.localAddress?.port ?? options.port }

    private init(options: Options, channel: any Channel, logger: Logger) {
        self.options = options
        self.channel = channel
        self.logger = logger
        devices = options.sites.map { site in Dictionary(site.monitors.map { ($0.value, $0.key) }) { a, _ in a } }
        state.withLock { $0.calls = options.sites.map { _ in [:] } }
    }

    /// Each site's monitored extensions by crossRefID.
    private let devices: [[Int64: String]]
    /// The first half of every session ID this server gives: two simulated AES servers never give the same one.
    private let instance = String(format: "%016llX", UInt64.random(in: 0...UInt64.max))

    /// Starts listening; the server runs until `close()`.
    package static func start(_ options: Options, logger: Logger) async throws -> AESSimulatorServer {
        var sslContext: NIOSSLContext?
        if let certificateFile = options.certificateFile, let keyFile = options.keyFile {
            let configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(certificateFile).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem)))
            sslContext = try NIOSSLContext(configuration: configuration)
        }
        let tls = sslContext
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: options.host, port: options.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    try channel.pipeline.syncOperations.addDMCCFrameCodec()
                    return try NIOAsyncChannel<DMCCFrame, DMCCFrame>(wrappingChannelSynchronously: channel)
                }
            }
        let simulator = AESSimulatorServer(options: options, channel: server.channel, logger: logger)
        Task {
            try? await server.executeThenClose { connections in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await connection in connections {
                        group.addTask { await simulator.serve(connection) }
                    }
                }
            }
        }
        return simulator
    }

    package func close() async {
        try? await channel.close()
    }

    // MARK: - Sessions

    private func serve(_ connection: NIOAsyncChannel<DMCCFrame, DMCCFrame>) async {
        try? await connection.executeThenClose { inbound, outbound in
            let id = state.withLock { state in
                state.nextConnection += 1
                state.connections[state.nextConnection] = ConnectionState(
                    outbound: outbound, channel: connection.channel)
                return state.nextConnection
            }
            defer { lost(connection: id) }
            for try await frame in inbound {
                guard
                    let root = try? frame.body.withUnsafeBytes({ bytes throws(DMCCError) in try XMLReader.parse(bytes) }
                    )
                else {
                    logger.warning("the AES simulator got a frame that is not XML; closing")
                    return
                }
                let silent = state.withLock { state in
                    state.requests.append(root.name)
                    return state.silent
                }
                if silent { continue }
                let answer = respond(to: root, connection: id)
                if let answer { try await outbound.write(DMCCFrame(invokeID: frame.invokeID, xml: answer)) }
                if root.name == "StopApplicationSession" { return }
            }
        }
    }

    /// A connection ended: its session waits for a resume, unless it was stopped.
    private func lost(connection id: Int) {
        state.withLock { state in
            guard let connection = state.connections.removeValue(forKey: id) else { return }
            guard let sessionID = connection.sessionID, var session = state.sessions[sessionID] else { return }
            if session.stopped {
                state.sessions.removeValue(forKey: sessionID)
            } else {
                session.connection = nil
                session.lostAt = .now
                state.sessions[sessionID] = session
            }
        }
    }

    /// The session on a connection.
    private func withSession<Result>(
        _ connection: Int, _ body: (inout SessionState) -> Result
    ) -> Result? {
        state.withLock { state in
            guard let id = state.connections[connection]?.sessionID, var session = state.sessions[id] else {
                return nil
            }
            defer { state.sessions[id] = session }
            return body(&session)
        }
    }

    private static let prolog = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
    private static let sessionNS = DMCCRequest.sessionNamespace
    private static let cstaNS = DMCCRequest.cstaNamespace
    private static let avayaNS = DMCCRequest.avayaNamespace

    /// AES's answer to one request (nil for the answers clients send, such as `SystemStatusResponse`).
    func respond(to request: XMLElement, connection: Int) -> String? {
        switch request.name {
        case "StartApplicationSession":
            let login = request.descendant("SessionLoginInfo")
            guard login?.text(of: "userName") == options.username, login?.text(of: "password") == options.password
            else {
                return Self.prolog + "<StartApplicationSessionNegResponse xmlns=\"\(Self.sessionNS)\"><errorCode>"
                    + "<definedError>invalidApplicationInfo</definedError></errorCode></StartApplicationSessionNegResponse>"
            }
            let version = request.descendant("protocolVersion")?.text.trimmed ?? DMCCRequest.protocolVersions[0]
            let duration = request.text(of: "requestedSessionDuration") ?? "180"
            let cleanupDelay = login?.text(of: "sessionCleanupDelay").flatMap { Int($0) } ?? 60
            let sessionID: String?
            if let old = login?.text(of: "sessionID") {
                sessionID = resume(old, on: connection)
            } else {
                sessionID = state.withLock { state in
                    state.nextSession += 1
                    let id = String(format: "%@%016X-%d", instance, state.nextSession, connection)
                    state.sessions[id] = SessionState(
                        id: id, connection: connection, cleanupDelay: .seconds(cleanupDelay))
                    state.connections[connection]?.sessionID = id
                    return id
                }
            }
            guard let sessionID else {
                return Self.prolog + "<StartApplicationSessionNegResponse xmlns=\"\(Self.sessionNS)\"><errorCode>"
                    + "<definedError>invalidApplicationInfo</definedError></errorCode></StartApplicationSessionNegResponse>"
            }
            return Self.prolog + "<StartApplicationSessionPosResponse xmlns=\"\(Self.sessionNS)\">"
                + "<sessionID>\(sessionID)</sessionID><actualProtocolVersion>\(version)</actualProtocolVersion>"
                + "<actualSessionDuration>\(duration)</actualSessionDuration></StartApplicationSessionPosResponse>"
        case "ResetApplicationSessionTimer":
            return Self.prolog + "<ResetApplicationSessionTimerPosResponse xmlns=\"\(Self.sessionNS)\">"
                + "<actualSessionDuration>\(request.text(of: "requestedSessionDuration") ?? "180")</actualSessionDuration>"
                + "</ResetApplicationSessionTimerPosResponse>"
        case "StopApplicationSession":
            withSession(connection) { $0.stopped = true }
            return Self.prolog + "<StopApplicationSessionPosResponse xmlns=\"\(Self.sessionNS)\"/>"
        case "SystemRegister":
            return Self.prolog + "<SystemRegisterResponse xmlns=\"\(Self.cstaNS)\"><sysStatRegisterID>1"
                + "</sysStatRegisterID></SystemRegisterResponse>"
        case "GetDeviceId":
            let switchName = request.text(of: "switchName") ?? ""
            let number = request.text(of: "extension") ?? ""
            guard
                let site = options.sites.firstIndex(where: {
                    $0.name.caseInsensitiveCompare(switchName) == .orderedSame
                }),
                options.sites[site].monitors[number] != nil
            else { return Self.error("operation", "invalidDeviceID") }
            withSession(connection) { $0.site = site }
            return Self.prolog + "<GetDeviceIdResponse xmlns=\"\(Self.avayaNS)\"><device typeOfNumber=\"other\" "
                + "mediaClass=\"voice\" bitRate=\"constant\">\(number):\(options.sites[site].name.uppercased())::0"
                + "</device></GetDeviceIdResponse>"
        case "ReleaseDeviceId":
            return Self.prolog + "<ReleaseDeviceIdResponse xmlns=\"\(Self.avayaNS)\"/>"
        case "MonitorStart":
            let device = request.descendant("deviceObject")?.text.trimmed ?? ""
            let number = String(device.prefix { $0 != ":" })
            let crossRefID =
                withSession(connection) { session -> String? in
                    guard let site = session.site, let id = options.sites[site].monitors[number] else { return nil }
                    session.monitors[String(id)] = number
                    return String(id)
                } ?? nil
            guard let crossRefID else { return Self.error("operation", "invalidMonitorObject") }
            return Self.prolog + "<MonitorStartResponse xmlns=\"\(Self.cstaNS)\"><monitorCrossRefID>\(crossRefID)"
                + "</monitorCrossRefID><actualMonitorFilter/></MonitorStartResponse>"
        case "MonitorStop":
            let crossRefID = request.text(of: "monitorCrossRefID") ?? ""
            withSession(connection) { _ = $0.monitors.removeValue(forKey: crossRefID) }
            return Self.prolog + "<MonitorStopResponse xmlns=\"\(Self.cstaNS)\"/>"
        case "SnapshotDevice":
            let device = request.descendant("snapshotObject")?.text.trimmed ?? ""
            let number = String(device.prefix { $0 != ":" })
            guard let site = withSession(connection, { $0.site }) ?? nil,
                options.sites[site].monitors[number] != nil
            else { return Self.error("operation", "invalidDeviceID") }
            let calls = state.withLock { $0.calls[site][number] ?? [] }
            var xml = Self.prolog + "<SnapshotDeviceResponse xmlns=\"\(Self.cstaNS)\">"
            xml += "<crossRefIDorSnapshotData><snapshotData>"
            for call in calls {
                let state: String = DMCCEventWriter.connectionState(call.state)
                xml += "<snapshotDeviceResponseInfo><connectionIdentifier><callID>\(call.callID)</callID>"
                xml += "<deviceID>\(device)</deviceID></connectionIdentifier><localCallState><compoundCallState>"
                xml += "<localConnectionState>\(state)</localConnectionState></compoundCallState></localCallState>"
                xml += "</snapshotDeviceResponseInfo>"
            }
            return xml + "</snapshotData></crossRefIDorSnapshotData></SnapshotDeviceResponse>"
        case "SystemStatusResponse":
            return nil
        default:
            return Self.error("operation", "serviceNotSupported")
        }
    }

    /// Puts a lost session on `connection`, if it is still kept and resumes are not refused; its ID, or nil. A
    /// session still on another connection moves to this one: its client lost that connection before this server
    /// noticed (a reconnect within moments of a broken stream).
    private func resume(_ id: String, on connection: Int) -> String? {
        state.withLock { state in
            guard !state.refusesResumes, var session = state.sessions[id], !session.stopped else { return nil }
            if let old = session.connection {
                state.connections[old]?.sessionID = nil
            } else {
                guard let lostAt = session.lostAt, ContinuousClock.now - lostAt <= session.cleanupDelay else {
                    return nil
                }
            }
            session.connection = connection
            session.lostAt = nil
            state.sessions[id] = session
            state.connections[connection]?.sessionID = id
            return id
        }
    }

    private static func error(_ category: String, _ value: String) -> String {
        prolog + "<CSTAErrorCode xmlns=\"\(cstaNS)\"><\(category)>\(value)</\(category)></CSTAErrorCode>"
    }

    // MARK: - Traffic

    /// How many sessions have their monitors on each site.
    package var monitoredSites: [Int: Int] {
        state.withLock { state in
            var sites: [Int: Int] = [:]
            for session in state.sessions.values where !session.monitors.isEmpty && session.connection != nil {
                if let site = session.site { sites[site, default: 0] += session.monitors.count }
            }
            return sites
        }
    }

    package var eventsSent: Int { state.withLock { $0.eventsSent } }

    // MARK: - Failures, for drills

    /// Closes every connection, as a network failure would; the sessions wait for a resume for their cleanup delay.
    package func dropConnections() async {
        let channels = state.withLock { state in state.connections.values.map(\.channel) }
        for channel in channels { try? await channel.close() }
    }

    /// While silent, AES answers nothing and sends nothing, its sockets still open: a half-open connection.
    package func setSilent(_ silent: Bool) { state.withLock { $0.silent = silent } }

    /// Whether resumes are refused, as after AES lost its sessions.
    package func setRefusesResumes(_ refuses: Bool) { state.withLock { $0.refusesResumes = refuses } }

    /// A restart of AES: every connection closed and every session forgotten (no resume can succeed).
    package func restart() async {
        state.withLock { $0.sessions.removeAll() }
        await dropConnections()
    }

    /// Reports the switch link down or up to every session, by `SystemStatus` as AES does. While it is down, the
    /// switch's events happen (and change what `SnapshotDevice` answers) but reach no one.
    package func reportSwitchLink(up: Bool) async {
        let writers = state.withLock { state in
            state.switchLinkDown = !up
            return state.connections.values.filter { $0.sessionID != nil }.map(\.outbound)
        }
        let switchName = options.sites.first?.name.uppercased() ?? ""
        let status = up ? "normal" : "partiallyDisabled"
        let tlink = up ? "tlinkUp" : "tlinkDown"
        var xml = Self.prolog + "<SystemStatus xmlns=\"\(Self.cstaNS)\"><sysStatRegisterID>1</sysStatRegisterID>"
        xml += "<systemStatus>\(status)</systemStatus><extensions><privateData><private>"
        xml += "<SystemStatusPrivateData xmlns=\"\(Self.avayaNS)\"><switchTlinkStatus><switchName>\(switchName)"
        xml += "</switchName><tlinkStatus>\(tlink)</tlinkStatus></switchTlinkStatus>"
        xml += "</SystemStatusPrivateData></private></privateData></extensions></SystemStatus>"
        for writer in writers { try? await writer.write(DMCCFrame(invokeID: 1, xml: xml)) }
    }

    /// Sends `frame` as it is to every session: for tests of what a client does with a frame it cannot read.
    package func inject(_ frame: DMCCFrame) async {
        let writers = state.withLock { state in state.connections.values.map(\.outbound) }
        for writer in writers { try? await writer.write(frame) }
    }

    /// Writes `bytes` to every session as they are, past the frame encoder: for tests of what a client does with a
    /// stream that breaks the framing (an invoke ID that is not digits, a length that runs past the message).
    package func injectRaw(_ bytes: [UInt8]) async {
        let channels = state.withLock { state in state.connections.values.map(\.channel) }
        for channel in channels {
            try? await channel.eventLoop.flatSubmit {
                do {
                    // Written from the encoder's place in the pipeline, so it goes out beneath it, unencoded.
                    let encoder = try channel.pipeline.syncOperations.context(
                        handlerType: MessageToByteHandler<DMCCFrameEncoder>.self)
                    return encoder.writeAndFlush(NIOAny(ByteBuffer(bytes: bytes)))
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }.get()
        }
    }

    /// Every request the AES received, by name, in order.
    package var requestsReceived: [String] { state.withLock { $0.requests } }

    /// Sends one switch event to every session monitoring a device it concerns, one frame per monitor, as AES
    /// does. Returns how many frames went out.
    @discardableResult
    package func send(_ event: SwitchEvent) async -> Int {
        let deliveries = frames(for: event)
        for delivery in deliveries {
            try? await delivery.writer.write(delivery.frame)
        }
        return deliveries.count
    }

    /// The frames of many switch events, written ahead of sending: for a benchmark that times the link rather than
    /// the simulator's XML writer.
    package struct Rendered: Sendable {
        fileprivate var deliveries: [Delivery]

        /// The frames of several renderings, in order: what a paced sender writes in one go.
        package init(joining parts: some Sequence<Rendered>) { deliveries = parts.flatMap(\.deliveries) }

        fileprivate init(deliveries: [Delivery]) { self.deliveries = deliveries }
    }

    fileprivate struct Delivery: Sendable {
        var session: Int
        var writer: NIOAsyncChannelOutboundWriter<DMCCFrame>
        var frame: DMCCFrame
    }

    package func render(_ events: some Sequence<SwitchEvent>) -> Rendered {
        Rendered(deliveries: events.flatMap { frames(for: $0) })
    }

    /// Sends rendered frames in order, consecutive frames of one session in one write.
    package func send(_ rendered: Rendered, framesPerWrite: Int = 256) async {
        var start = 0
        let deliveries = rendered.deliveries
        while start < deliveries.count {
            var end = start + 1
            while end < deliveries.count, end - start < framesPerWrite,
                deliveries[end].session == deliveries[start].session
            {
                end += 1
            }
            try? await deliveries[start].writer.write(contentsOf: deliveries[start..<end].map(\.frame))
            start = end
        }
    }

    private func frames(for event: SwitchEvent) -> [Delivery] {
        let site = options.sites[event.site]
        return state.withLock { state -> [Delivery] in
            track(event, in: &state.calls[event.site])
            guard !state.silent, !state.switchLinkDown else { return [] }
            var out: [Delivery] = []
            for session in state.sessions.values.sorted(by: { $0.id < $1.id })
            where session.site == event.site && !session.stopped {
                guard let connection = session.connection, let outbound = state.connections[connection]?.outbound
                else { continue }
                for recipient in event.recipients where session.monitors[String(recipient.monitor)] != nil {
                    let style =
                        options.style
                        ?? DMCCEventWriter.Style.allCases[state.styleIndex % DMCCEventWriter.Style.allCases.count]
                    state.styleIndex += 1
                    let xml = DMCCEventWriter(style: style, switchName: site.name.uppercased())
                        .xml(event, crossRefID: String(recipient.monitor), state: recipient.state)
                    out.append(
                        Delivery(
                            session: connection, writer: outbound,
                            frame: DMCCFrame(invokeID: DMCCFrame.eventInvokeID, xml: xml)))
                }
            }
            state.eventsSent += out.count
            return out
        }
    }

    /// Keeps the calls at each monitored device as the switch's events change them: at each device that hears an
    /// event, the calls the event names end there and the event's call takes the state the device reports (none
    /// when it is `CS_NULL`); a `CALL_CLEARED` ends its call everywhere. Transfers and conferences name the
    /// resulting call in their connection lists.
    private func track(_ event: SwitchEvent, in calls: inout [String: [DeviceCall]]) {
        var named: [Int64] = []
        var resulting: Int64?
        for member in event.csta {
            let ids = Self.callIDs(in: member.value)
            named += ids
            if member.key == "transferredConnections" || member.key == "conferenceConnections" {
                resulting = resulting ?? ids.first
            }
        }
        guard let call = resulting ?? named.first else { return }
        if event.type == .callCleared {
            for device in calls.keys { calls[device]?.removeAll { named.contains($0.callID) } }
            return
        }
        for recipient in event.recipients {
            guard let device = devices[event.site][recipient.monitor] else { continue }
            var here = calls[device] ?? []
            here.removeAll { named.contains($0.callID) }
            if recipient.state != "CS_NULL" { here.append(DeviceCall(callID: call, state: recipient.state)) }
            calls[device] = here.isEmpty ? nil : here
        }
    }

    private static func callIDs(in value: JSONTree) -> [Int64] {
        switch value {
        case .object(let members):
            return members.flatMap { member -> [Int64] in
                if member.key == "callID", case .number(let text) = member.value, let id = Int64(text) { return [id] }
                return callIDs(in: member.value)
            }
        case .array(let items): return items.flatMap { callIDs(in: $0) }
        default: return []
        }
    }
}
