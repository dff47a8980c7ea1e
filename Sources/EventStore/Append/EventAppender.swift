import Logging
import ServiceLifecycle
import Synchronization
import TSAPI

/// The writer of this process: it groups the batches waiting at the moment into transactions (group commit), so
/// the serialised, gapless append pays one lock, one round of queries and one fsync for many requests, and runs
/// a few such transactions at once (`lanes`): each stores its bodies while another holds the log-head lock.
///
/// A `Service`: on graceful shutdown it stops taking work, writes what was already queued, and returns, so the
/// batches in flight when the process is told to stop are committed (docs/operations.md).
public final class EventAppender: Service, Sendable {
    struct Request {
        var events: [IncomingEvent]
        var continuation: CheckedContinuation<AppendResult, any Error>
    }

    struct State {
        var queue: [Request] = []
        var isAccepting = true
        /// Lanes writing a group now.
        var writing = 0
    }

    let store: any EventStore
    let logger: Logger
    /// Upper bound on events per transaction, so one commit never holds the log-head lock for long, and the
    /// queue is shared among the lanes.
    let maxEventsPerTransaction: Int
    /// Transactions in flight at once.
    let lanes: Int
    /// The longest one append transaction may take before its requests get `503` and the lane moves on: far above
    /// any real append, it only ends one that PostgreSQL's restart left waiting for ever.
    static let appendLimit = Duration.seconds(10)
    private let state = Mutex(State())
    /// One doorbell per lane: a new request wakes every idle lane, and whichever takes it first writes it.
    private let doorbells: [(stream: AsyncStream<Void>, ring: AsyncStream<Void>.Continuation)]
    /// Called after each commit: this process's projector starts on the new events at once, without waiting
    /// for the database's notification to come back round.
    let onCommit: @Sendable () -> Void
    /// Told whenever a lane starts or stops writing, so the projector can tell a burst from the usual traffic.
    let saturation: AppendSaturation
    /// While the database is away, groups fail at once (the clients get 503 and resend) instead of each waiting
    /// for the pool to connect again.
    let availability: DatabaseAvailability?

    public init(
        store: any EventStore, logger: Logger, maxEventsPerTransaction: Int = 2_000, lanes: Int = 2,
        saturation: AppendSaturation = AppendSaturation(), availability: DatabaseAvailability? = nil,
        onCommit: @escaping @Sendable () -> Void = {}
    ) {
        self.store = store
        self.availability = availability
        self.saturation = saturation
        self.logger = logger
        self.onCommit = onCommit
        self.maxEventsPerTransaction = maxEventsPerTransaction
        self.lanes = max(1, lanes)
        doorbells = (0..<max(1, lanes)).map { _ in
            let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
            return (stream, continuation)
        }
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
                for doorbell in doorbells { doorbell.ring.yield() }
            } else {
                continuation.resume(throwing: AppenderError.shuttingDown)
            }
        }
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { lanes in
                for doorbell in self.doorbells {
                    // Above the request handlers: a lane holding the log-head lock resumes after each of its
                    // round trips, and at the default priority that resumption queued behind whole-batch parses
                    // while every other append waited for the lock.
                    lanes.addTask(priority: .high) {
                        for await _ in doorbell.stream {
                            await self.drain()
                        }
                    }
                }
            }
        } onGracefulShutdown: {
            self.state.withLock { $0.isAccepting = false }
            for doorbell in self.doorbells { doorbell.ring.finish() }
        }
        // Anything that slipped in after the lanes stopped still gets an answer.
        await drain()
    }

    /// Writes groups until the queue is empty.
    private func drain() async {
        var wrote = false
        while let group = takeGroup(afterWriting: wrote) {
            await write(group)
            wrote = true
        }
    }

    /// The next group, if any; `afterWriting` says this lane just finished one. A lane that finishes and at once
    /// takes another never counts as idle, so `saturation` holds through a burst.
    private func takeGroup(afterWriting: Bool) -> [Request]? {
        state.withLock { state in
            if afterWriting { state.writing -= 1 }
            var taken: [Request] = []
            var events = 0
            while let next = state.queue.first, taken.isEmpty || events + next.events.count <= maxEventsPerTransaction {
                taken.append(state.queue.removeFirst())
                events += next.events.count
            }
            if !taken.isEmpty { state.writing += 1 }
            saturation.record(lanesWriting: state.writing, of: lanes)
            return taken.isEmpty ? nil : taken
        }
    }

    private func write(_ group: [Request]) async {
        if let unavailable = availability?.unavailableError() {
            for request in group { request.continuation.resume(throwing: unavailable) }
            return
        }
        do {
            let store = self.store
            let batches = group.map(\.events)
            let results = try await withDatabaseTimeout(Self.appendLimit) { try await store.append(batches) }
            onCommit()
            for (request, result) in zip(group, results) { request.continuation.resume(returning: result) }
        } catch {
            // The database is away: nothing of the group was committed, and no request is at fault. Whether a
            // commit that lost its connection took effect is unknown to the client, which resends: the events'
            // ids make the resend a duplicate if it did.
            if DatabaseAvailability.isOutage(error) {
                availability?.record(error)
                logger.warning("append failed: the database is away", metadata: ["error": "\(String(reflecting: error))"])
                for request in group { request.continuation.resume(throwing: error) }
                return
            }
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
