#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MuxTransport

// MARK: - Blocking file-system calls off the cooperative pool

/// Runs blocking file-system calls (fsync above all) on threads of their own. Swift's
/// cooperative pool has one thread per core; a pull that fsynced each file on it held a
/// thread for every flush, and with 2 cores the transfers of all other files stalled behind
/// the disk. Here up to `threads` flushes wait at once while the pool goes on driving the
/// session; a job waits for a free thread, never for another job's disk.
public final class BlockingFileWork: @unchecked Sendable {
    /// The pool pull uses to finish files (fsync, attributes, rename).
    public static let shared = BlockingFileWork(name: "muxsync-files", threads: 8)

    private let name: String
    private let threads: Int
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let ready: UnsafeMutablePointer<pthread_cond_t>
    // Guarded by `mutex`.
    private var jobs: [() -> Void] = []
    private var next = 0
    private var started = false

    private init(name: String, threads: Int) {
        self.name = name
        self.threads = max(1, threads)
        mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        ready = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
        ready.initialize(to: pthread_cond_t())
        pthread_cond_init(ready, nil)
    }

    // Only the shared pool exists, for the life of the process: no deinit.

    /// Runs `work` on one of the pool's threads and returns (or throws) what it did.
    public func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            enqueue { continuation.resume(with: Result { try work() }) }
        }
    }

    private func enqueue(_ job: @escaping () -> Void) {
        pthread_mutex_lock(mutex)
        jobs.append(job)
        let start = !started
        started = true
        pthread_cond_signal(ready)
        pthread_mutex_unlock(mutex)
        if start {
            for index in 0..<threads {
                PlainThread.start(name: "\(name)-\(index)") { [self] in serve() }
            }
        }
    }

    private func serve() {
        while true {
            pthread_mutex_lock(mutex)
            while next == jobs.count { pthread_cond_wait(ready, mutex) }
            let job = jobs[next]
            next += 1
            if next == jobs.count {  // drained: drop the finished closures
                jobs.removeAll(keepingCapacity: true)
                next = 0
            }
            pthread_mutex_unlock(mutex)
            job()
        }
    }
}
