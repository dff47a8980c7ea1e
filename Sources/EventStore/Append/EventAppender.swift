import Logging
import ServiceLifecycle
import TSAPI

/// The writer of this process's events: group commit (`GroupCommitter`) of the batches waiting at the moment, so
/// the serialised, gapless append pays one log-head lock, one round of queries and one fsync for many requests,
/// with a few such transactions at once (`lanes`): each stores its bodies while another holds the log-head lock.
///
/// A `Service`: on graceful shutdown it stops taking work, writes what was already queued, and returns, so the
/// batches in flight when the process is told to stop are committed.
package final class EventAppender: Service, Sendable {
    let committer: GroupCommitter<[IncomingEvent], AppendResult>

    /// - Parameters:
    ///   - maxEventsPerTransaction: so one commit never holds the log-head lock for long, and the queue is shared
    ///     among the lanes.
    ///   - saturation: told whenever a lane starts or stops writing, so the projector can tell a burst from the
    ///     usual traffic.
    ///   - availability: while the database is away, batches fail at once (the clients get 503 and resend).
    ///   - onCommit: after each commit, so this process's projector starts on the new events at once, without
    ///     waiting for the database's notification to come back round.
    package init(
        store: any EventStore, logger: Logger, maxEventsPerTransaction: Int = 2_000, lanes: Int = 2,
        saturation: AppendSaturation = AppendSaturation(), availability: DatabaseAvailability? = nil,
        onCommit: @escaping @Sendable () -> Void = {}
    ) {
        committer = GroupCommitter(
            name: "append", lanes: lanes, maxWeight: maxEventsPerTransaction, weight: { $0.count },
            availability: availability, logger: logger, shuttingDown: { EventStoreError.shuttingDown("events") },
            onLanes: { saturation.record(lanesWriting: $0, of: $1) }, onCommit: onCommit
        ) { batches in
            try await store.append(batches).map { .success($0) }
        }
    }

    /// Appends one batch, all or nothing; returns once it is committed.
    package func append(_ events: [IncomingEvent]) async throws -> AppendResult {
        try await committer.submit(events)
    }

    package func run() async throws {
        try await committer.run()
    }
}
