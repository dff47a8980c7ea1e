import Projections
import Synchronization
import Testing

/// `ProjectionProgress` on its own (pure logic: the checkpoint reader is a stand-in).
struct ProjectionProgressTests {
    final class Checkpoint: Sendable {
        let value = Mutex<Int64>(0)
    }

    @Test func aWaitEndsWhenTheProjectorAdvances() async throws {
        let checkpoint = Checkpoint()
        let progress = ProjectionProgress { checkpoint.value.withLock { $0 } }
        async let reached = progress.wait(until: 10, timeout: .seconds(10))
        try await Task.sleep(for: .milliseconds(50))
        #expect(progress.hasWaiters)
        progress.advanced(to: 12)
        #expect(try await reached == 12)
        #expect(!progress.hasWaiters)
    }

    @Test func aWaitSeesAnotherProcessThroughTheCheckpoint() async throws {
        let checkpoint = Checkpoint()
        let progress = ProjectionProgress(freshness: .milliseconds(10)) { checkpoint.value.withLock { $0 } }
        async let reached = progress.wait(until: 5, timeout: .seconds(10))
        try await Task.sleep(for: .milliseconds(50))
        checkpoint.value.withLock { $0 = 7 }
        #expect(try await reached == 7)
    }

    @Test func aWaitThatRunsOutReturnsNil() async throws {
        let progress = ProjectionProgress { 3 }
        #expect(try await progress.wait(until: 4, timeout: .milliseconds(50)) == nil)
        #expect(try await progress.current() == 3)
    }
}
