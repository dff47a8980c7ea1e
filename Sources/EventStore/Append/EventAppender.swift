import Logging
import ServiceLifecycle
import Synchronization
import TSAPI

/// The single writer of this process: it puts every batch waiting at the moment it is free into one
/// transaction (group commit), so the serialised, gapless append pays one lock, one round of queries and one
/// fsync for many requests.
///
/// A `Service`: on graceful shutdown it stops taking work, writes what was already queued, and returns, so the
/// batches in flight when the process is told to stop are committed (architecture §7).
public final class EventAppender: Service, Sendable {
    struct Request {
        var events: [IncomingEvent]
        var continuation: CheckedContinuation<AppendResult, any Error>
    }

    struct State {
        var queue: [Request] = []
        var isAccepting = true
    }

    let store: any EventStore
    let logger: Logger
    /// Upper bound on events per transaction, so one commit never holds the log-head lock for long.
    let maxEventsPerTransaction: Int
    private let state = Mutex(State())
    private let doorbell: AsyncStream<Void>
    private let ring: AsyncStream<Void>.Continuation

    public init(store: any EventStore, logger: Logger, maxEventsPerTransaction: Int = 5_000) {
        self.store = store
        self.logger = logger
        self.maxEventsPerTransaction = maxEventsPerTransaction
        (doorbell, ring) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Appends one batch, all or nothing; returns once it is committed.
    public func append(_ events: [IncomingEvent]) async throws -> AppendResult {
        try await withCheckedThrowingContinuation { continuation in
            let accepted = state.withLock { state in
                guard state.isAccepting else { return false }
                state.queue.append(Request(events: events, continuation: continuation))
                return true
            }
            if accepted {
                ring.yield()
            } else {
                continuation.resume(throwing: AppenderError.shuttingDown)
            }
        }
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            for await _ in doorbell {
                await drain()
            }
            await drain()
        } onGracefulShutdown: {
            self.state.withLock { $0.isAccepting = false }
            self.ring.finish()
        }
        // Anything that slipped in after the last drain still gets an answer.
        await drain()
    }

    private func drain() async {
        while true {
            let group: [Request] = state.withLock { state in
                var taken: [Request] = []
                var events = 0
                while let next = state.queue.first, taken.isEmpty || events + next.events.count <= maxEventsPerTransaction {
                    taken.append(state.queue.removeFirst())
                    events += next.events.count
                }
                return taken
            }
            guard !group.isEmpty else { return }
            await write(group)
        }
    }

    private func write(_ group: [Request]) async {
        do {
            let results = try await store.append(group.map(\.events))
            for (request, result) in zip(group, results) { request.continuation.resume(returning: result) }
        } catch {
            guard group.count > 1 else {
                logger.error("append failed", metadata: ["error": "\(String(reflecting: error))"])
                group[0].continuation.resume(throwing: error)
                return
            }
            // One request must not sink the others: retry each alone so only the one at fault fails.
            for request in group { await write([request]) }
        }
    }
}

/// Why the appender refused work.
public enum AppenderError: Error, CustomStringConvertible {
    case shuttingDown

    public var description: String { "CallTrail is shutting down and takes no more events; retry against another instance" }
}
