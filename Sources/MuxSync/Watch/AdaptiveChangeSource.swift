// AdaptiveChangeSource: inotify while it can, polling when it cannot (Linux).
//
// start() tries inotify; when inotify is unavailable or the tree needs more watches than
// fs.inotify.max_user_watches allows, it polls instead. When the watch limit is reached
// later (new directories), it starts polling, stops inotify, and the inotify side's last
// batch carries a `.rescan` saying why. `kind` tells which one runs; `fallbackReason` why.

#if os(Linux)
import MuxTransport

// MARK: - AdaptiveChangeSource

/// A change source that uses inotify and falls back to polling.
public final class AdaptiveChangeSource: ChangeSource, @unchecked Sendable {
    private struct State {
        var inotify: InotifyWatcher?
        var polling: PollingWatcher?
        var fallbackReason: String?
        var continuation: AsyncStream<[ChangeEvent]>.Continuation?
        var forwarding = 0
        var started = false
        var stopped = false
    }

    /// The watched directory.
    public let root: String
    private let filter: ExclusionFilter
    private let pollInterval: Duration
    private let coalesce: ChangeCoalescer.Settings
    private let state = Locked(State())

    /// Creates the source; nothing happens before `start()`.
    public init(root: String, filter: ExclusionFilter, pollInterval: Duration,
                coalesce: ChangeCoalescer.Settings = .standard) {
        self.root = root
        self.filter = filter
        self.pollInterval = pollInterval
        self.coalesce = coalesce
    }

    /// "inotify", or "polling" after a fallback.
    public var kind: String { state.withLock { $0.polling == nil ? "inotify" : "polling" } }

    /// Why polling replaced inotify (nil while inotify runs).
    public var fallbackReason: String? { state.withLock { $0.fallbackReason } }

    // MARK: ChangeSource

    /// Starts inotify, or polling when inotify cannot watch this tree.
    /// - Throws: ``ChangeSourceError/rootUnusable(_:reason:)`` when the root cannot be read.
    public func start() throws -> AsyncStream<[ChangeEvent]> {
        let (stream, continuation) = AsyncStream<[ChangeEvent]>.makeStream(bufferingPolicy: .unbounded)
        try state.withLock { s in
            if s.started { throw ChangeSourceError.alreadyStarted }
            s.started = true
            s.continuation = continuation
        }
        continuation.onTermination = { [weak self] _ in self?.stop() }
        let inotify = InotifyWatcher(root: root, filter: filter, coalesce: coalesce) { [weak self] in
            self?.switchToPolling(because: "the inotify watch limit was reached")
        }
        do {
            let inner = try inotify.start()
            state.withLock { $0.inotify = inotify }
            forward(inner)
        } catch ChangeSourceError.inotifyUnavailable(let reason) {
            try startPolling(because: reason)
        } catch {
            continuation.finish()
            throw error
        }
        return stream
    }

    /// Stops whichever source runs; the stream finishes once their last batches are passed on.
    public func stop() {
        let (inotify, polling, idle) = state.withLock { s -> (InotifyWatcher?, PollingWatcher?, Bool) in
            s.stopped = true
            return (s.inotify, s.polling, s.forwarding == 0)
        }
        inotify?.stop()
        polling?.stop()
        if idle { finishIfDone() }
    }

    // MARK: Switching

    private func startPolling(because reason: String) throws {
        let polling = PollingWatcher(root: root, filter: filter, interval: pollInterval)
        let inner = try polling.start()
        let stopNow = state.withLock { s -> Bool in
            s.polling = polling
            s.fallbackReason = reason
            return s.stopped
        }
        forward(inner)
        if stopNow { polling.stop() }
    }

    /// Called on the inotify thread when a directory could not be watched (internal for tests).
    func switchToPolling(because reason: String) {
        let already = state.withLock { $0.polling != nil || $0.stopped }
        if already { return }
        do {
            try startPolling(because: reason)
        } catch {
            return  // keep inotify (it already emitted a rescan)
        }
        state.withLock { $0.inotify }?.stop()  // from its own thread: only asks it to end
    }

    private func forward(_ inner: AsyncStream<[ChangeEvent]>) {
        guard let continuation = state.withLock({ s -> AsyncStream<[ChangeEvent]>.Continuation? in
            s.forwarding += 1
            return s.continuation
        }) else { return }
        Task { [weak self] in
            for await batch in inner { continuation.yield(batch) }
            self?.forwardingEnded()
        }
    }

    private func forwardingEnded() {
        state.withLock { $0.forwarding -= 1 }
        finishIfDone()
    }

    private func finishIfDone() {
        let continuation = state.withLock { s -> AsyncStream<[ChangeEvent]>.Continuation? in
            guard s.stopped, s.forwarding == 0 else { return nil }
            defer { s.continuation = nil }
            return s.continuation
        }
        continuation?.finish()
    }
}
#endif
