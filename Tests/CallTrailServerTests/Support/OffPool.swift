import Foundation

/// Runs blocking work (a socket call, a wait for a child process) on a thread of its own.
///
/// Every test of the suite runs in one process, on Swift's cooperative pool: two threads on a 2-core machine. A
/// test that blocks one of them for seconds stalls every other test's servers, AES simulators and timers, and a
/// keep-alive that misses its deadline ends a healthy AES session in a test that has nothing to do with it.
func onThread<Result: Sendable>(_ work: @escaping @Sendable () -> Result) async -> Result {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread { continuation.resume(returning: work()) }
    }
}

extension Process {
    /// Waits until the process has ended, off the cooperative pool.
    func exited() async {
        await onThread { [self] in waitUntilExit() }
    }
}
