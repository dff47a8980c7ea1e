import EventStore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TSAPI

/// Writes access control's events to the log: token changes as they happen, refusals counted per address and
/// reason and written every `interval` as one event per kind (with how many, from when to when).
///
/// Why counted: a scanner sending thousands of bad requests must not write thousands of events; it writes one
/// every few seconds that says how many. At most `maxKinds` kinds wait at once; refusals past that are counted in
/// one last event for the address `*`.
///
/// A database away only delays the events: they wait (up to `maxWaiting`) and go with the next write. It is a
/// `Service` that stops before the appender, writing what is waiting.
package final class AccessRecorder: Service, Sendable {
    typealias Append = @Sendable ([IncomingEvent]) async throws -> Void

    private struct Counted {
        var count: Int
        var path: String
        var first: Date
        var last: Date
    }

    private struct Pending {
        var refusals: [AccessEvent.Refusals: Counted] = [:]
        var overflow: Counted?
        var events: [IncomingEvent] = []
    }

    let append: Append
    let interval: Duration
    let maxKinds: Int
    let maxWaiting: Int
    let logger: Logger
    private let pending = Mutex(Pending())

    init(
        interval: Duration = .seconds(2), maxKinds: Int = 1_000, maxWaiting: Int = 10_000, logger: Logger,
        append: @escaping Append
    ) {
        self.append = append
        self.interval = interval
        self.maxKinds = maxKinds
        self.maxWaiting = maxWaiting
        self.logger = logger
    }

    /// Counts one refused request.
    func refused(_ refusals: AccessEvent.Refusals, path: String, at time: Date = Date()) {
        pending.withLock { pending in
            if var counted = pending.refusals[refusals] {
                counted.count += 1
                counted.last = time
                pending.refusals[refusals] = counted
            } else if pending.refusals.count < maxKinds {
                pending.refusals[refusals] = Counted(count: 1, path: path, first: time, last: time)
            } else {
                var counted = pending.overflow ?? Counted(count: 0, path: path, first: time, last: time)
                counted.count += 1
                counted.last = time
                pending.overflow = counted
            }
        }
    }

    /// Writes an event now (a token made or revoked); if the database cannot take it, it waits for the next write.
    func record(_ event: IncomingEvent) async {
        do {
            try await append([event])
        } catch {
            logger.warning(
                "could not record an access event yet; it will be written later",
                metadata: ["type": "\(event.type)", "error": "\(LoggedError(error))"])
            pending.withLock { pending in
                if pending.events.count < maxWaiting { pending.events.append(event) }
            }
        }
    }

    /// Writes the counted refusals and the events waiting.
    func flush() async {
        let events = pending.withLock { pending -> [IncomingEvent] in
            var events = pending.events
            for (refusals, counted) in pending.refusals.sorted(by: { $0.value.first < $1.value.first }) {
                events.append(
                    AccessEvent.accessRefused(
                        refusals, count: counted.count, path: counted.path, first: counted.first, last: counted.last))
            }
            if let overflow = pending.overflow {
                events.append(
                    AccessEvent.accessRefused(
                        .init(address: "*", status: 401, token: nil, scope: nil), count: overflow.count,
                        path: overflow.path, first: overflow.first, last: overflow.last))
            }
            pending = Pending()
            return events
        }
        guard !events.isEmpty else { return }
        do {
            try await append(events)
        } catch {
            logger.warning(
                "could not record access events yet; they will be written later",
                metadata: ["events": "\(events.count)", "error": "\(LoggedError(error))"])
            pending.withLock { pending in
                pending.events = Array((events + pending.events).prefix(maxWaiting))
            }
        }
    }

    package func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
            await flush()
        }
    }
}
