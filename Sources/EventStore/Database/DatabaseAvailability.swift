import Foundation
import Logging
import Metrics
import NIOCore
import PostgresNIO
import Synchronization
import _ConnectionPoolModule

/// Whether PostgreSQL can be reached, as this process last saw it.
///
/// Losing the database (a restart, a failover, a network cut, `too many connections`) is a state CallTrail rides
/// through, not a crash. Whoever meets an error that says the database is away records it here; from then on the
/// HTTP routes answer `503` with `Retry-After` at once instead of queueing behind a pool that cannot connect, and
/// `/ready` names the database. `DatabaseMonitor` probes until a query succeeds again and clears the outage. The
/// long-lived workers (appender, projector, feed, retention) retry on their own and carry on from their checkpoints.
package final class DatabaseAvailability: Sendable {
    /// Why the database is considered away, and since when.
    package struct Outage: Sendable, Equatable {
        package var since: Date
        package var reason: String
    }

    private let state = Mutex<Outage?>(nil)
    /// Where the start and the end of each outage are logged, once each whoever noticed them.
    let logger: Logger

    package init(logger: Logger) {
        self.logger = logger
        Gauge(label: "calltrail_database_up").record(1)
    }

    /// The current outage, nil while the database answers.
    package var outage: Outage? { state.withLock { $0 } }

    package var isAvailable: Bool { outage == nil }

    /// Records `error` as an outage when it says the database is away; returns whether it did. A single call that
    /// took too long (`DatabaseTimeout`) is not taken for an outage: the monitor's probe decides that.
    @discardableResult
    package func record(_ error: any Error) -> Bool {
        guard Self.isOutage(error), (error as? EventStoreError)?.code != .timeout else { return false }
        markUnavailable(reason: Self.reason(error))
        return true
    }

    /// Records an outage for a reason CallTrail found itself (a probe that got no answer in time).
    package func markUnavailable(reason: String) {
        let started = state.withLock { outage -> Bool in
            guard outage == nil else { return false }
            outage = Outage(since: Date(), reason: reason)
            return true
        }
        if started {
            Counter(label: "calltrail_database_outages_total").increment()
            Gauge(label: "calltrail_database_up").record(0)
            logger.error(
                "the database is unavailable; requests get 503 with Retry-After until it is back",
                metadata: [
                    "reason": "\(reason)"
                ])
        }
    }

    /// A query succeeded: the outage, if there was one, is over. Returns the outage that ended.
    @discardableResult
    package func restored() -> Outage? {
        let ended = state.withLock { outage -> Outage? in
            defer { outage = nil }
            return outage
        }
        if let ended {
            Gauge(label: "calltrail_database_up").record(1)
            logger.notice(
                "the database is back",
                metadata: [
                    "down_seconds": "\(String(format: "%.1f", Date().timeIntervalSince(ended.since)))",
                    "reason": "\(ended.reason)",
                ])
        }
        return ended
    }

    /// The error a caller gets while the database is away.
    package func unavailableError() -> EventStoreError? {
        outage.map { EventStoreError.unavailable(since: $0.since, reason: $0.reason) }
    }

    /// Whether `error` means "the database cannot be reached or cannot work now", as opposed to a bad query, bad
    /// data or a client's broken connection: connection failures and closes, the pool unable to connect, and the server states that a restart or a
    /// failover produce (SQLSTATE class 08 connection exceptions; 57P01–57P03 shutting down or starting;
    /// 53300 too many connections; 53100 disk full; 25006 a read-only standby after a failover).
    package static func isOutage(_ error: any Error) -> Bool {
        switch error {
        // Not a bare IOError or ChannelError: a client's own socket raises those too (a reset in the middle of a
        // body), and one client must not switch the API off. The driver wraps its socket errors in PSQLError.
        case let error as EventStoreError where error.code == .unavailable || error.code == .timeout:
            return true
        case is ConnectionPoolError:
            return true
        case let error as PostgresTransactionError:
            return [error.beginError, error.closureError, error.commitError].contains { $0.map(isOutage) ?? false }
        case let error as PSQLError:
            switch error.code {
            case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .listenFailed:
                return true
            case .server:
                guard let state = error.serverInfo?[.sqlState] else { return false }
                return state.hasPrefix("08") || outageStates.contains(state)
            default:
                return error.underlying.map(isOutage) ?? false
            }
        default:
            return false
        }
    }

    static let outageStates: Set<String> = ["57P01", "57P02", "57P03", "53300", "53100", "25006"]

    /// A short reason for people: the server's message, or what the client saw.
    static func reason(_ error: any Error) -> String {
        switch error {
        case let error as PSQLError:
            if let message = error.serverInfo?[.message] { return message }
            if let underlying = error.underlying { return reason(underlying) }
            return "\(error.code)"
        case let error as PostgresTransactionError:
            return [error.beginError, error.closureError, error.commitError].compactMap { $0 }.first.map(reason)
                ?? "\(LoggedError(error))"
        default:
            return "\(LoggedError(error))"
        }
    }
}

/// Runs `operation`, or throws `DatabaseTimeout` once `limit` has passed, leaving the operation behind.
///
/// Why not a task group: PostgresNIO 1.33 writes a query to its connection's channel without a promise, so a query
/// issued just as the server ends the connection is dropped with nobody told, and its caller waits for ever; a
/// task group would wait for that child too. Here the caller is answered at the deadline, the operation is cancelled
/// (which frees it whenever it is merely waiting) and, in that one case, left waiting with the dead connection it
/// leased. Each long-lived worker bounds its database steps with this, so a restart of PostgreSQL cannot freeze it.
/// The operation runs on `executor` when one is given (the projector's own thread), else on the global pool.
package func withDatabaseTimeout<Result: Sendable>(
    _ limit: Duration, on executor: (any TaskExecutor)? = nil,
    _ operation: @escaping @Sendable () async throws -> Result
) async throws -> Result {
    let race = DeadlineRace<Result>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            race.start(continuation, limit: limit, on: executor, operation)
        }
    } onCancel: {
        race.cancel()
    }
}

/// The state `withDatabaseTimeout` shares between the caller, the work and the timer: whoever comes first answers.
private final class DeadlineRace<Result: Sendable>: Sendable {
    private struct State {
        var answer: CheckedContinuation<Result, any Error>?
        var work: Task<Void, Never>?
        var timer: Task<Void, Never>?
        /// The caller was cancelled, perhaps before the work started.
        var cancelled = false
    }

    private let state = Mutex(State())

    func start(
        _ continuation: CheckedContinuation<Result, any Error>, limit: Duration, on executor: (any TaskExecutor)?,
        _ operation: @escaping @Sendable () async throws -> Result
    ) {
        state.withLock { $0.answer = continuation }
        let timer = Task {
            guard (try? await Task.sleep(for: limit)) != nil else { return }
            // The answer first: cancelled work that ends at once must not answer CancellationError in its place.
            self.finish(.failure(EventStoreError.timeout(after: limit)))
            self.state.withLock { $0.work }?.cancel()
        }
        let work = Task(executorPreference: executor) {
            let result: Swift.Result<Result, any Error>
            do { result = .success(try await operation()) } catch { result = .failure(error) }
            self.state.withLock { $0.timer }?.cancel()
            self.finish(result)
        }
        let (finished, cancelled) = state.withLock { state in
            state.work = work
            state.timer = timer
            return (state.answer == nil, state.cancelled)
        }
        // The work may have finished before the timer could be found: then nothing else stops the timer.
        if finished { timer.cancel() }
        if cancelled { cancel() }
    }

    func cancel() {
        let (work, timer) = state.withLock { state in
            state.cancelled = true
            return (state.work, state.timer)
        }
        work?.cancel()
        timer?.cancel()
        finish(.failure(CancellationError()))
    }

    private func finish(_ result: Swift.Result<Result, any Error>) {
        state.withLock { state in
            defer { state.answer = nil }
            return state.answer
        }?.resume(with: result)
    }
}
