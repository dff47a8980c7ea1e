import CallModel
import EventStore
import Foundation
import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle
import Synchronization
import TSAPI

/// Keeps the journey read models up to date with the event store.
///
/// It reads the log after its checkpoint, feeds the events to a `JourneyTracker`, and writes the changed
/// journeys together with the new checkpoint in one transaction: an event is never missed or applied twice,
/// however the process stops. The tracker is a cache of the open rows; if the checkpoint moved under it
/// (another projector, or a rebuild swapped its tables in), it reloads from PostgreSQL and carries on.
package struct JourneyProjector: Service {
    let store: PostgresJourneyStore
    let logger: Logger
    /// Most events read and committed at once.
    package let batchSize: Int
    /// How long to wait before looking again when the projector has caught up and no notification came.
    let idleWait: Duration
    /// Rung by this process's appender, and by `calltrail_events` notifications for appends in any process.
    private let newEvents = Doorbell()
    /// Where the tables are: a notification for events at or before it would only wake an empty read.
    private let projected = Mark()
    /// Called after a batch with feed messages is committed: this process's feed reads them at once, without
    /// waiting for the database's notification to come back round.
    let onFeedMessages: @Sendable () -> Void
    /// How long to wait after a failed batch.
    let retryWait: Duration = .seconds(1)
    /// Where the projecting runs (nil: the global pool), so that a server can put it behind its request handlers.
    let executor: (any TaskExecutor)?
    /// This process's appender, when the projector should step aside while it is saturated (`AppendSaturation`).
    let ingest: AppendSaturation?
    /// The longest the projector waits for a burst of ingest to end, counted from its last step. Then it projects a
    /// batch and may wait again, so journeys and the feed still move, if slowly, under an overload that lasts.
    /// `.zero` never waits.
    let longestPauseForIngest: Duration
    /// Told of every commit, so that reads waiting for a position (read-your-writes) see it at once; while any
    /// read waits, the projector does not step aside for ingest.
    let progress: ProjectionProgress?
    /// Told when a failure says the database is away.
    let availability: DatabaseAvailability?
    /// How long every append lane must have been busy before it counts as a burst: a moment's queue at the usual
    /// rate must never hold up an offer.
    package static let burst = Duration.milliseconds(500)

    package init(
        store: PostgresJourneyStore, logger: Logger, batchSize: Int = 5_000, idleWait: Duration = .milliseconds(500),
        executor: (any TaskExecutor)? = nil, ingest: AppendSaturation? = nil,
        longestPauseForIngest: Duration = .seconds(2),
        progress: ProjectionProgress? = nil, availability: DatabaseAvailability? = nil,
        onFeedMessages: @escaping @Sendable () -> Void = {}
    ) {
        self.progress = progress
        self.availability = availability
        self.executor = executor
        self.ingest = ingest
        self.longestPauseForIngest = longestPauseForIngest
        self.store = store
        self.logger = logger
        self.batchSize = batchSize
        self.idleWait = idleWait
        self.onFeedMessages = onFeedMessages
    }

    /// New events were committed in this process.
    package func eventsAppended() { newEvents.ring() }

    package func run() async throws {
        // Returns, never throws: a service that ends the service group over a recoverable error would take the
        // HTTP server down with it. Only graceful shutdown (or cancellation) ends this loop.
        await cancelWhenGracefulShutdown {
            var failures = 0
            while !Task.isCancelled {
                let attempt = ContinuousClock.now
                do {
                    try await projectWhileOwner()
                    failures = 0
                } catch  where Task.isCancelled || Task.isShuttingDownGracefully {
                    logger.debug("projector stopped", metadata: ["error": "\(LoggedError(error))"])
                    return
                } catch {
                    // The database went away (or the lock's connection with it): wait, take the lock again, and carry
                    // on from the checkpoint, which the failed batch did not move. An attempt that lasted starts the
                    // back-off afresh.
                    failures = ContinuousClock.now - attempt > .seconds(30) ? 1 : failures + 1
                    availability?.record(error)
                    let wait = Self.backoff(afterFailures: failures)
                    logger.error(
                        "projector lost the database; retrying",
                        metadata: [
                            "error": "\(LoggedError(error))", "retry_in": "\(wait)",
                        ])
                    try? await Task.sleep(for: wait)
                }
            }
        }
    }

    /// 0.25 s after the first failure, doubling to at most 5 s: short outages end quickly, long ones are not hammered.
    static func backoff(afterFailures failures: Int) -> Duration {
        .milliseconds(min(5_000, 250 << min(max(failures - 1, 0), 5)))
    }

    /// Takes the projector's lock and projects until the lock's connection or the listener fails (throws) or the
    /// task is cancelled.
    private func projectWhileOwner() async throws {
        // One projector per database: the others wait on the advisory lock, which the server frees when its holder's
        // connection ends, so one of them takes over if this process dies.
        try await store.client.withConnection { lockConnection in
            while !(try await store.tryLock(.projector, on: lockConnection)) {
                logger.debug("another process projects; waiting")
                try await Task.sleep(for: .seconds(1))
            }
            // The lock is the connection's, not the task's: should this attempt end while the connection lives, the
            // lock must not go back to the pool with it, where no one would free it.
            do {
                try await projectHolding(lockConnection)
            } catch {
                await release(lockConnection)
                throw error
            }
            await release(lockConnection)
        }
    }

    private func release(_ lockConnection: PostgresConnection) async {
        let store = self.store
        _ = try? await withDatabaseTimeout(.seconds(5)) { try await store.unlock(.projector, on: lockConnection) }
    }

    /// Projects while this process holds the lock on `lockConnection`.
    private func projectHolding(_ lockConnection: PostgresConnection) async throws {
        try await prepareTables()
        // The lock's connection has nothing else to do: it listens for appends, which ring `newEvents`. Should it
        // fail, the lock went with it, so the projecting stops too and the outer loop takes the lock again.
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await lockConnection.listen(on: "calltrail_events") { notifications in
                    // The payload is the log's last position.
                    for try await notification in notifications
                    where Int64(notification.payload).map({ $0 > projected.value }) ?? true {
                        newEvents.ring()
                    }
                }
                throw ProjectionsError.lockLost
            }
            group.addTask(executorPreference: executor) { try await project() }
            try await group.next()
            group.cancelAll()
        }
    }

    /// Rows written by another build's journey shape cannot be restored: such tables are replayed anew (the
    /// old ones serve meanwhile). A new database's empty tables just take this build's version.
    private func prepareTables() async throws {
        let checkpoint = try await store.checkpoint()
        guard checkpoint.stateVersion != Journey.stateVersion else { return }
        if checkpoint.position == 0 {
            try await store.resetLive()
            return
        }
        logger.notice(
            "the journey tables were written by another version; rebuilding them",
            metadata: [
                "tables": "\(checkpoint.stateVersion)", "build": "\(Journey.stateVersion)",
            ])
        let report = try await ProjectionRebuilder(store: store, logger: logger).run()
        logger.notice(
            "journey tables rebuilt", metadata: ["events": "\(report.events)", "seconds": "\(report.seconds)"])
    }

    /// The longest one batch (or a reload of the open journeys) may take: far above any real one, it only ends a
    /// query that a restart of PostgreSQL left waiting for ever (see `withDatabaseTimeout`).
    static let stepLimit = Duration.seconds(60)

    private func project() async throws {
        var box = StateBox(try await withDatabaseTimeout(Self.stepLimit, on: executor) { try await self.restore() })
        progress?.projecting(true)
        defer { progress?.projecting(false) }
        var lastStep = ContinuousClock.now
        while !Task.isCancelled {
            await pauseForIngest(since: lastStep)
            do {
                let current = box
                let count = try await withDatabaseTimeout(Self.stepLimit, on: executor) {
                    try await self.step(&current.state)
                }
                lastStep = .now
                if count == 0 { await newEvents.wait(timeout: idleWait) }
            } catch let error as ProjectionsError where error.checkpointMove != nil {
                logger.notice(
                    "projection checkpoint moved; reloading",
                    metadata: [
                        "expected": "\(error.checkpointMove?.expected ?? 0)",
                        "found": "\(error.checkpointMove?.found ?? 0)",
                    ])
                box = StateBox(try await withDatabaseTimeout(Self.stepLimit, on: executor) { try await self.restore() })
            } catch is CancellationError {
                return
            } catch  where !Task.isCancelled {
                // A database outage or a bug must not take the HTTP service down: log, wait, reload, retry. A reload
                // that fails too ends this loop, and `run` takes the lock again once the database is back.
                availability?.record(error)
                logger.error("projection batch failed; retrying", metadata: ["error": "\(LoggedError(error))"])
                try await Task.sleep(for: retryWait)
                box = StateBox(try await withDatabaseTimeout(Self.stepLimit, on: executor) { try await self.restore() })
            }
        }
    }

    /// Waits while this process's appender is saturated, until `longestPauseForIngest` has passed since `lastStep`.
    private func pauseForIngest(since lastStep: ContinuousClock.Instant) async {
        guard let ingest, longestPauseForIngest > .zero, ingest.hasLasted(Self.burst), progress?.hasWaiters != true
        else { return }
        let started = ContinuousClock.now
        while ingest.hasLasted(Self.burst), ContinuousClock.now - lastStep < longestPauseForIngest,
            progress?.hasWaiters != true,
            !Task.isCancelled
        {
            try? await Task.sleep(for: .milliseconds(20))
        }
        FloatingPointCounter(label: "calltrail_projection_paused_seconds_total")
            .increment(by: (ContinuousClock.now - started).seconds)
    }

    /// The projector's memory: its tracker, the checkpoint its tables are at, and the next batch if it was
    /// read while the last one was being written.
    package struct State: Sendable {
        package var tracker: JourneyTracker
        package var checkpoint: PostgresJourneyStore.Checkpoint
        var prefetched: DecodedBatch?
    }

    /// Stored events after a position, decoded; `last` is the last one read (decoded or not).
    struct DecodedBatch: Sendable {
        var events: [CallEvent]
        var last: Int64?
        var count: Int
    }

    func batch(after position: Int64) async throws -> DecodedBatch {
        let stored = try await store.events(after: position, limit: batchSize, read: .head)
        return DecodedBatch(
            events: StoredEventDecoder.decode(stored, logger: logger), last: stored.last?.position, count: stored.count)
    }

    /// Projects one batch; returns how many events it read.
    package func step(_ state: inout State) async throws -> Int {
        let batch: DecodedBatch
        if var prefetched = state.prefetched, let end = prefetched.last {
            // Read while the last batch was written, it may have stopped short of events committed since: those
            // join now rather than wait a whole batch more (the feed's offer latency).
            if prefetched.count < batchSize {
                let more = try await self.batch(after: end)
                prefetched.events += more.events
                prefetched.count += more.count
                prefetched.last = more.last ?? end
            }
            batch = prefetched
        } else {
            batch = try await self.batch(after: state.tracker.position)
        }
        state.prefetched = nil
        guard let last = batch.last else { return 0 }
        let started = ContinuousClock.now
        for event in batch.events { state.tracker.apply(event) }
        state.tracker.advance(to: last)
        let changes = state.tracker.takeChanges()
        let feed = state.tracker.takeFeed()
        // The log after `last` never changes once visible, so the next batch is read while this one is written.
        async let following = self.batch(after: last)
        try await store.commit(
            changes, feed: feed, through: state.tracker.position, clock: state.tracker.clock, expected: state.checkpoint
        )
        state.checkpoint.position = state.tracker.position
        state.checkpoint.clock = state.tracker.clock
        projected.value = state.tracker.position
        progress?.advanced(to: state.tracker.position)
        if !feed.isEmpty { onFeedMessages() }
        state.tracker.evictExpired()
        state.prefetched = try await following
        Counter(label: "calltrail_projection_events_total").increment(by: batch.count)
        Timer(label: "calltrail_projection_batch_seconds").recordNanoseconds(
            (ContinuousClock.now - started).totalNanoseconds)
        Gauge(label: "calltrail_projection_position").record(Double(last))
        return batch.count
    }

    package func restore() async throws -> State {
        let checkpoint = try await store.checkpoint()
        let journeys = try await store.restorableJourneys(
            .live, checkpoint: checkpoint, grace: JourneyTracker.defaultLinkGrace)
        let tracker = JourneyTracker(
            restoring: journeys, position: checkpoint.position, clock: checkpoint.clock ?? .distantPast)
        projected.value = checkpoint.position
        progress?.advanced(to: checkpoint.position)
        logger.info(
            "projector starts", metadata: ["position": "\(checkpoint.position)", "journeys": "\(journeys.count)"])
        return State(tracker: tracker, checkpoint: checkpoint, prefetched: nil)
    }
}

/// The projector's state, handed to a step that runs under a deadline (`withDatabaseTimeout`) without copying it:
/// a copy of the tracker's tables on every batch would cost as much as the batch.
///
/// Unchecked: one task at a time uses it. The loop waits for each step; a step abandoned at its deadline keeps its
/// box, and the loop goes on with a new one, restored from the database.
private final class StateBox: @unchecked Sendable {
    var state: JourneyProjector.State

    init(_ state: JourneyProjector.State) {
        self.state = state
    }
}

/// A position shared between the projecting task and the one listening for notifications.
private final class Mark: Sendable {
    private let position = Atomic<Int64>(0)

    var value: Int64 {
        get { position.load(ordering: .relaxed) }
        set { position.store(newValue, ordering: .relaxed) }
    }
}
