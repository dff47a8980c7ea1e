import Synchronization

/// Whether ingest is at capacity: every append lane has been writing, each taking its next group as soon as it
/// finished the last, since some instant.
///
/// The projector reads it to step aside during a burst (`JourneyProjector.longestPauseForIngest`). On 2 cores,
/// projecting beside a burst took about 40% of the machine from the appends (`calltrail-bench ingest`), and
/// the niced thread alone did not give it back: its database work and WAL are not niced. An event the
/// switch's connector cannot hand over is worse than a pop that comes a second late. At a contact center's
/// usual rate the lanes idle most of the time, so this never holds and the projector never waits.
package final class AppendSaturation: Sendable {
    private let since = Mutex<ContinuousClock.Instant?>(nil)

    package init() {}

    /// The appender's report: `writing` of its `lanes` are writing now.
    package func record(lanesWriting writing: Int, of lanes: Int) {
        since.withLock { since in
            if writing < lanes {
                since = nil
            } else if since == nil {
                since = .now
            }
        }
    }

    /// Whether every lane has been writing without a pause for at least `duration`.
    package func hasLasted(_ duration: Duration) -> Bool {
        since.withLock { since in since.map { ContinuousClock.now - $0 >= duration } ?? false }
    }
}
