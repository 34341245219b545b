import MuxTransport

// MARK: - Changes waiting to go to the remote

/// The changes seen locally and not yet applied remotely. The watcher adds,
/// the engine takes; while the connection is down the queue just grows, so
/// nothing is lost. Events for the same path merge (the latest wins).
public final class ChangeQueue: @unchecked Sendable {
    private struct State {
        var events: [ChangeEvent] = []
        var waiter: CheckedContinuation<Void, Never>?
        var closed = false
        /// A batch was taken and not yet acknowledged (being applied).
        var inFlight = false
        /// Batches applied so far.
        var applied = 0
        /// `wake` was called: `next` returns an empty batch if nothing is queued.
        var woken = false
    }

    private let state = Locked(State())

    public init() {}

    public var count: Int { state.withLock { $0.events.count } }

    /// Adds a batch and wakes the engine.
    public func add(_ batch: [ChangeEvent]) {
        guard !batch.isEmpty else { return }
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.events = Self.merge(s.events, batch)
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    /// Puts back a batch that could not be applied, before newer events.
    public func requeue(_ batch: [ChangeEvent]) {
        state.withLock { s in s.events = Self.merge(batch, s.events) }
    }

    /// The batch taken by `next` is done (applied, or put back with `requeue`).
    public func acknowledge() {
        state.withLock { s in
            s.inFlight = false
            s.applied += 1
        }
    }

    /// Nothing queued and nothing being applied; with the count of applied batches.
    public var idleState: (idle: Bool, applied: Int) {
        state.withLock { s in (s.events.isEmpty && !s.inFlight, s.applied) }
    }

    /// Takes whatever is queued, without waiting.
    public func takeAll() -> [ChangeEvent] {
        state.withLock { s in
            defer { s.events.removeAll() }
            return s.events
        }
    }

    /// Makes a waiting (or the next) `next` return an empty batch when nothing is queued, so
    /// the engine can do timed work (checking paths sent ahead of their events). An empty
    /// batch is not in flight and needs no `acknowledge`.
    public func wake() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.woken = true
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    /// No more events will come (the watcher stopped).
    public func close() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.closed = true
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    /// Waits for events and takes them all (an empty batch after `wake`, once nothing is
    /// queued); nil once closed and empty or cancelled.
    public func next() async -> [ChangeEvent]? {
        while true {
            if Task.isCancelled { return nil }
            let taken = state.withLock { s -> [ChangeEvent]?? in
                if !s.events.isEmpty {
                    defer { s.events.removeAll() }
                    s.inFlight = true
                    return .some(s.events)
                }
                if s.closed { return .some(nil) }
                if s.woken {
                    s.woken = false
                    return .some([])
                }
                return nil
            }
            if let taken { return taken }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    let resumeNow = state.withLock { s -> Bool in
                        if !s.events.isEmpty || s.closed || s.woken || Task.isCancelled { return true }
                        s.waiter = c
                        return false
                    }
                    if resumeNow { c.resume() }
                }
            } onCancel: {
                let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
                    defer { s.waiter = nil }
                    return s.waiter
                }
                waiter?.resume()
            }
        }
    }

    /// Keeps event order, dropping what a later event about the same path makes moot
    /// (between two renames or rescans, which keep their place: they move remote data):
    /// a change replaces an earlier change; a removal replaces an earlier change and removal.
    /// A removal followed by a change is kept as both: the remote entry must go before the
    /// new one is sent (a directory's old contents, another kind). So a path holds at most
    /// two events between renames, however long the link is down.
    static func merge(_ first: [ChangeEvent], _ second: [ChangeEvent]) -> [ChangeEvent] {
        var result: [ChangeEvent?] = []
        var changedAt: [BytePath: Int] = [:]
        var removedAt: [BytePath: Int] = [:]
        for event in first + second {
            switch event {
            case .changed(let path):
                let key = BytePath(path)
                if let earlier = changedAt[key] { result[earlier] = nil }
                changedAt[key] = result.count
            case .removed(let path):
                let key = BytePath(path)
                if let earlier = changedAt.removeValue(forKey: key) { result[earlier] = nil }
                if let earlier = removedAt[key] { result[earlier] = nil }
                removedAt[key] = result.count
            case .renamed, .rescan:
                changedAt.removeAll()
                removedAt.removeAll()
            }
            result.append(event)
        }
        return result.compactMap { $0 }
    }
}
