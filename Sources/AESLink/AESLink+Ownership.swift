import EventStore
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization
import TSAPI

/// Several CallTrail processes on one database: each link is owned by one of them, the one holding the link's
/// advisory lock, which alone keeps a session to AES (two sessions would store every event twice). The others wait
/// for the lock and answer `GET /v1/links` with the owner's last report (`owner: {host, pid}`).
///
/// The owner reports the link's state to `link_owners` as it changes and at least every 2 s, on the lock's own
/// connection. If its process
/// dies, PostgreSQL frees the lock as the connection drops, another process takes it within about a second, and
/// records `LINK_DOWN` with code `owner-lost`; its session then snapshots every device, so the journeys learn what
/// happened in the gap. If the owner loses its lock's connection (PostgreSQL restarted, a network cut) it stops
/// its session abruptly (AES keeps it for `sessionCleanupDelay`) and tries to take the lock again: taken back, it
/// resumes its session and stores what it kept meanwhile; taken by another, what it kept is dropped, since the new
/// owner numbered its own events from the last one stored.
extension AESLink {
    /// This process, as the owners' table names it.
    static let host = ProcessInfo.processInfo.hostName
    static let pid = Int(ProcessInfo.processInfo.processIdentifier)

    /// The longest one step on the database may take (a report, a try of the lock): a query on a connection
    /// PostgreSQL dropped can otherwise wait for ever, and an owner that cannot report may have lost its lock.
    static let databaseStep = Duration.seconds(5)

    /// What the owner writes to `link_owners.status`.
    struct OwnerReport: Codable {
        var status: LinkStatus
        var instance: String
        /// The owner let the link go on purpose (it stopped): no gap to record for the next.
        var released: Bool
    }

    /// The reporter's signal that the lock's connection failed: the lock may be gone with it.
    struct OwnershipLost: Error, CustomStringConvertible {
        var cause: String
        var description: String { "the link's lock in the database was lost: \(cause)" }
    }

    /// Waits for the link's lock and does the link's work while holding it, until graceful shutdown.
    func runWhileOwner() async {
        var delay = Duration.milliseconds(500)
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                try await store.client.withConnection { lock in
                    try await self.waitForLock(lock)
                    do {
                        try await self.own(lock)
                        await self.release(lock, report: true)
                    } catch {
                        await self.release(lock, report: nil)
                        throw error
                    }
                }
                return
            } catch {
                if Task.isShuttingDownGracefully || Task.isCancelled { return }
                logger.warning(
                    "the link's ownership is interrupted; retrying", metadata: ["error": "\(LoggedError(error))"])
                board.update(name) { status in
                    status.state = .connecting
                    status.monitored = []
                    status.sessionID = nil
                }
                let wait = delay
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
                delay = min(delay * 2, .seconds(5))
            }
        }
    }

    /// Tries the lock every second until it is this process's; meanwhile the board shows the owner's report.
    private func waitForLock(_ lock: PostgresConnection) async throws {
        var logged = false
        let store = self.store
        let name = self.name
        while !(try await withDatabaseTimeout(Self.databaseStep, { try await store.tryLock(name, on: lock) })) {
            if let row = try await withDatabaseTimeout(Self.databaseStep, { try await store.owner(link: name) }),
                let report = try? JSONDecoder().decode(OwnerReport.self, from: Data(row.status.utf8))
            {
                var status = report.status
                status.owner = LinkStatus.Owner(host: row.host, pid: row.pid)
                board.mirror(status)
                if !logged {
                    logger.info("another process owns the link; waiting", metadata: ["owner": "\(row.host) \(row.pid)"])
                    logged = true
                }
            }
            try await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
        }
    }

    /// The link's work while this process holds the lock on `lock`.
    private func own(_ lock: PostgresConnection) async throws {
        owning.withLock { $0 = true }
        defer { owning.withLock { $0 = false } }
        let store = self.store
        let name = self.name
        let previous = try await withDatabaseTimeout(Self.databaseStep) { try await store.owner(link: name) }
        let report = previous.flatMap { try? JSONDecoder().decode(OwnerReport.self, from: Data($0.status.utf8)) }
        let ours = report?.instance == instance
        if !ours || !queueStarted.withLock({ $0 }) {
            guard let first = await firstSeq(), await loadDevices() else { return }
            if queueStarted.withLock({ $0 }) {
                let dropped = queue.reset(at: first)
                carried.withLock { $0 = nil }
                openGap.withLock { $0 = nil }
                logger.error(
                    "another process owned the link while this one had lost its database; events it had not stored are dropped",
                    metadata: ["dropped": "\(dropped)"])
            } else {
                queue.start(at: first)
            }
            queueStarted.withLock { $0 = true }
            if let previous, report != nil, !ours {
                // Events of the handover went to no one: from the last owner's last report to this one's session.
                openGap.withLock { $0 = previous.updatedAt }
            }
            if let previous, let report, !ours, !report.released {
                // The last owner died holding the link.
                let aes = report.status.url
                queue.push { seq in
                    LinkEnvelope.ownerLost(
                        link: self.configuration, aes: aes, seq: seq, time: Date(), sessionID: report.status.sessionID,
                        reason: "the process that owned the link (\(previous.host) pid \(previous.pid)) stopped "
                            + "reporting at \(Timestamp.format(previous.updatedAt)); this one took it over")
                }
                logger.notice(
                    "took the link over from a process that stopped",
                    metadata: ["previous": "\(previous.host) \(previous.pid)"])
            }
        }
        board.update(name) { $0.owner = LinkStatus.Owner(host: Self.host, pid: Self.pid) }
        try await reportStatus(on: lock, released: false)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // A change is reported within a quarter of a second, and the state at least every 2 s: the time of
                // the last report is where a successor's gap starts.
                var reported = self.board.status(self.name)
                var at = ContinuousClock.now
                while true {
                    try await Task.sleep(for: .milliseconds(250))
                    let now = self.board.status(self.name)
                    guard now != reported || ContinuousClock.now - at >= .seconds(2) else { continue }
                    do {
                        try await self.reportStatus(on: lock, released: false)
                        reported = now
                        at = .now
                    } catch is CancellationError {
                        return
                    } catch {
                        throw OwnershipLost(cause: "\(LoggedError(error))")
                    }
                }
            }
            group.addTask { await self.work() }
            // The work ends at graceful shutdown; the reporter only by failing.
            try await group.next()
            group.cancelAll()
        }
    }

    private func reportStatus(on lock: PostgresConnection, released: Bool) async throws {
        guard var status = board.status(name) else { return }
        status.owner = LinkStatus.Owner(host: Self.host, pid: Self.pid)
        let report = OwnerReport(status: status, instance: instance, released: released)
        let text = String(decoding: try JSONEncoder().encode(report), as: UTF8.self)
        let store = self.store
        let name = self.name
        try await withDatabaseTimeout(Self.databaseStep) {
            try await store.report(link: name, host: Self.host, pid: Self.pid, status: text, on: lock)
        }
    }

    /// Lets the lock go (and, after a clean stop, says so in the owners' table, so the next owner records no
    /// `owner-lost`). The lock belongs to the connection, which goes back to the pool: if the unlock fails, the
    /// connection is closed instead, so the lock cannot go back with it.
    private func release(_ lock: PostgresConnection, report: Bool?) async {
        if report == true {
            do { try await reportStatus(on: lock, released: true) } catch {
                logger.warning("could not report the link released", metadata: ["error": "\(LoggedError(error))"])
            }
        }
        let store = self.store
        let name = self.name
        do {
            try await withDatabaseTimeout(Self.databaseStep) { try await store.unlock(name, on: lock) }
        } catch {
            logger.warning(
                "could not let the link's lock go; closing its connection", metadata: ["error": "\(LoggedError(error))"]
            )
            try? await lock.close()
        }
    }
}
