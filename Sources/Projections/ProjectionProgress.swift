import EventStore
import Foundation
import Synchronization

/// How far the read models (journeys, call contexts, the feed) have followed the event log, and a way to wait until
/// they reach a position: how a client reads its own writes.
///
/// Projections follow the log asynchronously: `POST /v1/events` answers once the events are committed, and the
/// projector applies them a moment later (longer while it steps aside for an ingest burst). A read that names the
/// `lastPosition` its POST got back (`?minPosition=P` or `CallTrail-Min-Position: P`) waits here until the
/// projections have reached P. The service uses it the same way when user data takes its origin from a call.
///
/// The position known here only grows. This process's projector reports each commit at once; a process that does
/// not project (another holds the lock) reads the checkpoint from the database when its own is stale, so the
/// position given is always one the read models have reached, if sometimes a little behind the truth.
package final class ProjectionProgress: Sendable {
    private let known = Atomic<Int64>(0)
    /// When `known` was last brought up to date, in nanoseconds of `ContinuousClock` since `origin`.
    private let updatedAt = Atomic<Int64>(-(1 << 62))
    private let waiting = Atomic<Int>(0)
    /// This process's projector holds the lock: nobody else moves the checkpoint, so `known` is the truth.
    private let projectingHere = Atomic<Bool>(false)
    private let origin = ContinuousClock.now
    /// Reads the projections' checkpoint from the database.
    private let readCheckpoint: @Sendable () async throws -> Int64
    /// How old the known position may be before a reader asks the database.
    let freshness: Duration
    /// How often a waiter looks again.
    let pollInterval: Duration

    package init(
        freshness: Duration = .milliseconds(100), pollInterval: Duration = .milliseconds(5),
        readCheckpoint: @escaping @Sendable () async throws -> Int64
    ) {
        self.freshness = freshness
        self.pollInterval = pollInterval
        self.readCheckpoint = readCheckpoint
    }

    /// This process's projector committed (or restored) its tables at `position`.
    package func advanced(to position: Int64) {
        known.max(position)
        updatedAt.store(now, ordering: .releasing)
    }

    /// This process's projector took the lock (true) or gave it up (false).
    package func projecting(_ active: Bool) {
        projectingHere.store(active, ordering: .releasing)
    }

    /// Whether some request is waiting for the projections: then the projector does not step aside for ingest.
    package var hasWaiters: Bool { waiting.load(ordering: .relaxed) > 0 }

    /// A position the read models have reached: the one known here while this process projects or while it is fresh,
    /// else the checkpoint read now.
    package func current() async throws -> Int64 {
        if projectingHere.load(ordering: .acquiring)
            || now - updatedAt.load(ordering: .acquiring) <= freshness.totalNanoseconds
        {
            return known.load(ordering: .acquiring)
        }
        return try await refresh()
    }

    /// Waits until the read models have reached `target`, for at most `timeout`. Returns the position reached, or
    /// nil when the time ran out first.
    package func wait(until target: Int64, timeout: Duration) async throws -> Int64? {
        let position = try await current()
        if position >= target { return position }
        waiting.add(1, ordering: .relaxed)
        defer { waiting.subtract(1, ordering: .relaxed) }
        let deadline = ContinuousClock.now + timeout
        while true {
            let position = try await current()
            if position >= target { return position }
            if ContinuousClock.now >= deadline { return nil }
            try await Task.sleep(for: min(pollInterval, deadline - ContinuousClock.now))
        }
    }

    private func refresh() async throws -> Int64 {
        let position = try await readCheckpoint()
        known.max(position)
        updatedAt.store(now, ordering: .releasing)
        return known.load(ordering: .acquiring)
    }

    private var now: Int64 { (ContinuousClock.now - origin).totalNanoseconds }
}

extension Atomic<Int64> {
    /// Raises the value to `value` if it is higher.
    fileprivate func max(_ value: Int64) {
        var current = load(ordering: .relaxed)
        while current < value {
            let (exchanged, original) = compareExchange(
                expected: current, desired: value, successOrdering: .acquiringAndReleasing, failureOrdering: .relaxed)
            if exchanged { return }
            current = original
        }
    }
}
