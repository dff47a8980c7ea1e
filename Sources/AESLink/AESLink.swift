import DMCC
import EventStore
import Foundation
import Logging
import Metrics
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Synchronization
import TSAPI

/// One AES link: a DMCC session to AES that monitors the configured stations and VDNs, and stores every event AES
/// reports, through the same appender as HTTP ingest.
///
/// The link keeps going whatever happens to AES: a connection that fails or is lost is tried again (after 1 s,
/// doubling to 30 s), a login AES refuses after a minute, doubling to 15 (a tight loop could lock the AES
/// account), and each loss and recovery is stored as `LINK_DOWN` and `LINK_UP`. Events are queued in memory and
/// appended in the order AES sent them, each with the next `seq` of the link; while the database is away they wait,
/// and nothing received is dropped (up to the links file's `maxQueuedEvents` of them: then the session ends until they are stored, and
/// the snapshots after it close the gap). On graceful shutdown the link stops its monitors, releases its device IDs, ends
/// its session, and stores the last events before it returns.
package final class AESLink: Service, Sendable {
    package let configuration: LinkConfiguration
    let board: LinkBoard
    let append: @Sendable ([IncomingEvent]) async throws -> Void
    let lastSeq: @Sendable (String) async throws -> Int64
    let logger: Logger
    let store: PostgresLinkStore
    let queue = EnvelopeQueue()
    /// What one ownership of the link leaves to the next in this process: the session lost (to resume) and since
    /// when the events have had a gap.
    /// Tells this link from the same link in an earlier process (which may have had the same pid) in the owners'
    /// table.
    let instance = UUID().uuidString
    /// Whether this process owns the link now (holds its lock, and with it the session to AES).
    let owning = Mutex(false)
    package var isOwner: Bool { owning.withLock { $0 } }

    /// Whether an earlier ownership in this process set the queue going (with the seq after the last stored).
    let queueStarted = Mutex(false)
    let carried = Mutex<LostSession?>(nil)
    /// Since when the link's events have had a gap not yet resynchronised: set at a loss (kept, if one is already
    /// open, so a loss before the snapshots of the last are all taken does not move its start), cleared once every
    /// device has been snapshot.
    let openGap = Mutex<Date?>(nil)
    private let stamper = Mutex(TimeStamper())
    /// The devices to monitor now; the events' mapping reads which are VDNs from it.
    let devices: Mutex<LinkDevices>
    /// How many device changes were asked for, and how many the live session has applied: a caller of
    /// `addDevices` waits until its change is applied.
    let deviceChangesAsked = Mutex(0)
    /// Counts the changes made through this process, so a read of the database that one overtook is not applied.
    let localDeviceChanges = Mutex(0)
    let deviceChangesApplied = Mutex(0)
    let devicesChanged = Doorbell()
    let metrics: LinkMetrics
    /// Set by `switchAES()`: the session in progress ends and the link moves to its other AES.
    private let switchRequested = Mutex(false)
    private let switchBell = Doorbell()

    /// `append` stores a batch (the event appender); `lastSeq` gives the highest `seq` stored for a source.
    package init(
        configuration: LinkConfiguration, board: LinkBoard, store: PostgresLinkStore,
        append: @escaping @Sendable ([IncomingEvent]) async throws -> Void,
        lastSeq: @escaping @Sendable (String) async throws -> Int64, logger: Logger
    ) {
        self.configuration = configuration
        self.board = board
        self.store = store
        self.append = append
        self.lastSeq = lastSeq
        var logger = logger
        logger[metadataKey: "link"] = "\(configuration.name)"
        self.logger = logger
        devices = Mutex(LinkDevices(configuration))
        metrics = LinkMetrics(link: configuration.name)
    }

    package var name: String { configuration.name }

    package func run() async throws {
        if configuration.insecureSkipVerify, configuration.url.tls {
            logger.warning("TLS certificate checks are off for this link (insecureSkipVerify)")
        }
        await runWhileOwner()
    }

    /// The link's work while this process owns it: its session to AES and the storing of what AES sends. Returns
    /// at graceful shutdown, once everything received is stored; cancelled (ownership lost), it leaves the queue
    /// as it is and the session to be resumed.
    func work() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.storeLoop() }
            await self.connectLoop()
            if !Task.isCancelled { self.queue.finish() }
        }
    }

    /// The `seq` after the highest stored for this link, so a restart never reuses one; waits out a database
    /// that is away. Nil when the process stops first.
    func firstSeq() async -> Int64? {
        await waitingOutTheDatabase("the link's last seq") { try await self.lastSeq(self.name) + 1 }
    }

    /// `read` once the database answers: tried again after 0.5 s, doubling to 10 s, while it is away. Nil when the
    /// process stops first.
    func waitingOutTheDatabase<Value: Sendable>(
        _ what: String, _ read: @Sendable () async throws -> Value
    ) async -> Value? {
        var delay = Duration.milliseconds(500)
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                return try await read()
            } catch {
                logger.warning("cannot read \(what) yet", metadata: ["error": "\(LoggedError(error))"])
                let wait = delay
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
                delay = min(delay * 2, .seconds(10))
            }
        }
        return nil
    }

    // MARK: - Connecting

    /// Which of the link's two AES servers it is on.
    package enum Target: String, Sendable {
        case primary, standby
    }

    /// What one attempt at a session left behind, for the loop to decide what comes next.
    struct Attempt {
        /// The session, once it was up (resumed or new).
        var session: Session?
        /// When it came up.
        var upSince = ContinuousClock.now
    }

    /// A session the link lost, which AES may keep for a resume until its cleanup delay has passed.
    struct LostSession: Sendable {
        var session: Session
        var at: ContinuousClock.Instant
    }

    private func connectLoop() async {
        var failures = 0
        var refusals = 0
        var target = Target.primary
        // The session lost by the link's previous owner in this process, if any, to resume.
        var lost = carried.withLock { carried in
            defer { carried = nil }
            return carried
        }
        defer { carried.withLock { $0 = lost } }
        var downSince: ContinuousClock.Instant?
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            // A move asked for while the link was not up: made now, before the next try.
            if configuration.standby != nil,
                switchRequested.withLock({ requested in
                    defer { requested = false }
                    return requested
                })
            {
                target = target == .primary ? .standby : .primary
                failures = 0
            }
            // A queue at its bound (the database away): no new session until it has drained to half.
            while queue.pending > configuration.maxQueuedEvents / 2, !Task.isShuttingDownGracefully, !Task.isCancelled {
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
            }
            let url = self.url(target)
            board.update(name) { status in
                status.state = .connecting
                status.active = target.rawValue
                status.url = url.description
            }
            var attempt = Attempt()
            let resume = lost.flatMap { lost in
                ContinuousClock.now - lost.at < .seconds(configuration.sessionCleanupDelay) ? lost.session : nil
            }
            do {
                try await session(
                    on: target, resuming: resume, gapFrom: openGap.withLock { $0 }, attempt: &attempt)
                return  // graceful shutdown: the session ended itself
            } catch {
                let wasUp = attempt.session != nil
                let refusal = (error as? LoginRefused)?.error
                let problem = refusal ?? (error as? DMCCError)
                let moving = error is SwitchRequested
                let code: LinkEnvelope.DownCode =
                    moving
                    ? .shutdown
                    : refusal != nil
                        ? .refused : problem?.code == .closed ? .closed : problem?.code == .timeout ? .silent : .error
                logger.error(
                    "AES link failed",
                    metadata: ["error": "\(LoggedError(error))", "aes": "\(url)", "code": "\(code.rawValue)"])
                if !moving { metrics.errors.increment() }
                board.update(name) { status in
                    status.state = refusal != nil ? .down : .connecting
                    status.sessionID = nil
                    status.monitored = []
                    status.lastError = LinkStatus.Problem(
                        message: "\(LoggedError(error))", aesError: problem?.aesError, at: Timestamp.format(Date()))
                    if wasUp { status.reconnects += 1 }
                }
                metrics.up.record(0)
                if let session = attempt.session {
                    // A session ended on purpose (a move to the other AES) was stopped: nothing to resume.
                    lost = moving ? nil : LostSession(session: session, at: .now)
                    openGap.withLock { $0 = $0 ?? Date() }
                    downSince = .now
                    queue.push { seq in
                        LinkEnvelope.linkDown(
                            link: self.configuration, aes: url, seq: seq, time: Date(), sessionID: session.id,
                            code: code, reason: "\(LoggedError(error))")
                    }
                } else if downSince == nil {
                    downSince = .now
                }
                let delay: Duration
                if moving {
                    switchRequested.withLock { $0 = false }
                    target = target == .primary ? .standby : .primary
                    failures = 0
                    delay = .zero
                } else if refusal != nil {
                    refusals += 1
                    delay = .seconds(min(60 * (1 << min(refusals - 1, 4)), 900))
                } else {
                    if wasUp { refusals = 0 }
                    // A session that lasted a while starts the backoff over; one that failed at once does not, so an
                    // AES that accepts and then drops every session is not logged into every second.
                    failures = wasUp && ContinuousClock.now - attempt.upSince > .seconds(30) ? 0 : failures + 1
                    if wasUp && failures <= 1 {
                        // A session lost: at once (give or take), to resume it while AES keeps it.
                        delay = Self.jittered(.milliseconds(100))
                    } else if let next = switchTarget(from: target, failures: failures, downSince: downSince) {
                        // The primary failed its retries (or has been gone 30 s): the standby, resuming the old
                        // session there first; the standby failing its own goes back.
                        logger.notice(
                            "moving the link to the other AES",
                            metadata: ["to": "\(next.rawValue)", "aes": "\(self.url(next))"])
                        target = next
                        failures = 0
                        delay = Self.jittered(.milliseconds(100))
                    } else {
                        delay = Self.jittered(.milliseconds(min(500 << min(max(failures - 1, 0), 6), 30_000)))
                    }
                }
                if delay > .zero {
                    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: delay) }
                }
            }
        }
        board.update(name) { $0.state = .down }
    }

    /// The AES to try next instead of `target`, when it is time to move: the primary after 3 failed tries in a
    /// row or 30 s without the link, the standby after 3 failed tries. Nil to stay (or without a standby).
    private func switchTarget(
        from target: Target, failures: Int, downSince: ContinuousClock.Instant?
    ) -> Target? {
        guard configuration.standby != nil else { return nil }
        switch target {
        case .primary:
            let long = downSince.map { ContinuousClock.now - $0 >= .seconds(30) } ?? false
            return failures >= 3 || long ? .standby : nil
        case .standby:
            return failures >= 3 ? .primary : nil
        }
    }

    /// `base` give or take a fifth: links of many processes that lost the same AES do not all call back at once.
    static func jittered(_ base: Duration) -> Duration {
        base * Double.random(in: 0.8...1.2)
    }

    private func url(_ target: Target) -> LinkURL {
        target == .standby ? configuration.standby ?? configuration.url : configuration.url
    }

    /// Moves the link to its other AES (`POST /v1/links/{name}/switch`): the session on this one is stopped and
    /// one is made on the other. False when the link has no standby.
    package func switchAES() -> Bool {
        guard configuration.standby != nil else { return false }
        switchRequested.withLock { $0 = true }
        switchBell.ring()
        return true
    }

    /// Connects, resumes `resuming` or starts a session and its monitors, takes a snapshot of every device when the
    /// link comes back from a gap, and serves the connection until graceful shutdown (then stops it cleanly and
    /// returns) or until it fails (then throws). `attempt` says whether the session came up.
    private func session(
        on target: Target, resuming: Session?, gapFrom: Date?, attempt: inout Attempt
    ) async throws {
        let url = self.url(target)
        let tls = try url.tls ? makeTLSContext() : nil
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(10))
            .connect(host: url.host, port: url.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        let isAddress = url.host.contains(":") || url.host.allSatisfy { $0.isNumber || $0 == "." }
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: tls, serverHostname: isAddress ? nil : url.host))
                    }
                    try channel.pipeline.syncOperations.addDMCCFrameCodec()
                    return try NIOAsyncChannel<DMCCFrame, DMCCFrame>(wrappingChannelSynchronously: channel)
                }
            }
        var live: LiveSession?
        defer { attempt.session = live?.value.withLock { $0 } }
        try await channel.executeThenClose { inbound, outbound in
            let connection = DMCCConnection(outbound: outbound)
            let (gaps, gap) = AsyncStream.makeStream(of: Date.self)
            let context = ReadContext(url: url)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await self.read(inbound, connection, context: context, gaps: gap) }
                let session = LiveSession(try await self.start(connection, url: url, resuming: resuming))
                live = session
                attempt.upSince = .now
                context.sessionID.withLock { $0 = session.id }
                group.addTask { try await self.keepAlive(connection, session: session.value.withLock { $0 }) }
                group.addTask { try await self.applyDeviceChanges(connection, session) }
                group.addTask { try await gracefulShutdown() }
                group.addTask {
                    while !self.switchRequested.withLock({ $0 }) {
                        try Task.checkCancellation()
                        await self.switchBell.wait(timeout: .seconds(1))
                    }
                    throw SwitchRequested(to: target == .primary ? .standby : .primary)
                }
                group.addTask {
                    // Ends only with the connection (the group's cancellation ends the stream's iteration).
                    for await from in gaps {
                        try await self.resynchronise(
                            connection, session.value.withLock { $0 }, url: url, gapFrom: from)
                    }
                    try Task.checkCancellation()
                }
                if let gapFrom { gap.yield(gapFrom) }
                // The first to finish: a failure of the reader or the keep-alive (thrown), a move to the other AES
                // (thrown), or the shutdown.
                do {
                    _ = try await group.next()
                } catch let error as SwitchRequested {
                    await self.stop(
                        connection, session: session.value.withLock { $0 }, url: url, reason: "\(LoggedError(error))",
                        code: nil)
                    group.cancelAll()
                    throw error
                }
                await self.stop(
                    connection, session: session.value.withLock { $0 }, url: url, reason: "CallTrail is stopping",
                    code: .shutdown)
                group.cancelAll()
            }
        }
    }

    private func makeTLSContext() throws -> NIOSSLContext {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile = configuration.caFile {
            tls.trustRoots = .file(caFile)
        }
        if configuration.insecureSkipVerify {
            tls.certificateVerification = .none
        }
        return try NIOSSLContext(configuration: tls)
    }

    // MARK: - The session

    struct Session: Sendable {
        var id: String
        var duration: Int
        /// Monitors started: the extension, its kind, the crossRefID and the device ID AES gave.
        var monitors: [Monitor]
        var devices: [String]
        /// Whether AES took back a lost session (its monitors with it) rather than starting a new one.
        var resumed = false
    }

    /// The session of a live connection: the device changes made at run time change its monitors while the
    /// keep-alive, the snapshots and the stop read them.
    final class LiveSession: Sendable {
        let value: Mutex<Session>
        let id: String
        init(_ session: Session) {
            value = Mutex(session)
            id = session.id
        }
    }

    struct Monitor: Sendable {
        var `extension`: String
        var kind: String
        var crossRefID: String
        var device: String
    }

    /// What the reader of one connection knows of its session: the ID (once started) and since when AES has
    /// reported the switch link down.
    final class ReadContext: Sendable {
        let url: LinkURL
        let sessionID = Mutex<String?>(nil)
        let switchLinkDownSince = Mutex<Date?>(nil)

        init(url: LinkURL) { self.url = url }
    }

    private func start(_ connection: DMCCConnection, url: LinkURL, resuming: Session?) async throws -> Session {
        var session: Session
        if let resuming, let resumed = try await resume(resuming, connection) {
            session = resumed
        } else {
            session = try await login(connection, refusedResume: resuming?.id)
        }
        // Recorded as the session starts, so the events of the monitors being started come after it.
        let up = session
        queue.push { seq in
            LinkEnvelope.linkUp(
                link: self.configuration, aes: url, seq: seq, time: Date(), sessionID: up.id, resumed: up.resumed,
                reason: up.resumed
                    ? "session resumed with its monitors"
                    : resuming != nil ? "AES did not resume the lost session; a new one was started" : "session started"
            )
        }
        board.update(name) { status in
            status.sessionID = up.id
            // A resumed session keeps its monitors and the devices AES refused it; a new one asks for each again.
            status.monitored = up.monitors.map {
                .init(extension: $0.extension, kind: $0.kind, monitorCrossRefID: $0.crossRefID, error: nil)
            }
            if !up.resumed { status.failed = [] }
        }
        if !session.resumed {
            // AES reports the switch link through SystemStatus once registered; a refusal is no reason to stop.
            do {
                _ = try await connection.request(DMCCRequest.systemRegister(switchName: configuration.switchName))
            } catch {
                logger.notice(
                    "AES refused SystemRegister; the switch link's state will not be reported",
                    metadata: ["error": "\(LoggedError(error))"])
            }
            for entry in devices.withLock({ $0.entries }) {
                try await monitor(entry.extension, kind: entry.kind, connection, &session)
            }
        } else {
            // The resumed session has the monitors it had; the devices changed since are started or stopped.
            let live = LiveSession(session)
            try await reconcileDevices(connection, live)
            session = live.value.withLock { $0 }
        }
        metrics.monitors.record(session.monitors.count)
        // `lastError` stays: once the link is up again it says why it last went down.
        board.update(name) { $0.state = .up }
        metrics.up.record(1)
        return session
    }

    /// Asks AES to take back a lost session, with its monitors; nil when it will not (it no longer keeps it, or
    /// it gave a new session instead), and the link then starts a new one.
    private func resume(_ lost: Session, _ connection: DMCCConnection) async throws -> Session? {
        let answer: DMCCMessage
        do {
            answer = try await connection.request(startRequest(resume: lost.id))
        } catch let error as DMCCError where error.code == .refused {
            logger.notice(
                "AES did not resume the lost session",
                metadata: ["session": "\(lost.id)", "error": "\(LoggedError(error))"])
            return nil
        }
        guard case .sessionStarted(let id, _, let duration) = answer, id == lost.id else {
            if case .sessionStarted(let id, _, _) = answer, !id.isEmpty {
                // A session AES made anew: stopped again, so it does not hold a licence until it times out.
                _ = try? await connection.request(
                    DMCCRequest.stopApplicationSession(sessionID: id), timeout: .seconds(2))
            }
            return nil
        }
        logger.info("AES session resumed", metadata: ["session": "\(id)"])
        var session = lost
        session.duration = duration ?? lost.duration
        session.resumed = true
        return session
    }

    private func startRequest(resume: String? = nil) -> String {
        DMCCRequest.startApplicationSession(
            applicationID: "CallTrail-\(name)", username: configuration.username, password: configuration.password,
            protocolVersions: configuration.protocolVersions, duration: configuration.sessionDuration,
            cleanupDelay: configuration.sessionCleanupDelay, resume: resume)
    }

    /// A new session.
    private func login(_ connection: DMCCConnection, refusedResume: String?) async throws -> Session {
        let answer: DMCCMessage
        do {
            answer = try await connection.request(startRequest())
        } catch let error as DMCCError where error.code == .refused {
            throw LoginRefused(error: error)
        }
        guard case .sessionStarted(let id, let version, let duration) = answer, !id.isEmpty else {
            throw DMCCError(.unexpectedMessage, "AES answered StartApplicationSession with \(answer)")
        }
        logger.info(
            "AES session started",
            metadata: ["session": "\(id)", "protocol": "\(version ?? "?")", "duration": "\(duration ?? 0)"])
        return Session(id: id, duration: duration ?? configuration.sessionDuration, monitors: [], devices: [])
    }

    /// A device ID and a monitor for one extension; AES refusing either is recorded for that device and the
    /// others go on.
    func monitor(
        _ number: String, kind: String, _ connection: DMCCConnection, _ session: inout Session
    ) async throws {
        do {
            let answer = try await connection.request(
                DMCCRequest.getDeviceId(switchName: configuration.switchName, extension: number))
            guard case .deviceID(let device) = answer, !device.isEmpty else {
                throw DMCCError(.unexpectedMessage, "AES answered GetDeviceId with \(answer)")
            }
            session.devices.append(device)
            let started = try await connection.request(DMCCRequest.monitorStart(device: device, isVDN: kind == "vdn"))
            guard case .monitorStarted(let crossRefID) = started, !crossRefID.isEmpty else {
                throw DMCCError(.unexpectedMessage, "AES answered MonitorStart with \(started)")
            }
            session.monitors.append(Monitor(extension: number, kind: kind, crossRefID: crossRefID, device: device))
            board.update(name) {
                $0.monitored.append(.init(extension: number, kind: kind, monitorCrossRefID: crossRefID, error: nil))
            }
        } catch let error as DMCCError where error.code == .refused || error.code == .unexpectedMessage {
            // AES refused this device (or answered oddly): recorded, and the others go on.
            logger.warning(
                "AES refused a device", metadata: ["extension": "\(number)", "error": "\(LoggedError(error))"])
            board.update(name) {
                $0.failed.append(
                    .init(extension: number, kind: kind, monitorCrossRefID: nil, error: error.aesError ?? error.message)
                )
            }
        }
        // Any other error (the connection lost, no answer) ends the session: it is thrown on.
    }

    /// After a gap in the link's events, the calls at every monitored device as AES has them now, each device's
    /// recorded as one `LINK_SNAPSHOT`: the projections end the legs a snapshot no longer holds and take up the
    /// calls they did not know. Each snapshot is queued by the reader as its answer arrives, so it stands in the
    /// log exactly where it stood among the events AES sent.
    private func resynchronise(
        _ connection: DMCCConnection, _ session: Session, url: LinkURL, gapFrom: Date
    ) async throws {
        let gapTo = Date()
        for monitor in session.monitors {
            do {
                _ = try await connection.request(DMCCRequest.snapshotDevice(monitor.device)) { answer in
                    guard case .snapshot(let calls) = answer else { return }
                    self.queue.push { seq in
                        LinkEnvelope.snapshot(
                            link: self.configuration, aes: url, seq: seq, time: Date(), sessionID: session.id,
                            device: monitor.extension, kind: monitor.kind, calls: calls, gap: (gapFrom, gapTo))
                    }
                }
            } catch let error as DMCCError where error.code == .refused || error.code == .timeout {
                logger.warning(
                    "AES refused a device's snapshot; its calls cannot be resynchronised",
                    metadata: ["extension": "\(monitor.extension)", "error": "\(LoggedError(error))"])
            }
        }
        openGap.withLock { open in if open == gapFrom { open = nil } }
        logger.info(
            "link resynchronised after a gap",
            metadata: ["devices": "\(session.monitors.count)", "gap_seconds": "\(gapTo.timeIntervalSince(gapFrom))"])
    }

    /// Resets the session timer at a third of the duration AES granted (well inside it, however late a timer
    /// fires), and reports the round trip. A reset AES does not answer within 5 s ends the connection as `silent`:
    /// a peer gone quiet without closing its socket is found within one interval and that deadline.
    private func keepAlive(_ connection: DMCCConnection, session: Session) async throws {
        let interval = Duration.seconds(max(1, session.duration / 3))
        while true {
            try await Task.sleep(for: interval)
            let start = ContinuousClock.now
            do {
                _ = try await connection.request(
                    DMCCRequest.resetApplicationSessionTimer(sessionID: session.id, duration: session.duration),
                    timeout: .seconds(5))
            } catch let error as DMCCError where error.code == .timeout {
                let silent = DMCCError(.timeout, "AES did not answer the keep-alive within 5 s")
                connection.close(silent)
                throw silent
            }
            let elapsed = (ContinuousClock.now - start).components
            metrics.keepAlive.record(Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18)
        }
    }

    /// Records `LINK_DOWN` (when `code` is given: a move to the other AES records its own), then stops every
    /// monitor, releases the device IDs and ends the session, within 8 s in all (AES may be slow or gone, and the
    /// process's graceful shutdown is bounded): what AES does not answer in time it cleans up itself when the
    /// session ends.
    private func stop(
        _ connection: DMCCConnection, session: Session, url: LinkURL, reason: String, code: LinkEnvelope.DownCode?
    ) async {
        board.update(name) { status in
            status.state = .down
            status.monitored = []
        }
        metrics.up.record(0)
        if let code {
            queue.push { seq in
                LinkEnvelope.linkDown(
                    link: self.configuration, aes: url, seq: seq, time: Date(), sessionID: session.id, code: code,
                    reason: reason)
            }
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for monitor in session.monitors {
                    _ = try? await connection.request(
                        DMCCRequest.monitorStop(crossRefID: monitor.crossRefID), timeout: .seconds(2))
                }
                for device in session.devices {
                    _ = try? await connection.request(DMCCRequest.releaseDeviceId(device), timeout: .seconds(2))
                }
                _ = try? await connection.request(
                    DMCCRequest.stopApplicationSession(sessionID: session.id), timeout: .seconds(2))
            }
            group.addTask { try? await Task.sleep(for: .seconds(8)) }
            await group.next()
            group.cancelAll()
        }
        logger.info("AES session stopped", metadata: ["session": "\(session.id)"])
    }

    // MARK: - Reading

    /// Reads every frame until the connection ends (then throws why): answers go to their requests, AES's own
    /// requests are answered, events are stored. A frame that cannot be read ends the connection: nothing after it
    /// can be trusted. AES reporting the switch link down marks the link down (the session stays); reporting it up
    /// again marks it up and asks for a snapshot of every device (`gaps`).
    private func read(
        _ inbound: NIOAsyncChannelInboundStream<DMCCFrame>, _ connection: DMCCConnection, context: ReadContext,
        gaps: AsyncStream<Date>.Continuation
    ) async throws {
        do {
            for try await frame in inbound {
                let root = try frame.body.withUnsafeBytes { bytes throws(DMCCError) in try XMLReader.parse(bytes) }
                let message = DMCCMessage(root)
                switch message {
                case .event(let element):
                    received(element, xml: frame.xml)
                    // Past the bound (the database away long): the session ends rather than memory grow without
                    // bound; it starts again once the queue has drained, and snapshots close the gap.
                    if queue.pending > configuration.maxQueuedEvents {
                        throw DMCCError(
                            .closed,
                            "\(queue.pending) events wait for the database; the session is ended until they are stored "
                                + "(what happens meanwhile is resynchronised by snapshots)")
                    }
                case .systemStatus(let switchLinkUp):
                    try await connection.answer(invokeID: frame.invokeID, xml: DMCCRequest.systemStatusResponse)
                    if let switchLinkUp { switchLink(up: switchLinkUp, context: context, gaps: gaps) }
                case .sessionTerminated(let reason):
                    throw DMCCError(.closed, "AES ended the session (\(reason ?? "no reason given"))")
                default:
                    if !connection.complete(invokeID: frame.invokeID, with: message) {
                        logger.debug("an answer no request waits for", metadata: ["invokeID": "\(frame.invokeID)"])
                    }
                }
            }
        } catch let error as DMCCError {
            connection.close(error)
            throw error
        } catch {
            let closed = DMCCError(.closed, "the connection to AES failed: \(error)")
            connection.close(closed)
            throw closed
        }
        let closed = DMCCError(.closed, "AES closed the connection")
        connection.close(closed)
        throw closed
    }

    /// AES reports the switch link (Communication Manager to AES): down, the link is down with its session kept,
    /// and `LINK_DOWN` says `tlink-down`; up again, `LINK_UP` (the session resumed) and a snapshot of every device.
    private func switchLink(up: Bool, context: ReadContext, gaps: AsyncStream<Date>.Continuation) {
        let sessionID = context.sessionID.withLock { $0 }
        let now = Date()
        let change = context.switchLinkDownSince.withLock { since -> Date?? in
            if up, let from = since {
                since = nil
                return .some(from)
            }
            if !up, since == nil {
                since = now
                return .some(nil)
            }
            return .none
        }
        guard let change else { return }
        logger.notice("AES reports the switch link", metadata: ["up": "\(up)"])
        if let gapFrom = change {
            queue.push { seq in
                LinkEnvelope.linkUp(
                    link: self.configuration, aes: context.url, seq: seq, time: now, sessionID: sessionID ?? "",
                    resumed: true, reason: "AES reports the switch link up again")
            }
            board.update(name) { $0.state = .up }
            metrics.up.record(1)
            gaps.yield(gapFrom)
        } else {
            queue.push { seq in
                LinkEnvelope.linkDown(
                    link: self.configuration, aes: context.url, seq: seq, time: now, sessionID: sessionID,
                    code: .tlinkDown, reason: "AES reports the switch link down")
            }
            board.update(name) { status in
                status.state = .down
                status.lastError = LinkStatus.Problem(
                    message: "AES reports the switch link (Communication Manager to AES) down", aesError: "tlinkDown",
                    at: Timestamp.format(now))
            }
            metrics.up.record(0)
        }
    }

    /// One event: mapped, numbered and queued for the store. An event the mapping cannot read is logged and
    /// counted; its connection goes on.
    private func received(_ element: XMLElement, xml: String) {
        let event: DMCCEvent
        do {
            let (vdns, stations) = devices.withLock { ($0.vdns, $0.stations) }
            event = try DMCCEvent(element, vdns: vdns, stations: stations)
        } catch {
            logger.warning("an event that cannot be read", metadata: ["error": "\(LoggedError(error))"])
            metrics.errors.increment()
            return
        }
        if !event.unknownElements.isEmpty {
            metrics.unknownElements.increment(by: event.unknownElements.count)
        }
        let now = Date()
        let time = stamper.withLock { $0.time(for: event, now: now) }
        queue.push(xml: xml) { seq in LinkEnvelope.event(event, link: self.configuration, seq: seq, time: time) }
        metrics.events.increment()
        board.update(name) { status in
            status.eventsReceived += 1
            status.lastEventAt = Timestamp.format(now)
        }
    }

    // MARK: - Storing

    /// Appends the queued envelopes in order, in batches, until the link has stopped and the queue is empty. A
    /// batch that fails (the database is away) is tried again as it is: nothing received is dropped.
    func storeLoop() async {
        var delay = Duration.milliseconds(200)
        // Cancelled (this process lost the link's lock), it stops before the next batch: another process may own
        // the link now and number its own events from the last one stored.
        while !Task.isCancelled, let batch = await queue.next(max: 1_000) {
            var batch = batch
            while true {
                do {
                    let bytes = Array(batch.map(\.envelope).joined(separator: "\n").utf8)
                    var events = try bytes.withUnsafeBytes { bytes throws(TSAPIError) in
                        try IngestBatchParser.parse(bytes)
                    }
                    // Each envelope is one event; its XML is stored beside it.
                    guard events.count == batch.count else {
                        throw TSAPIError.batch(
                            message: "\(batch.count) envelopes read as \(events.count) events", index: nil, field: nil)
                    }
                    for (index, item) in zip(events.indices, batch) { events[index].sourceMessage = item.xml }
                    try await append(events)
                    queue.stored(batch.count)
                    delay = .milliseconds(200)
                    break
                } catch let error as TSAPIError {
                    // The link wrote an envelope the parser refuses: a bug of CallTrail's. Each envelope is read
                    // alone, and one that cannot be is stored as a placeholder with its seq, so the link's seqs
                    // stay without a gap (a restart finds the last one by that).
                    logger.error(
                        "the link wrote envelopes that do not parse", metadata: ["error": "\(LoggedError(error))"])
                    batch = queue.replace(batch.count) { envelope in
                        let bytes = Array(envelope.utf8)
                        let readable = bytes.withUnsafeBytes { (try? IngestBatchParser.parse($0)) != nil }
                        return readable ? envelope : LinkEnvelope.unreadable(envelope, link: self.configuration)
                    }
                    continue
                } catch {
                    if Task.isCancelled { return }
                    logger.warning(
                        "storing the link's events failed; retrying",
                        metadata: ["error": "\(LoggedError(error))", "events": "\(batch.count)"])
                    try? await Task.sleep(for: delay)
                    delay = min(delay * 2, .seconds(5))
                }
            }
        }
    }
}

/// The envelopes received and not yet stored, in order, each numbered with the link's next `seq` as it is
/// queued (numbering and queueing are one step, so the queue's order is the seqs' order).
final class EnvelopeQueue: Sendable {
    /// An envelope, and the XML of the event it holds (nil for `LINK_UP` and `LINK_DOWN`).
    struct Item: Sendable {
        var envelope: String
        var xml: String?
    }

    private struct State {
        var items: [Item] = []
        /// Items before `head` are stored; the array is compacted now and then, not shifted on every batch.
        var head = 0
        var nextSeq: Int64 = 1
        var finished = false
    }
    private let state = Mutex(State())
    private let bell = Doorbell()

    func start(at seq: Int64) { state.withLock { $0.nextSeq = seq } }

    /// Drops what is not stored yet and numbers from `seq` on: another process owned the link meanwhile and
    /// stored its own events under the seqs these had. Returns how many were dropped.
    func reset(at seq: Int64) -> Int {
        state.withLock { state in
            let dropped = state.items.count - state.head
            state = State()
            state.nextSeq = seq
            return dropped
        }
    }

    /// How many envelopes wait to be stored.
    var pending: Int { state.withLock { $0.items.count - $0.head } }

    /// Queues the envelope `make` writes for the next seq, with the XML it was made of.
    func push(xml: String? = nil, _ make: (Int64) -> String) {
        state.withLock { state in
            state.items.append(Item(envelope: make(state.nextSeq), xml: xml))
            state.nextSeq += 1
        }
        bell.ring()
    }

    /// No more envelopes will come: `next` returns nil once the queue is empty.
    func finish() {
        state.withLock { $0.finished = true }
        bell.ring()
    }

    /// The oldest envelopes not yet stored, at most `max`; they stay at the head until `stored(_:)` says so.
    func next(max: Int) async -> [Item]? {
        while true {
            let batch = state.withLock { state -> [Item]? in
                if state.head == state.items.count { return state.finished ? [] : nil }
                return Array(state.items[state.head..<min(state.items.count, state.head + max)])
            }
            if let batch { return batch.isEmpty ? nil : batch }
            await bell.wait(timeout: .seconds(1))
            if Task.isCancelled { return nil }
        }
    }

    func stored(_ count: Int) {
        state.withLock { state in
            state.head += count
            if state.head > 4_096, state.head * 2 > state.items.count {
                state.items.removeFirst(state.head)
                state.head = 0
            }
        }
    }

    /// Replaces the first `count` envelopes not yet stored by what `transform` makes of each; returns them.
    func replace(_ count: Int, _ transform: (String) -> String) -> [Item] {
        state.withLock { state in
            for index in state.head..<min(state.items.count, state.head + count) {
                state.items[index].envelope = transform(state.items[index].envelope)
            }
            return Array(state.items[state.head..<min(state.items.count, state.head + count)])
        }
    }
}

/// A link's metrics, made once: looking one up by label and dimensions takes the registry's lock, which at an
/// event's pace is not free.
struct LinkMetrics {
    let up: Gauge
    let events: Counter
    let errors: Counter
    let unknownElements: Counter
    let monitors: Gauge
    let keepAlive: Gauge

    init(link: String) {
        let dimensions = [("link", link)]
        up = Gauge(label: "calltrail_link_up", dimensions: dimensions)
        events = Counter(label: "calltrail_link_events_total", dimensions: dimensions)
        errors = Counter(label: "calltrail_link_errors_total", dimensions: dimensions)
        unknownElements = Counter(label: "calltrail_link_unknown_elements_total", dimensions: dimensions)
        monitors = Gauge(label: "calltrail_link_monitors", dimensions: dimensions)
        keepAlive = Gauge(label: "calltrail_link_keepalive_seconds", dimensions: dimensions)
    }
}

/// The operator asked the link to move to its other AES.
struct SwitchRequested: Error, CustomStringConvertible {
    var to: AESLink.Target
    var description: String { "moved to the \(to.rawValue) AES at the operator's request" }
}

/// A login AES refused: retried after minutes, not seconds, so the AES account is not locked.
struct LoginRefused: Error, CustomStringConvertible {
    var error: DMCCError
    var description: String { error.description }
}

/// Gives each event its time: when it was received, except that a copy of an event another monitor of the link
/// reported a moment before (same type, call and connection) takes that event's time, so the projections count
/// the switch event once however many monitors saw it.
struct TimeStamper {
    private var recent: [(key: String, monitor: String, time: Date)] = []

    mutating func time(for event: DMCCEvent, now: Date) -> Date {
        recent.removeAll { now.timeIntervalSince($0.time) > 1 }
        let key = "\(event.type)|\(event.callID ?? 0)|\(event.device ?? "")"
        if let copy = recent.first(where: { $0.key == key && $0.monitor != event.monitor }) {
            recent.append((key, event.monitor, copy.time))
            return copy.time
        }
        recent.append((key, event.monitor, now))
        if recent.count > 256 { recent.removeFirst(recent.count - 256) }
        return now
    }
}
