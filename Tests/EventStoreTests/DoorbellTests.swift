import EventStore
import Synchronization
import Testing

/// The wake-up the projector and the feed wait on: a ring is never lost, and a wait always ends.
struct DoorbellTests {
    @Test func aRingBeforeTheWaitIsKept() async {
        let bell = Doorbell()
        bell.ring()
        bell.ring()
        let started = ContinuousClock.now
        await bell.wait(timeout: .seconds(10))
        #expect(ContinuousClock.now - started < .seconds(5))
        // Two rings before one wait count once: the next wait waits.
        let again = ContinuousClock.now
        await bell.wait(timeout: .milliseconds(100))
        #expect(ContinuousClock.now - again >= .milliseconds(100))
    }

    @Test func aWaiterWaitsForTheRing() async throws {
        let bell = Doorbell()
        let finished = Mutex(false)
        let waiter = Task {
            await bell.wait()
            finished.withLock { $0 = true }
        }
        try await Task.sleep(for: .milliseconds(50))
        #expect(!finished.withLock { $0 }, "nothing rang yet")
        bell.ring()
        await waiter.value
        #expect(finished.withLock { $0 })
    }

    @Test func cancellingAWaitEndsIt() async throws {
        let bell = Doorbell()
        let waiter = Task { await bell.wait() }
        try await Task.sleep(for: .milliseconds(20))
        waiter.cancel()
        await waiter.value
        // The bell still works after an abandoned wait, and a timed wait ends by itself.
        bell.ring()
        await bell.wait()
        await bell.wait(timeout: .milliseconds(10))
    }
}
