// WatcherThread: the dedicated thread of a change source, its wake-up pipe and its stream.
//
// Both watchers block in poll(): the polling watcher on the wake pipe alone (with the poll
// interval as timeout), the inotify watcher on the inotify descriptor and the wake pipe. A
// stop writes one byte to the pipe, so an idle watcher costs no CPU and stops at once.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Foundation
import MuxTransport

// MARK: - WatcherThread

/// Runs a watcher loop on its own thread and stops it on request.
final class WatcherThread: @unchecked Sendable {
    private struct State {
        var started = false
        var stopRequested = false
        var finished = false
        /// The loop's thread, so that a stop from inside the loop does not wait for itself.
        var loopThread: PlainThread.Identity?
    }

    /// The read end of the wake pipe: readable once a stop was requested.
    let wakeDescriptor: Int32
    private let writeDescriptor: Int32
    private let state = Locked(State())
    private let done = DispatchSemaphore(value: 0)
    private let name: String

    /// Creates the pipe; throws when no descriptor is left.
    init(name: String) throws {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else {
            throw ChangeSourceError.setupFailed(reason: "cannot create the wake-up pipe of \(name): "
                + LocalScanner.describe(errno: errno) + "; too many open files? (raise ulimit -n)")
        }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        wakeDescriptor = fds[0]
        writeDescriptor = fds[1]
        self.name = name
    }

    deinit {
        close(wakeDescriptor)
        close(writeDescriptor)
    }

    /// Whether stop was requested.
    var isStopRequested: Bool { state.withLock { $0.stopRequested } }

    // MARK: Lifecycle

    /// Starts `body` on a new thread (once). `body` should return soon after
    /// `isStopRequested` becomes true (the wake pipe becomes readable then).
    func start(_ body: @escaping @Sendable () -> Void) throws {
        try state.withLock { s in
            if s.started { throw ChangeSourceError.alreadyStarted }
            s.started = true
        }
        PlainThread.start(name: name, stackSize: 8 << 20) { [self] in
            state.withLock { $0.loopThread = PlainThread.current }
            body()
            state.withLock { $0.finished = true }
            done.signal()
        }
    }

    /// Asks the loop to end, without waiting (safe from the loop itself).
    func requestStop() {
        let first = state.withLock { s -> Bool in
            defer { s.stopRequested = true }
            return !s.stopRequested
        }
        if first {
            var byte: UInt8 = 1
            _ = write(writeDescriptor, &byte, 1)
        }
    }

    /// Asks the loop to end and waits until it has (unless called from the loop thread).
    func stop() {
        requestStop()
        let current = PlainThread.current
        let mustWait = state.withLock { $0.started && !$0.finished && $0.loopThread != current }
        guard mustWait else { return }
        done.wait()
        done.signal()  // later stop() calls do not block
    }

    // MARK: Waiting

    /// Blocks until `timeout` passes or a stop is requested; true when stopping.
    func sleep(_ timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !isStopRequested {
            let left = deadline - ContinuousClock.now
            if left <= .zero { return false }
            var fd = pollfd(fd: wakeDescriptor, events: Int16(POLLIN), revents: 0)
            _ = poll(&fd, 1, WatcherThread.milliseconds(left))
        }
        return true
    }

    /// `duration` in whole milliseconds for poll(), rounded up, capped at one hour.
    static func milliseconds(_ duration: Duration) -> Int32 {
        if duration <= .zero { return 0 }
        let (seconds, attoseconds) = duration.components
        if seconds >= 3600 { return 3_600_000 }
        let ms = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(ms)
    }
}

// MARK: - Stream plumbing

extension WatcherThread {
    /// A stream of batches whose termination (consumer gone) requests a stop.
    func makeStream() -> (AsyncStream<[ChangeEvent]>, AsyncStream<[ChangeEvent]>.Continuation) {
        let (stream, continuation) = AsyncStream<[ChangeEvent]>.makeStream(bufferingPolicy: .unbounded)
        continuation.onTermination = { [weak self] _ in self?.requestStop() }
        return (stream, continuation)
    }
}
