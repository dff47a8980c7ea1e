import DMCC
import EventStore
import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Devices added and removed while the link runs (`POST /v1/links/{name}/devices`,
/// `DELETE /v1/links/{name}/devices/{extension}`, ctiSVR's AddExtension and DelExtension).
///
/// A change is recorded in the database first (so it outlives a restart: the effective devices are the file's,
/// plus those added, minus those removed), then applied to the live session: a device added gets a device ID and a
/// monitor, one removed has its monitor stopped and its device ID released. A device AES refuses is in the link's
/// `failed`, with AES's error; asking for it again tries again.
extension AESLink {
    /// What a device change did.
    package enum DeviceChangeOutcome: Sendable, Equatable {
        /// The live session applied it: the link's document shows the result.
        case applied
        /// Recorded; the link is not up here (its next session monitors the devices as they are now), or another
        /// process owns it (and reads the change from the database within 5 s).
        case recorded
    }

    /// Adds devices: recorded, then monitored on the live session (waiting up to `wait` for AES's answers).
    package func addDevices(
        stations: [String], vdns: [String], wait: Duration = .seconds(10)
    ) async throws -> DeviceChangeOutcome {
        let changes =
            stations.map { PostgresLinkStore.DeviceChange(extension: $0, kind: "station", monitored: true) }
            + vdns.map { PostgresLinkStore.DeviceChange(extension: $0, kind: "vdn", monitored: true) }
        try await store.record(changes, link: name)
        localDeviceChanges.withLock { $0 += 1 }
        devices.withLock { devices in for change in changes { devices.apply(change) } }
        // Asked for again: a device AES refused is tried again.
        let numbers = Set(changes.map(\.extension))
        board.update(name) { $0.failed.removeAll { numbers.contains($0.extension) } }
        logger.notice("devices added at run time", metadata: ["stations": "\(stations)", "vdns": "\(vdns)"])
        return await applied(wait: wait)
    }

    /// Removes a device: recorded (it stays removed across restarts until added again), then its monitor stopped on
    /// the live session. Nil when the link does not monitor it.
    package func removeDevice(_ number: String, wait: Duration = .seconds(10)) async throws -> DeviceChangeOutcome? {
        if !isOwner {
            // Another process owns the link: the devices are as the database has them, changes made there included.
            try await refreshDevices()
        }
        guard let entry = devices.withLock({ $0.entries.first { $0.extension == number } }) else { return nil }
        try await store.record(
            [PostgresLinkStore.DeviceChange(extension: number, kind: entry.kind, monitored: false)], link: name)
        localDeviceChanges.withLock { $0 += 1 }
        devices.withLock {
            $0.apply(PostgresLinkStore.DeviceChange(extension: number, kind: entry.kind, monitored: false))
        }
        logger.notice("device removed at run time", metadata: ["extension": "\(number)"])
        return await applied(wait: wait)
    }

    /// Waits until the live session has applied the changes asked for so far; `.recorded` when the link is not up
    /// (its next session starts from the devices as they are) or it took longer than `wait`.
    private func applied(wait: Duration) async -> DeviceChangeOutcome {
        let asked = deviceChangesAsked.withLock { count in
            count += 1
            return count
        }
        devicesChanged.ring()
        // Another process owns the link: it reads the change from the database within 5 s.
        if let owner = board.status(name)?.owner, owner != LinkStatus.Owner(host: Self.host, pid: Self.pid) {
            return .recorded
        }
        let deadline = ContinuousClock.now + wait
        while ContinuousClock.now < deadline {
            if deviceChangesApplied.withLock({ $0 }) >= asked { return .applied }
            guard board.status(name)?.state == .up else { return .recorded }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return .recorded
    }

    /// The run-time changes kept in the database, applied to the file's devices before the first session; waits
    /// out a database that is away. False when the process stops first.
    func loadDevices() async -> Bool {
        let store = self.store
        let name = self.name
        guard
            let changes = await waitingOutTheDatabase(
                "the link's run-time devices",
                {
                    try await store.deviceChanges(link: name)
                })
        else { return false }
        devices.withLock { devices in for change in changes { devices.apply(change) } }
        if !changes.isEmpty {
            logger.info("devices changed at run time are restored", metadata: ["changes": "\(changes.count)"])
        }
        return true
    }

    /// Runs with the session: each time the devices change, the session's monitors follow them. Changes made
    /// through another process sharing the database are read from it every 5 s.
    func applyDeviceChanges(_ connection: DMCCConnection, _ session: LiveSession) async throws {
        var lastRead = ContinuousClock.now
        while true {
            try Task.checkCancellation()
            if ContinuousClock.now - lastRead >= .seconds(5) {
                lastRead = .now
                if (try? await refreshDevices()) == true { deviceChangesAsked.withLock { $0 += 1 } }
            }
            let asked = deviceChangesAsked.withLock { $0 }
            if deviceChangesApplied.withLock({ $0 }) < asked {
                try await reconcileDevices(connection, session)
                deviceChangesApplied.withLock { $0 = max($0, asked) }
            }
            await devicesChanged.wait(timeout: .seconds(1))
        }
    }

    /// Reads the devices as the database has them (changes made through another process sharing it included);
    /// returns whether they differ from what this process had. A read that a change of this process's overtook
    /// is not applied: that change is newer.
    @discardableResult
    func refreshDevices() async throws -> Bool {
        let before = localDeviceChanges.withLock { $0 }
        let changes = try await store.deviceChanges(link: name)
        var stored = LinkDevices(configuration)
        for change in changes { stored.apply(change) }
        return devices.withLock { devices in
            guard localDeviceChanges.withLock({ $0 }) == before, devices != stored else { return false }
            devices = stored
            return true
        }
    }

    /// Stops the monitors of devices no longer wanted and starts those of devices wanted and not monitored (nor
    /// refused by AES already in this session).
    func reconcileDevices(_ connection: DMCCConnection, _ session: LiveSession) async throws {
        let wanted = devices.withLock { $0 }
        for monitor in session.value.withLock({ $0.monitors }) where !wanted.contains(monitor.extension) {
            do {
                _ = try await connection.request(DMCCRequest.monitorStop(crossRefID: monitor.crossRefID))
                _ = try await connection.request(DMCCRequest.releaseDeviceId(monitor.device))
            } catch let error as DMCCError where error.code == .refused || error.code == .unexpectedMessage {
                // AES no longer has it: gone all the same.
                logger.notice(
                    "AES refused to stop a monitor",
                    metadata: ["extension": "\(monitor.extension)", "error": "\(LoggedError(error))"])
            }
            session.value.withLock { session in
                session.monitors.removeAll { $0.crossRefID == monitor.crossRefID }
                session.devices.removeAll { $0 == monitor.device }
            }
            board.update(name) { $0.monitored.removeAll { $0.extension == monitor.extension } }
        }
        board.update(name) { status in status.failed.removeAll { !wanted.contains($0.extension) } }
        let refused = Set(board.status(name)?.failed.map(\.extension) ?? [])
        for entry in wanted.entries where !refused.contains(entry.extension) {
            var current = session.value.withLock { $0 }
            guard !current.monitors.contains(where: { $0.extension == entry.extension }) else { continue }
            try await monitor(entry.extension, kind: entry.kind, connection, &current)
            let added = current
            session.value.withLock { session in
                session.monitors = added.monitors
                session.devices = added.devices
            }
        }
        metrics.monitors.record(session.value.withLock { $0.monitors.count })
    }
}
