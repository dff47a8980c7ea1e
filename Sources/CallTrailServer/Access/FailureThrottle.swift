import Foundation
import Synchronization

/// Slows down an address that keeps presenting secrets that do not work, so that guessing tokens is slow (a request
/// with no secret at all is refused at once: it guesses nothing). Past `freeFailures` within `window`, each further
/// refusal is answered after a delay that doubles (from `firstDelay`) up to `longestDelay`. A quiet `window`
/// forgets the address.
///
/// A delayed answer holds its connection, so an address has at most `maxWaiting` answers waiting at once; past
/// that, it is told at once to come back later (`429` with `Retry-After`, and the connection closed), which costs
/// the server nothing. An IPv6 client is counted by its /64, the block one host is usually given.
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
        package var maxWaiting = 8
        package var maxAddresses = 10_000

        package init() {}
    }

    /// What to do with a refusal.
    package enum Verdict: Equatable, Sendable {
        /// Answer it after this long (zero: at once).
        case answer(after: Duration)
        /// Too many answers of this address are waiting already: `429`, come back after this long.
        case tooMany(retryAfter: Duration)
    }

    private struct Entry {
        var failures: Int
        var last: ContinuousClock.Instant
        /// When the answers now waiting are due.
        var waiting: [ContinuousClock.Instant] = []
    }

    let policy: Policy
    private let entries = Mutex<[String: Entry]>([:])

    package init(policy: Policy = Policy()) {
        self.policy = policy
    }

    /// The key an address is counted under: itself, or for IPv6 its /64.
    package static func key(_ address: String) -> String {
        guard address.contains(":"), let bytes = AddressRange.bytes(of: address), bytes.count == 16 else {
            return address
        }
        if bytes.prefix(12) == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF] {
            return bytes.suffix(4).map(String.init).joined(separator: ".")  // IPv4 seen as IPv6
        }
        return bytes.prefix(8).map { String(format: "%02x", $0) }.joined() + "::/64"
    }

    /// Records a refusal from `address` and says when to answer it.
    package func failed(_ address: String, at now: ContinuousClock.Instant = .now) -> Verdict {
        let key = Self.key(address)
        return entries.withLock { entries in
            var entry =
                entries[key].flatMap { now - $0.last < policy.window ? $0 : nil } ?? Entry(failures: 0, last: now)
            entry.failures += 1
            entry.last = now
            entry.waiting.removeAll { $0 <= now }
            let excess = entry.failures - policy.freeFailures
            let verdict: Verdict
            if excess <= 0 {
                verdict = .answer(after: .zero)
            } else {
                let delay = min(policy.firstDelay * (1 << min(excess - 1, 20)), policy.longestDelay)
                if entry.waiting.count >= policy.maxWaiting {
                    verdict = .tooMany(retryAfter: delay)
                } else {
                    entry.waiting.append(now + delay)
                    verdict = .answer(after: delay)
                }
            }
            entries[key] = entry
            if entries.count > policy.maxAddresses { Self.forgetOldest(&entries, keeping: policy.maxAddresses / 2) }
            return verdict
        }
    }

    /// How many refusals `address` has in the current window (0 once it has been quiet for a window).
    package func failures(of address: String, at now: ContinuousClock.Instant = .now) -> Int {
        entries.withLock { entries in
            entries[Self.key(address)].flatMap { now - $0.last < policy.window ? $0.failures : nil } ?? 0
        }
    }

    private static func forgetOldest(_ entries: inout [String: Entry], keeping count: Int) {
        let kept = entries.sorted { $0.value.last > $1.value.last }.prefix(count)
        entries = Dictionary(uniqueKeysWithValues: kept.map { ($0.key, $0.value) })
    }
}
