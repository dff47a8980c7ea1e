import Foundation
import Projections
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The projector's executor: work preferring it runs on its thread at its niceness, its child tasks too (the
/// projector reads its next batch in an `async let`), and the rest of the process keeps its own.
struct BackgroundThreadExecutorTests {
    /// The calling thread's niceness (Linux: `who` 0 is the calling thread).
    static func niceness() -> Int32 {
        errno = 0
        return getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
    }

    /// The calling thread's name as the kernel has it, which `top -H` shows (Foundation's `Thread.current` is a
    /// cached object). The executor names its thread itself: a thread named through Foundation before `start` had
    /// stored its handle kept its creator's name, `oot.default-qos`, under load.
    static func threadName() -> String? {
        (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static let executor = BackgroundThreadExecutor(name: "test-background", niceness: 7)

    @Test func workPreferringItRunsNicedAndTheRestDoesNot() async throws {
        let outside = Self.niceness()
        let (inside, child, threadName) = await withTaskExecutorPreference(Self.executor) {
            // The body may begin on the caller's thread; once it suspends, it resumes on the executor it prefers.
            await Task.yield()
            let inside = Self.niceness()
            let threadName = Self.threadName()
            async let child = Self.niceness()
            return (inside, await child, threadName)
        }
        #expect(inside == 7)
        #expect(child == 7)
        #expect(threadName == "test-background")
        #expect(outside == 0)
        #expect(Self.niceness() == 0)
    }

    @Test func itRunsManyTasksToTheEnd() async throws {
        let sums = await withTaskGroup(of: Int.self) { group in
            for task in 0..<50 {
                group.addTask(executorPreference: Self.executor) {
                    var sum = 0
                    for step in 0..<20 {
                        await Task.yield()
                        sum += task * step
                    }
                    return sum
                }
            }
            return await group.reduce(0, +)
        }
        #expect(sums == (0..<50).reduce(0) { $0 + $1 * 190 })
    }
}
