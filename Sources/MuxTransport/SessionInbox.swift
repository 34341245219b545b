#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Work posted to the session thread

/// A unit of work for the session thread. `run` executes on the thread with
/// the live loop; `fail` is called instead when the session is already gone.
struct SessionJob: Sendable {
    let run: @Sendable (SessionLoop) -> Void
    let fail: @Sendable (TransportError) -> Void
}

/// The only door into the session thread: a lock-protected queue of jobs and a
/// self-pipe that wakes the thread's poll(). Any thread may submit.
final class SessionInbox: @unchecked Sendable {
    private struct State {
        var jobs: [SessionJob] = []
        var closedBy: TransportError?
        var wakePending = false
    }

    private let state = Locked(State())
    /// Read end, polled by the session thread.
    let wakeReadFD: Int32
    private let wakeWriteFD: Int32

    init() {
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) != 0 { fatalError("muxsync: cannot create a pipe: \(String(cString: strerror(errno)))") }
        wakeReadFD = fds[0]
        wakeWriteFD = fds[1]
        TCPSocket.setNonBlocking(wakeReadFD)
        TCPSocket.setNonBlocking(wakeWriteFD)
        _ = fcntl(wakeReadFD, F_SETFD, FD_CLOEXEC)
        _ = fcntl(wakeWriteFD, F_SETFD, FD_CLOEXEC)
    }

    deinit {
        closeDescriptor(wakeReadFD)
        closeDescriptor(wakeWriteFD)
    }

    /// Queues a job; fails it at once when the session has ended.
    func submit(_ job: SessionJob) {
        let (closed, mustWake): (TransportError?, Bool) = state.withLock { s in
            if let error = s.closedBy { return (error, false) }
            s.jobs.append(job)
            if s.wakePending { return (nil, false) }
            s.wakePending = true
            return (nil, true)
        }
        if let closed { job.fail(closed); return }
        if mustWake {
            var byte: UInt8 = 1
            _ = write(wakeWriteFD, &byte, 1)
        }
    }

    /// Convenience: a job whose failure resumes nothing special.
    func submit(_ run: @escaping @Sendable (SessionLoop) -> Void, onFailure: @escaping @Sendable (TransportError) -> Void) {
        submit(SessionJob(run: run, fail: onFailure))
    }

    /// Takes every queued job (session thread only).
    func drain() -> [SessionJob] {
        var sink = [UInt8](repeating: 0, count: 64)
        while read(wakeReadFD, &sink, sink.count) > 0 {}
        return state.withLock { s in
            s.wakePending = false
            defer { s.jobs.removeAll(keepingCapacity: true) }
            return s.jobs
        }
    }

    /// Marks the session ended; returns the jobs that never ran so they can be failed.
    func close(with error: TransportError) -> [SessionJob] {
        state.withLock { s in
            if s.closedBy == nil { s.closedBy = error }
            defer { s.jobs.removeAll() }
            return s.jobs
        }
    }

    var isClosed: Bool { state.withLock { $0.closedBy != nil } }
}
