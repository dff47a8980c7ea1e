import Logging
import ServiceLifecycle
import Synchronization

/// Group commit: the requests waiting at the moment are written together in one transaction, so many requests
/// share one lock, one round of queries and one fsync, by `lanes` transactions at once.
///
/// The event appender and the user-data writer are both this. Each request's answer comes back once its group is
/// committed. When a group fails, each of its requests is tried again alone, so only the one at fault fails,
/// unless the failure says the database is away: then nothing of the group was at fault, and all of them get the
/// error at once (and the clients a `503`). Each write is bounded (`limit`), so one that a PostgreSQL restart left
/// waiting for ever frees its lane.
///
/// A `Service`: on graceful shutdown it stops taking requests, writes what was already queued, and returns.
package final class GroupCommitter<Item: Sendable, Output: Sendable>: Service, Sendable {
    /// Writes one group in one transaction; one outcome per item, in order. A thrown error fails the group.
    package typealias Write = @Sendable ([Item]) async throws -> [Result<Output, any Error>]

    struct Request {
        var item: Item
        var continuation: CheckedContinuation<Output, any Error>
    }

    struct State {
        var queue: [Request] = []
        var isAccepting = true
        /// Lanes writing a group now.
        var writing = 0
    }

    let logger: Logger
    /// What the requests are, for logs ("append", "user-data change").
    let name: String
    /// Transactions in flight at once.
    package let lanes: Int
    /// The most weight one group takes (a request is always taken, however heavy).
    let maxWeight: Int
    let weight: @Sendable (Item) -> Int
    let limit: Duration
    let write: Write
    /// Told whenever a lane starts or stops writing.
    let onLanes: @Sendable (_ writing: Int, _ of: Int) -> Void
    /// Called after each committed group.
    let onCommit: @Sendable () -> Void
    /// While the database is away, groups fail at once instead of each waiting for the pool to connect again.
    let availability: DatabaseAvailability?
    /// What a request gets once the committer has stopped taking them.
    let shuttingDown: @Sendable () -> any Error
    /// A lane's own priority: above the request handlers, so a lane holding a lock resumes promptly after each of
    /// its round trips instead of queueing behind whole-batch parses while every other writer waits for the lock.
    let priority: TaskPriority
    private let state = Mutex(State())
    /// One doorbell per lane: a new request wakes every idle lane, and whichever takes it first writes it.
    private let doorbells: [(stream: AsyncStream<Void>, ring: AsyncStream<Void>.Continuation)]

    package init(
        name: String, lanes: Int, maxWeight: Int, weight: @escaping @Sendable (Item) -> Int = { _ in 1 },
        limit: Duration = .seconds(10), priority: TaskPriority = .high, availability: DatabaseAvailability?,
        logger: Logger, shuttingDown: @escaping @Sendable () -> any Error,
        onLanes: @escaping @Sendable (Int, Int) -> Void = { _, _ in }, onCommit: @escaping @Sendable () -> Void = {},
        write: @escaping Write
    ) {
        self.name = name
        self.lanes = max(1, lanes)
        self.maxWeight = maxWeight
        self.weight = weight
        self.limit = limit
        self.priority = priority
        self.availability = availability
        self.logger = logger
        self.shuttingDown = shuttingDown
        self.onLanes = onLanes
        self.onCommit = onCommit
        self.write = write
        doorbells = (0..<max(1, lanes)).map { _ in
            let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
            return (stream, continuation)
        }
    }

    /// Submits one request; returns its output once its group is committed.
    package func submit(_ item: Item) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            let accepted = state.withLock { state in
                guard state.isAccepting else { return false }
                state.queue.append(Request(item: item, continuation: continuation))
                return true
            }
            if accepted {
                for doorbell in doorbells { doorbell.ring.yield() }
            } else {
                continuation.resume(throwing: shuttingDown())
            }
        }
    }

    package func run() async throws {
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { lanes in
                for doorbell in self.doorbells {
                    lanes.addTask(priority: self.priority) {
                        for await _ in doorbell.stream { await self.drain() }
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
            await commit(group)
            wrote = true
        }
    }

    /// The next group, if any; `afterWriting` says this lane just finished one. A lane that finishes and at once
    /// takes another never counts as idle (`onLanes`), so a burst reads as one.
    private func takeGroup(afterWriting: Bool) -> [Request]? {
        state.withLock { state in
            if afterWriting { state.writing -= 1 }
            var taken: [Request] = []
            var total = 0
            while let next = state.queue.first, taken.isEmpty || total + weight(next.item) <= maxWeight {
                taken.append(state.queue.removeFirst())
                total += weight(next.item)
            }
            if !taken.isEmpty { state.writing += 1 }
            onLanes(state.writing, lanes)
            return taken.isEmpty ? nil : taken
        }
    }

    private func commit(_ group: [Request]) async {
        if let unavailable = availability?.unavailableError() {
            for request in group { request.continuation.resume(throwing: unavailable) }
            return
        }
        do {
            let write = self.write
            let items = group.map(\.item)
            let outcomes = try await withDatabaseTimeout(limit) { try await write(items) }
            onCommit()
            for (request, outcome) in zip(group, outcomes) { request.continuation.resume(with: outcome) }
        } catch {
            // The database is away: nothing of the group was committed, and no request is at fault. Whether a
            // commit that lost its connection took effect is unknown to the client, which sends it again.
            if DatabaseAvailability.isOutage(error) {
                availability?.record(error)
                logger.warning(
                    "\(name) failed: the database is away", metadata: ["error": "\(LoggedError(error))"])
                for request in group { request.continuation.resume(throwing: error) }
                return
            }
            guard group.count > 1 else {
                logger.error("\(name) failed", metadata: ["error": "\(LoggedError(error))"])
                group[0].continuation.resume(throwing: error)
                return
            }
            // One request must not sink the others: retry each alone so only the one at fault fails.
            for request in group { await commit([request]) }
        }
    }
}
