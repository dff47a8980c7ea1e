import CallModel
import EventStore
import Logging
import ServiceLifecycle

/// The writer of user-data changes: group commit (`GroupCommitter`) of the changes waiting at the moment, so that
/// many requests share one pass of the log-head lock and one fsync.
///
/// Why: every change is an event, and an append holds the log-head lock through commit. One transaction per
/// request measured about 300 changes/s on the benchmark machine, all waiting on fsync one after another;
/// grouped, the rate follows the requests.
///
/// A `Service`: on graceful shutdown it stops taking work and writes what is already queued.
package final class UserDataWriter: Service, Sendable {
    struct Change: Sendable {
        var id: String
        /// A key made just now: no row to read.
        var isNew: Bool
        var decide: PostgresUserDataStore.Decision
    }

    let committer: GroupCommitter<Change, (record: UserDataRecord, position: Int64)>

    package init(store: PostgresUserDataStore, logger: Logger, maxChangesPerTransaction: Int = 500) {
        committer = GroupCommitter(
            name: "user-data change", lanes: 1, maxWeight: maxChangesPerTransaction, availability: nil, logger: logger,
            shuttingDown: { EventStoreError.shuttingDown("user data") }
        ) { changes in
            try await store.change(changes.map { ($0.id, $0.decide) }, new: changes.allSatisfy(\.isNew))
        }
    }

    /// Applies one change (see `PostgresUserDataStore.change(_:new:)`); returns once it is committed. `new`
    /// says the change creates a key made just now.
    package func change(
        id: String, new: Bool = false, _ decide: @escaping PostgresUserDataStore.Decision
    ) async throws -> (record: UserDataRecord, position: Int64) {
        try await committer.submit(Change(id: id, isNew: new, decide: decide))
    }

    package func run() async throws {
        try await committer.run()
    }
}
