import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - ProxyConnection

/// One client connection through a `DelayProxy`: two threads, one per direction.
///
/// Each direction thread polls its source (for reading, while its queue holds less than the
/// bound and the proxy is not stalled), its destination (for writing, once the oldest chunk is
/// due and the last write would have blocked) and the connection's wake pipe. A chunk read is
/// stamped `now + delay` and written once that time has come, so the delay adds latency
/// without limiting throughput; when the queue is full the thread stops reading, and TCP's
/// own flow control pushes back on the sender. With no delay and nothing queued, bytes are
/// written straight from the read buffer (no copy).
///
/// End of stream is passed on as a half-close (`shutdown(SHUT_WR)`) once the queue is empty;
/// a reset or write error on either side, `cut`, or the cut trigger resets BOTH sides
/// (SO_LINGER 0, then close). Descriptors are closed only after both threads left, so no
/// thread ever polls a closed (and possibly reused) descriptor.
final class ProxyConnection: @unchecked Sendable {
    private static let readSize = 256 * 1024

    let id: Int
    private let clientFD: Int32
    private var serverFD: Int32 = -1          // set by the up thread before the down thread starts
    private let wake: (read: Int32, write: Int32)
    private let core: ProxyCore           // strong: the registry entry is dropped when both threads left
    private let state = LabLock((aborted: false, threads: 1))
    private let finished = DispatchSemaphore(value: 0)

    init(id: Int, clientFD: Int32, core: ProxyCore) throws {
        self.id = id
        self.clientFD = clientFD
        self.core = core
        wake = try LabSocket.makePipe()
    }

    // MARK: Lifecycle

    /// Starts the up thread, which connects to the target and then starts the down thread.
    func start() {
        let thread = Thread { [self] in runUpstream() }
        thread.name = "muxsync-proxy-\(id)-up"
        thread.start()
    }

    /// Resets both sides as soon as the threads notice (at once: they poll the wake pipe).
    func abort() {
        let first = state.withLock { state -> Bool in
            defer { state.aborted = true }
            return !state.aborted
        }
        if first {
            var byte: UInt8 = 1
            _ = write(wake.write, &byte, 1)
        }
    }

    /// Waits until both threads left and the descriptors are closed.
    @discardableResult
    func waitUntilFinished(timeout: TimeInterval) -> Bool {
        finished.wait(timeout: .now() + timeout) == .success
    }

    private var isAborted: Bool { state.withLock { $0.aborted } }

    private func runUpstream() {
        do {
            serverFD = try LabSocket.connect(host: core.targetHost, port: core.targetPort, timeout: 5)
        } catch {
            abort()
            threadFinished()
            return
        }
        LabSocket.setNonBlocking(clientFD, true)
        LabSocket.setNonBlocking(serverFD, true)
        LabSocket.setNoDelay(clientFD)
        state.withLock { $0.threads += 1 }
        let down = Thread { [self] in
            pump(.down)
            threadFinished()
        }
        down.name = "muxsync-proxy-\(id)-down"
        down.start()
        pump(.up)
        threadFinished()
    }

    private func threadFinished() {
        let (last, aborted) = state.withLock { state -> (Bool, Bool) in
            state.threads -= 1
            return (state.threads == 0, state.aborted)
        }
        guard last else { return }
        for fd in [clientFD, serverFD] where fd >= 0 {
            if aborted { LabSocket.setResetOnClose(fd) }
            close(fd)
        }
        close(wake.read)
        close(wake.write)
        core.connectionFinished(id)
        finished.signal()
    }

    // MARK: Pumping one direction

    private enum FlushResult {
        case idle, blocked, paused, failed
    }

    private func pump(_ direction: DelayProxy.Direction) {
        let source = direction == .up ? clientFD : serverFD
        let destination = direction == .up ? serverFD : clientFD
        var queue = ChunkQueue()
        var shaper = LinkShaper(seed: core.control.jitterSeed &+ UInt64(id) &* 2 &+ (direction == .up ? 0 : 1))
        var sourceClosed = false
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: Self.readSize, alignment: 16)
        defer { buffer.deallocate() }

        while !isAborted {
            let control = core.control
            var now = monotonicNanoseconds()
            var flush = FlushResult.idle
            if !control.stalled {
                var budget = control.isShaped ? shaper.budget(now: now, control: control) : Int.max
                let before = budget
                flush = self.flush(&queue, to: destination, now: now, direction: direction, budget: &budget)
                if flush == .failed { return abort() }
                if control.isShaped { shaper.spent(before - budget, now: now, control: control) }
            }
            if sourceClosed && queue.isEmpty {
                shutdown(destination, Int32(SHUT_WR))
                return
            }

            var entries = [pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)]
            let wantRead = !sourceClosed && !control.stalled && queue.byteCount < control.queueBound
            if wantRead { entries.append(pollfd(fd: source, events: Int16(POLLIN), revents: 0)) }
            if flush == .blocked { entries.append(pollfd(fd: destination, events: Int16(POLLOUT), revents: 0)) }
            var timeout: Int32 = 50
            if control.stalled || flush == .paused {
                timeout = 10
            } else if flush == .idle, let due = queue.headDue, due > now {
                timeout = Int32(min(50, (due - now + 999_999) / 1_000_000))
            }
            if poll(&entries, nfds_t(entries.count), timeout) <= 0 { continue }
            if entries[0].revents != 0 { return }
            guard wantRead, entries[1].revents != 0 else { continue }

            let count = recv(source, buffer, Self.readSize, 0)
            if count == 0 {
                sourceClosed = true
            } else if count < 0 {
                if errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR { return abort() }
            } else {
                now = monotonicNanoseconds()
                var offset = 0
                if control.delayNanoseconds == 0 && queue.isEmpty && !control.isShaped {
                    switch send(UnsafeRawBufferPointer(start: buffer, count: count), to: destination, direction: direction) {
                    case .reset: return abort()
                    case .wait: break
                    case let .wrote(sent): offset = sent
                    }
                }
                if offset < count {
                    queue.append(buffer + offset, count: count - offset, due: now &+ control.delayNanoseconds)
                }
            }
        }
    }

    /// Writes every due chunk until the queue is empty, nothing more is due, the socket is
    /// full, or `budget` bytes went out (then `.paused`; `budget` is lowered by what was written).
    private func flush(_ queue: inout ChunkQueue, to destination: Int32, now: UInt64,
                       direction: DelayProxy.Direction, budget: inout Int) -> FlushResult {
        while let due = queue.headDue, due <= now {
            if budget <= 0 { return .paused }
            var outcome = SendOutcome.reset
            var wanted = 0
            let allowed = budget
            _ = queue.withHead { bytes in
                let limited = UnsafeRawBufferPointer(rebasing: bytes.prefix(allowed))
                wanted = limited.count
                outcome = send(limited, to: destination, direction: direction)
                if case let .wrote(count) = outcome { return count }
                return 0
            }
            if case let .wrote(count) = outcome { budget -= count }
            switch outcome {
            case .reset: return .failed
            case .wait: return .paused
            case let .wrote(count) where count < wanted: return .blocked
            case .wrote: continue
            }
        }
        return .idle
    }

    private enum SendOutcome {
        /// This many bytes went out (fewer than offered when the socket is full).
        case wrote(Int)
        /// Stalled, or the cut trigger's last bytes are reserved by another send: retry shortly.
        case wait
        /// Reset the connection (write error, or the cut trigger fired).
        case reset
    }

    /// Sends what the cut trigger allows of `bytes`, counting what went out.
    private func send(_ bytes: UnsafeRawBufferPointer, to destination: Int32,
                      direction: DelayProxy.Direction) -> SendOutcome {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return .wrote(0) }
        // Checked here, right before the write, so that nothing passes once `stall = true` returned.
        if core.control.stalled { return .wait }
        switch core.reserve(bytes.count, direction: direction) {
        case .wait:
            return .wait
        case .cut:
            return .reset
        case let .granted(granted, charged):
            let result = systemSend(destination, base, granted)
            let failure = result < 0 ? errno : 0
            let written = max(result, 0)
            if core.settle(granted: granted, charged: charged, written: written, direction: direction) { return .reset }
            if result < 0 && failure != EAGAIN && failure != EWOULDBLOCK && failure != EINTR { return .reset }
            return .wrote(written)
        }
    }
}

// MARK: - C send

/// `send` with the platform's no-SIGPIPE flag (the method above shadows the C name).
@inline(__always)
private func systemSend(_ fd: Int32, _ base: UnsafeRawPointer, _ count: Int) -> Int {
    send(fd, base, count, LabSocket.sendFlags)
}
