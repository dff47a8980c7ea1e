import DMCC
import NIOCore
import Synchronization

/// The requests of one DMCC connection and their answers: each request gets an invoke ID from 1 to 9998 (AES
/// sends its events with 9999), and the answer with that ID completes it. The reader of the connection hands every
/// frame that is not an event to `complete(_:)`.
final class DMCCConnection: Sendable {
    private let outbound: NIOAsyncChannelOutboundWriter<DMCCFrame>
    private let state = Mutex(State())

    private struct State {
        var lastInvokeID = 0
        var waiting: [Int: Waiter] = [:]
        var closed: DMCCError?
    }

    /// A request waiting for its answer; `onAnswer` runs on the reader as the answer is read, before any later
    /// frame is.
    private struct Waiter {
        var answer: OneShot<DMCCMessage>
        var onAnswer: (@Sendable (DMCCMessage) -> Void)?
    }

    init(outbound: NIOAsyncChannelOutboundWriter<DMCCFrame>) {
        self.outbound = outbound
    }

    /// Sends `xml` and waits for AES's answer; a refusal is thrown as the `DMCCError` AES gave. `onAnswer` sees the
    /// answer in the reader's order: what it records stands exactly where the answer stood among AES's events.
    func request(
        _ xml: String, timeout: Duration = .seconds(10), onAnswer: (@Sendable (DMCCMessage) -> Void)? = nil
    ) async throws -> DMCCMessage {
        let waiter = OneShot<DMCCMessage>()
        let invokeID = try state.withLock { state throws(DMCCError) -> Int in
            if let closed = state.closed { throw closed }
            repeat {
                state.lastInvokeID = state.lastInvokeID % 9_998 + 1
            } while state.waiting[state.lastInvokeID] != nil
            state.waiting[state.lastInvokeID] = Waiter(answer: waiter, onAnswer: onAnswer)
            return state.lastInvokeID
        }
        defer { _ = state.withLock { $0.waiting.removeValue(forKey: invokeID) } }
        do {
            try await outbound.write(DMCCFrame(invokeID: invokeID, xml: xml))
        } catch {
            // The connection is closing. Its reader says why (a TLS handshake refused, AES gone), which the write's
            // own error ("I/O on closed channel") does not: that reason, if it comes within a second.
            let writeError = error
            _ = try await waiter.value(timeout: .seconds(1)) { writeError }
            throw writeError
        }
        let answer = try await waiter.value(timeout: timeout) {
            DMCCError(.timeout, "AES did not answer within \(timeout)")
        }
        if case .refused(let error) = answer { throw error }
        return answer
    }

    /// Answers a request of AES's (`SystemStatus`) under its invoke ID.
    func answer(invokeID: Int, xml: String) async throws {
        try await outbound.write(DMCCFrame(invokeID: invokeID, xml: xml))
    }

    /// Completes the request waiting for this invoke ID; false when none waits (a late answer, or AES's own request).
    @discardableResult
    func complete(invokeID: Int, with message: DMCCMessage) -> Bool {
        guard let waiter = state.withLock({ $0.waiting.removeValue(forKey: invokeID) }) else { return false }
        waiter.onAnswer?(message)
        waiter.answer.resolve(.success(message))
        return true
    }

    /// The connection ended: every waiting request fails with `error`, and so does every later one.
    func close(_ error: DMCCError) {
        let waiters = state.withLock { state in
            state.closed = state.closed ?? error
            defer { state.waiting.removeAll() }
            return Array(state.waiting.values)
        }
        for waiter in waiters { waiter.answer.resolve(.failure(error)) }
    }
}

/// A value that arrives once, awaited by one task with a deadline.
final class OneShot<Value: Sendable>: Sendable {
    private let state = Mutex<
        (result: Result<Value, any Error>?, continuation: CheckedContinuation<Value, any Error>?)
    >(
        (nil, nil))

    func resolve(_ result: Result<Value, any Error>) {
        let continuation = state.withLock { state -> CheckedContinuation<Value, any Error>? in
            guard state.result == nil else { return nil }
            state.result = result
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume(with: result)
    }

    /// The value, or the error `timedOut` makes once `timeout` has passed.
    func value(timeout: Duration, timedOut: @escaping @Sendable () -> any Error) async throws -> Value {
        try await withThrowingTaskGroup(of: Value.self) { group in
            group.addTask {
                try await withTaskCancellationHandler {
                    try await withCheckedThrowingContinuation { continuation in
                        let ready = self.state.withLock { state -> Result<Value, any Error>? in
                            if let result = state.result { return result }
                            state.continuation = continuation
                            return nil
                        }
                        if let ready { continuation.resume(with: ready) }
                    }
                } onCancel: {
                    self.resolve(.failure(CancellationError()))
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                self.resolve(.failure(timedOut()))
                throw timedOut()
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }
}
