import EventStore
import Foundation
import Logging
import Metrics
import Projections
import ServiceLifecycle

/// Removes feed messages older than the retention, every `interval`, oldest first (`calltrail_trim_feed`,
/// migration 0007). Each process runs one; they take turns on the database's advisory lock, so several are no
/// more work than one.
///
/// Only the feed is trimmed: its messages are made again by nothing, but they are derived, and what a desktop
/// needs from them is to resume after a disconnect. The events, the journeys and the user data stay.
struct FeedRetention: Service {
    let store: PostgresFeedStore
    /// How long messages are kept, by the time of their event.
    let keep: Duration
    let interval: Duration
    let logger: Logger

    func run() async throws {
        // Returns, not throws, when cancelled: a service that ends in an error during graceful shutdown makes the
        // service group cancel the others instead of letting them finish.
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await trimOnce()
                try? await Task.sleep(for: interval)
            }
        }
    }

    /// One pass; a failure is logged and the next pass tries again.
    func trimOnce(now: Date = Date()) async {
        let cutoff = now.addingTimeInterval(-Double(keep.components.seconds))
        do {
            let store = self.store
            let removed = try await withDatabaseTimeout(.seconds(300)) { try await store.trim(olderThan: cutoff) }
            Counter(label: "calltrail_feed_trimmed_total").increment(by: Int(removed))
            if removed > 0 {
                logger.info(
                    "feed messages removed by retention", metadata: ["removed": "\(removed)", "before": "\(cutoff)"])
            }
        } catch  where !Task.isCancelled {
            logger.warning(
                "feed retention failed; trying again later", metadata: ["error": "\(LoggedError(error))"])
        } catch {}
    }
}
