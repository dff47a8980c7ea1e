import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A task executor of one thread of its own, which the kernel schedules behind the rest of the process.
///
/// Projections are derived work: everything they write can be written again from the log. Accepting events is
/// not: a POST holds the AES connector until its batch is durable. On a machine whose CPUs are all busy, the
/// projector's decoding, reducing and row building would otherwise take an equal share from the request
/// handlers (on a 2-core machine, half of a burst's ingest rate). Run with this executor as its preference,
/// the projector gets the CPU the rest leaves, and all of it when nothing else wants it: with spare CPU (any
/// sustained load the machine can carry) it is as prompt as before; in a burst it falls behind and catches up
/// after, in bigger batches. Its database work is paced by it, since each batch waits for the last.
///
/// Jobs run one at a time in the order enqueued. The thread lives as long as the process.
package final class BackgroundThreadExecutor: TaskExecutor, @unchecked Sendable {
    /// The niceness the thread asks for (Linux `setpriority`, per thread); 0 leaves it as the process is.
    package let niceness: Int32
    /// The thread's name, as `top -H` and `perf` show it (at most 15 bytes on Linux).
    package let name: String
    /// Guards `jobs` and signals the thread when one arrives.
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []

    package init(name: String, niceness: Int32) {
        self.niceness = niceness
        self.name = name
        Thread { [self] in run() }.start()
    }

    package func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func run() {
        #if os(Linux)
        // Named from the thread itself, through the OS: a new Linux thread starts with its creator's name (here a
        // concurrency-pool thread's), and Foundation's `Thread.name` reaches the OS only once `start` has stored
        // the thread's handle, which this thread may run before. A thread may write its own name to
        // `/proc/thread-self/comm` (proc(5)); Swift reaches neither `pthread_setname_np` nor variadic `prctl`.
        let descriptor = open("/proc/thread-self/comm", O_WRONLY)
        if descriptor >= 0 {
            let bytes = Array(name.utf8.prefix(15))
            _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            close(descriptor)
        }
        if niceness != 0 {
            // On Linux the niceness is a thread's own, and `who` 0 is the calling thread: the process's other
            // threads keep theirs (setpriority(2), NOTES).
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness)
        }
        #endif
        var running: [UnownedJob] = []
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            swap(&running, &jobs)
            condition.unlock()
            for job in running { job.runSynchronously(on: asUnownedTaskExecutor()) }
            running.removeAll(keepingCapacity: true)
        }
    }
}
