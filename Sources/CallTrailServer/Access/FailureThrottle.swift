import Foundation
import Synchronization

/// Slows down an address that keeps presenting secrets that do not work, so that guessing tokens is slow (a request
/// with no secret at all is refused at once: it guesses nothing). Past `freeFailures`
/// refusals within `window`, each further refusal is answered after a delay that doubles (from `firstDelay`) up to
/// `longestDelay`. A refusal is never answered faster than a success, and a quiet `window` forgets the address.
///
/// A secret has 256 bits of chance, so this is not what keeps tokens safe; it keeps a scanner from costing the
/// server, and the audit from filling with one client's noise. At most `maxAddresses` are remembered (the ones
/// seen longest ago are forgotten first), so a flood from many addresses cannot grow the table without bound.
package final class FailureThrottle: Sendable {
    package struct Policy: Sendable {
        package var freeFailures = 5
        package var window: Duration = .seconds(60)
        package var firstDelay: Duration = .milliseconds(250)
        package var longestDelay: Duration = .seconds(5)
        package var maxAddresses = 10_000

        package init() {}
    }

    private struct Entry {
        var failures: Int
        var last: ContinuousClock.Instant
    }

    let policy: Policy
    private let entries = Mutex<[String: Entry]>([:])

    package init(policy: Policy = Policy()) {
        self.policy = policy
    }

    /// Records a refusal from `address` and returns how long to wait before answering it.
    package func failed(_ address: String, at now: ContinuousClock.Instant = .now) -> Duration {
        entries.withLock { entries in
            var entry =
                entries[address].flatMap { now - $0.last < policy.window ? $0 : nil } ?? Entry(failures: 0, last: now)
            entry.failures += 1
            entry.last = now
            entries[address] = entry
            if entries.count > policy.maxAddresses { Self.forgetOldest(&entries, keeping: policy.maxAddresses / 2) }
            let excess = entry.failures - policy.freeFailures
            guard excess > 0 else { return .zero }
            let doubled = policy.firstDelay * (1 << min(excess - 1, 20))
            return min(doubled, policy.longestDelay)
        }
    }

    /// How many refusals `address` has in the current window (0 once it has been quiet for a window).
    package func failures(of address: String, at now: ContinuousClock.Instant = .now) -> Int {
        entries.withLock { entries in
            entries[address].flatMap { now - $0.last < policy.window ? $0.failures : nil } ?? 0
        }
    }

    private static func forgetOldest(_ entries: inout [String: Entry], keeping count: Int) {
        let kept = entries.sorted { $0.value.last > $1.value.last }.prefix(count)
        entries = Dictionary(uniqueKeysWithValues: kept.map { ($0.key, $0.value) })
    }
}
