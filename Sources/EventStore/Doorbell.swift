import Synchronization

/// Wakes one waiting task: a ring while nobody waits is kept for the next wait, rings that pile up count once.
///
/// The projector waits on one for new events, and the feed for new messages: both are rung by a PostgreSQL
/// notification and also look again after a timeout, so a lost notification (a reconnect) delays work but never
/// loses it.
package final class Doorbell: Sendable {
    private struct State {
        var rung = false
        var waiter: CheckedContinuation<Void, Never>?
        /// The current wait is over (its timeout came): its ring wait must not start waiting.
        var abandoned = false
    }

    private let state = Mutex(State())

    package init() {}

    package func ring() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.rung = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Returns at the next ring (at once if one came since the last wait), or after `timeout`.
    package func wait(timeout: Duration) async {
        if takeRing() { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: timeout) }
            group.addTask { await self.nextRing() }
            await group.next()
            group.cancelAll()
            // The group waits for the other child: a cancelled sleep ends at once; a ring wait still pending is
            // let go without taking a ring that may come meanwhile.
            self.state.withLock { state in
                state.abandoned = true
                let waiter = state.waiter
                state.waiter = nil
                return waiter
            }?.resume()
            await group.waitForAll()
        }
    }

    /// Returns at the next ring (at once if one came since the last wait), or when the task is cancelled.
    package func wait() async {
        if takeRing() { return }
        await withTaskCancellationHandler {
            await nextRing()
        } onCancel: {
            state.withLock { state in
                state.abandoned = true
                let waiter = state.waiter
                state.waiter = nil
                return waiter
            }?.resume()
        }
    }

    /// Starts a wait: takes a ring kept since the last one, if any.
    private func takeRing() -> Bool {
        state.withLock { state in
            defer { state.rung = false }
            state.abandoned = false
            return state.rung
        }
    }

    private func nextRing() async {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state -> Bool in
                if state.abandoned { return true }
                if state.rung {
                    state.rung = false
                    return true
                }
                state.waiter = continuation
                return false
            }
            if now { continuation.resume() }
        }
    }
}
