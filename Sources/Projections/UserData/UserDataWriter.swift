import CallModel
import EventStore
import Logging
import ServiceLifecycle
import Synchronization

/// The writer of user-data changes: it groups the changes waiting at the moment into one transaction (group
/// commit), so that many requests share one pass of the log-head lock and one fsync.
///
/// Why: every change is an event, and an append holds the log-head lock through commit. One transaction per
/// request measured about 300 changes/s on the benchmark machine, all waiting on fsync one after another;
/// grouped, the rate follows the requests.
///
/// A `Service`: on graceful shutdown it stops taking work and writes what is already queued.
public final class UserDataWriter: Service, Sendable {
    struct Request {
        var id: String
        /// A key made just now: no row to read.
        var isNew: Bool
        var decide: PostgresUserDataStore.Decision
        var continuation: CheckedContinuation<(record: UserDataRecord, position: Int64), any Error>
    }

    struct State {
        var queue: [Request] = []
        var isAccepting = true
    }

    let store: PostgresUserDataStore
    let logger: Logger
    let maxChangesPerTransaction: Int
    private let state = Mutex(State())
    private let doorbell: (stream: AsyncStream<Void>, ring: AsyncStream<Void>.Continuation)

    public init(store: PostgresUserDataStore, logger: Logger, maxChangesPerTransaction: Int = 500) {
        self.store = store
        self.logger = logger
        self.maxChangesPerTransaction = maxChangesPerTransaction
        let (stream, ring) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        doorbell = (stream, ring)
    }

    /// Applies one change (see `PostgresUserDataStore.change(_:new:)`); returns once it is committed. `new`
    /// says the change creates a key made just now.
    public func change(
        id: String, new: Bool = false, _ decide: @escaping PostgresUserDataStore.Decision
    ) async throws -> (record: UserDataRecord, position: Int64) {
        try await withCheckedThrowingContinuation { continuation in
            let accepted = state.withLock { state in
                guard state.isAccepting else { return false }
                state.queue.append(Request(id: id, isNew: new, decide: decide, continuation: continuation))
                return true
            }
            if accepted {
                doorbell.ring.yield()
            } else {
                continuation.resume(throwing: UserDataWriterError.shuttingDown)
            }
        }
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask(priority: .high) {
                    for await _ in self.doorbell.stream { await self.drain() }
                }
            }
        } onGracefulShutdown: {
            self.state.withLock { $0.isAccepting = false }
            self.doorbell.ring.finish()
        }
        await drain()
    }

    private func drain() async {
        while let group = takeGroup() { await write(group) }
    }

    private func takeGroup() -> [Request]? {
        state.withLock { state in
            guard !state.queue.isEmpty else { return nil }
            let count = min(state.queue.count, maxChangesPerTransaction)
            let taken = Array(state.queue.prefix(count))
            state.queue.removeFirst(count)
            return taken
        }
    }

    private func write(_ group: [Request]) async {
        do {
            let store = self.store
            let changes = group.map { ($0.id, $0.decide) }
            let new = group.allSatisfy(\.isNew)
            // Bounded like the event appender's transactions, for the same reason.
            let outcomes = try await withDatabaseTimeout(.seconds(10)) { try await store.change(changes, new: new) }
            for (request, outcome) in zip(group, outcomes) { request.continuation.resume(with: outcome) }
        } catch {
            // The database is away: no change is at fault, and none was committed.
            if DatabaseAvailability.isOutage(error) {
                for request in group { request.continuation.resume(throwing: error) }
                return
            }
            guard group.count > 1 else {
                logger.error("user-data change failed", metadata: ["error": "\(String(reflecting: error))"])
                group[0].continuation.resume(throwing: error)
                return
            }
            // One change must not sink the others: retry each alone so only the one at fault fails.
            for request in group { await write([request]) }
        }
    }
}

/// Why the user-data writer refused work.
public enum UserDataWriterError: Error, CustomStringConvertible {
    case shuttingDown

    public var description: String { "CallTrail is shutting down and takes no more user data; retry against another instance" }
}
