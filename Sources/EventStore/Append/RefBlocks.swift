import Logging
import PostgresNIO
import Synchronization

/// Hands out `event_bodies` refs from blocks this process draws from `event_ref_seq`, so an append needs no round
/// trip of its own for them (migrations/0006_feed_latency.sql): one `nextval` reserves `size` refs.
///
/// Refs are unique, not dense or ordered: a block cut short (two lanes drawing at once, a restart) leaves a gap.
final class RefBlocks: Sendable {
    /// The sequence's increment: a block is the `size` refs from one `nextval`.
    static let size: Int64 = 1_024

    /// The rest of the current block, `next..<end`.
    private let block = Mutex<Range<Int64>>(0..<0)

    /// `count` new refs, in order within each block.
    func take(_ count: Int, on connection: PostgresConnection, logger: Logger) async throws -> [Int64] {
        var refs = block.withLock { block -> [Int64] in
            let taken = block.lowerBound..<min(block.upperBound, block.lowerBound + Int64(count))
            block = taken.upperBound..<block.upperBound
            return Array(taken)
        }
        let missing = Int64(count - refs.count)
        guard missing > 0 else { return refs }
        let blocks = (missing + Self.size - 1) / Self.size
        var starts: [Int64] = []
        for try await drawn in try await connection.query(
            "SELECT array_agg(nextval('event_ref_seq')) FROM generate_series(1, \(blocks))", logger: logger
        ).decode([Int64].self) {
            starts = drawn
        }
        guard let last = starts.last, starts.count == blocks else {
            throw EventStoreError.schema("event_ref_seq gave \(starts.count) blocks where \(blocks) were asked")
        }
        for start in starts.dropLast() { refs += start..<(start + Self.size) }
        let fromLast = missing - (blocks - 1) * Self.size
        refs += last..<(last + fromLast)
        // What is left of the last block serves the next appends. Should another lane have stored a block
        // meanwhile, that one's rest is dropped: a gap, never a ref given twice.
        block.withLock { $0 = (last + fromLast)..<(last + Self.size) }
        return refs
    }
}
