// ChangeCoalescer: turns a stream of raw observations into batches of ChangeEvent.
//
// Pure: no clock, no I/O. The caller passes the time of each observation and asks for a
// batch when `deadline` has passed. A batch is cut after `quiet` without new observations,
// or at most `maxDelay` after its first observation (a steady stream of writes still
// produces batches). The merge rules live in PendingChanges.

// MARK: - Coalescer

/// Groups raw observations into batches and merges each batch (see ``PendingChanges``).
///
/// ```swift
/// var coalescer = ChangeCoalescer()
/// coalescer.add(.created("a", isDirectory: false), at: now)
/// if let batch = coalescer.takeBatch(at: later) { ... }
/// ```
public struct ChangeCoalescer: Sendable {
    /// Batch timing.
    public struct Settings: Sendable, Equatable {
        /// A batch is cut after this long without a new observation.
        public var quiet: Duration
        /// ... or this long after its first observation, whichever comes first.
        public var maxDelay: Duration

        /// Creates settings; `maxDelay` is raised to `quiet` if smaller.
        public init(quiet: Duration = .milliseconds(5), maxDelay: Duration = .milliseconds(50)) {
            self.quiet = max(.zero, quiet)
            self.maxDelay = max(self.quiet, maxDelay)
        }

        /// 5 ms quiet, 50 ms at most.
        public static let standard = Settings()
    }

    /// What a watcher saw, before coalescing. Paths are relative, "/"-separated, never
    /// ignored paths (the watcher filters).
    public enum Observation: Sendable, Equatable {
        /// The path did not exist just before (inotify IN_CREATE, a new path in a poll).
        case created(String, isDirectory: Bool)
        /// The path existed and changed (content, size, mode, mtime).
        case modified(String)
        /// The path is gone (for a directory, with everything inside).
        case removed(String, isDirectory: Bool)
        /// Moved inside the tree (both names are not ignored).
        case renamed(from: String, to: String, isDirectory: Bool)
        /// Events were lost: the consumer must reconcile everything.
        case rescan(reason: String)
    }

    /// The timing in use.
    public let settings: Settings
    private var pending = PendingChanges()
    private var firstAt: ContinuousClock.Instant?
    private var lastAt: ContinuousClock.Instant?

    /// Creates an empty coalescer.
    public init(settings: Settings = .standard) {
        self.settings = settings
    }

    // MARK: Feeding

    /// Adds one observation made at `time`.
    public mutating func add(_ observation: Observation, at time: ContinuousClock.Instant) {
        if firstAt == nil { firstAt = time }
        lastAt = max(lastAt ?? time, time)
        pending.apply(observation)
    }

    /// Adds several observations made at `time`, in order.
    public mutating func add(contentsOf observations: [Observation], at time: ContinuousClock.Instant) {
        for observation in observations { add(observation, at: time) }
    }

    /// Adds an already coalesced event (for example one put back by a consumer). A removal
    /// is taken as possibly a directory, a change as a modification.
    public mutating func add(event: ChangeEvent, at time: ContinuousClock.Instant) {
        switch event {
        case .changed(let path): add(.modified(path), at: time)
        case .removed(let path): add(.removed(path, isDirectory: true), at: time)
        case .renamed(let from, let to): add(.renamed(from: from, to: to, isDirectory: true), at: time)
        case .rescan(let reason): add(.rescan(reason: reason), at: time)
        }
    }

    // MARK: Taking batches

    /// Whether no observation is waiting.
    public var isEmpty: Bool { firstAt == nil }

    /// When the waiting batch is due (nil when nothing waits): `quiet` after the last
    /// observation, but no later than `maxDelay` after the first.
    public var deadline: ContinuousClock.Instant? {
        guard let firstAt, let lastAt else { return nil }
        return min(lastAt + settings.quiet, firstAt + settings.maxDelay)
    }

    /// The waiting batch if it is due at `now`, else nil. A due batch can be empty (every
    /// observation cancelled out); callers skip empty batches.
    public mutating func takeBatch(at now: ContinuousClock.Instant) -> [ChangeEvent]? {
        guard let deadline, now >= deadline else { return nil }
        return flush()
    }

    /// The waiting batch now, due or not (may be empty); the coalescer starts afresh.
    public mutating func flush() -> [ChangeEvent] {
        let events = pending.events()
        pending = PendingChanges()
        firstAt = nil
        lastAt = nil
        return events
    }

    /// Merges a whole list of observations at once, without timing (one batch).
    public static func coalesce(_ observations: [Observation]) -> [ChangeEvent] {
        var pending = PendingChanges()
        for observation in observations { pending.apply(observation) }
        return pending.events()
    }
}
