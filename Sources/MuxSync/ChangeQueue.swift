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

    /// No more events will come (the watcher stopped).
    public func close() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.closed = true
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    /// Waits for events and takes them all; nil once closed and empty or cancelled.
    public func next() async -> [ChangeEvent]? {
        while true {
            if Task.isCancelled { return nil }
            let taken = state.withLock { s -> [ChangeEvent]?? in
                if !s.events.isEmpty {
                    defer { s.events.removeAll() }
                    s.inFlight = true
                    return .some(s.events)
                }
                return s.closed ? .some(nil) : nil
            }
            if let taken { return taken }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    let resumeNow = state.withLock { s -> Bool in
                        if !s.events.isEmpty || s.closed || Task.isCancelled { return true }
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

    /// Keeps event order but lets a later event about a path replace an
    /// earlier one (renames are kept: they move remote data).
    static func merge(_ first: [ChangeEvent], _ second: [ChangeEvent]) -> [ChangeEvent] {
        var result: [ChangeEvent] = []
        var index: [BytePath: Int] = [:]
        for event in first + second {
            switch event {
            case .changed(let path), .removed(let path):
                let key = BytePath(path)
                if let existing = index[key] {
                    result[existing] = event
                } else {
                    index[key] = result.count
                    result.append(event)
                }
            case .renamed, .rescan:
                index.removeAll()  // order matters across a rename: later events stay after it
                result.append(event)
            }
        }
        return result
    }
}
