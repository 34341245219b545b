// ChangeEvent: what a change source reports, and the ChangeSource protocol.
//
// Events are hints about which paths of the local tree differ from what the consumer last
// saw. Paths are relative to the watched root, "/"-separated, never empty, and never name an
// ignored path (the source applies the ExclusionFilter). Events are meant to be applied IN
// ORDER; each path refers to the tree as it is after the events before it. The consumer reads
// the local file system when it applies an event, so `.changed` says "look at this path
// again". Because the local tree may have moved on by then, a consumer must accept:
//   - `.changed(p)` for a path that is gone: skip it but remember it. A later event always
//     says what became of it: `.removed` (forget it) or `.renamed` of it or of a directory
//     above it (look again at its new place: it may be new there). Deleting it on the spot
//     would lose a file whose directory was renamed meanwhile;
//   - `.renamed(a, b)` whose source it does not have (a temporary or a new directory created
//     in one batch and renamed in the next): treat it as `.changed(b)` and, for a directory,
//     send everything inside `b` (its contents may have been reported under `a`);
//   - `.renamed(a, b)` whose target's parent it does not have (a directory created and
//     gone again in the same batch): create the parent first;
//   - after `.renamed(a, b)`, what it moved may not be what is at `b` locally: an earlier
//     `.changed(a)` applied after `a` was replaced (log rotation: `mv app.log app.log.1;
//     touch app.log`) sent the new `a`. When `b`'s kind, size or mtime differ from what was
//     moved, send `b` again (with its contents for a directory);
//   - `.removed(p)` for a path that exists again (created since; its event follows). A
//     consumer that sends it at once must remember it: if it is gone before any event names
//     it, none ever will (a creation folded into a later rename becomes `.changed` of the
//     new name), and the consumer removes it itself.
// BatchApplier is the consumer WatchEngine uses; WatchApplyModelUnitTests checks it.

// MARK: - ChangeEvent

/// One change of the watched tree, after coalescing.
public enum ChangeEvent: Sendable, Equatable, CustomStringConvertible {
    /// A file, directory or symlink was created or modified (content, size, mode, or a
    /// symlink re-pointed). For a new directory, its contents are reported too, each with its
    /// own event (sources walk new directories), so the consumer need not walk it. If the
    /// path is gone when the consumer looks, a later event explains it (see the file header).
    case changed(String)
    /// A file, symlink or whole directory (with everything inside) is gone.
    case removed(String)
    /// A file or directory was moved inside the tree; for a directory, its whole subtree
    /// moved with it. Never produced from or to an ignored path (such moves become
    /// `.changed(to)` or `.removed(from)`).
    case renamed(from: String, to: String)
    /// Events were lost (inotify queue overflow, watch limit, ignore rules changed, root
    /// replaced): the consumer must reconcile the whole tree. The reason says what happened
    /// and, where it applies, how to avoid it.
    case rescan(reason: String)

    /// The paths this event names (none for `.rescan`).
    public var paths: [String] {
        switch self {
        case .changed(let path), .removed(let path): return [path]
        case .renamed(let from, let to): return [from, to]
        case .rescan: return []
        }
    }

    /// Whether this is a `.rescan`.
    public var isRescan: Bool {
        if case .rescan = self { return true } else { return false }
    }

    /// "changed a/b", "removed a", "renamed a -> b", "rescan (reason)".
    public var description: String {
        switch self {
        case .changed(let path): return "changed \(path)"
        case .removed(let path): return "removed \(path)"
        case .renamed(let from, let to): return "renamed \(from) -> \(to)"
        case .rescan(let reason): return "rescan (\(reason))"
        }
    }

    /// Byte-exact: two spellings of a name (NFC/NFD) are different paths.
    public static func == (lhs: ChangeEvent, rhs: ChangeEvent) -> Bool {
        switch (lhs, rhs) {
        case let (.changed(a), .changed(b)), let (.removed(a), .removed(b)):
            return ByteExact.equal(a, b)
        case let (.renamed(a1, a2), .renamed(b1, b2)):
            return ByteExact.equal(a1, b1) && ByteExact.equal(a2, b2)
        case let (.rescan(a), .rescan(b)):
            return a == b
        default:
            return false
        }
    }
}

// MARK: - ChangeSource

/// Something that watches a local tree and reports coalesced batches of ``ChangeEvent``.
/// Implementations: ``InotifyWatcher`` (Linux) and ``PollingWatcher`` (anywhere); pick one
/// with ``ChangeSources/make(root:filter:forcePolling:pollInterval:)``.
public protocol ChangeSource: AnyObject, Sendable {
    /// Starts watching. Batches (never empty) arrive on the stream until ``stop()``, after
    /// which the stream finishes. Changes made after `start()` returns are never missed
    /// (they may be reported as a `.rescan`). Call at most once. Keep the stream: when it is
    /// dropped (or its consumer cancelled), the source stops.
    func start() throws -> AsyncStream<[ChangeEvent]>
    /// Stops watching and finishes the stream; returns once the watcher thread has ended.
    /// Safe to call more than once and from any thread.
    func stop()
    /// "inotify" or "polling", for status output.
    var kind: String { get }
}

// MARK: - Errors

/// A change source that could not start.
public enum ChangeSourceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The root is missing, not a directory or unreadable.
    case rootUnusable(String, reason: String)
    /// inotify could not be set up (too many inotify instances, or the tree needs more
    /// watches than fs.inotify.max_user_watches allows); the reason says how to fix it.
    case inotifyUnavailable(reason: String)
    /// `start()` was called twice.
    case alreadyStarted
    /// The watcher's own resources (a pipe, a thread) could not be created.
    case setupFailed(reason: String)

    public var description: String {
        switch self {
        case .rootUnusable(let path, let reason):
            return "cannot watch \(path): \(reason); check that the directory exists and is readable"
        case .inotifyUnavailable(let reason):
            return "inotify is unavailable: \(reason)"
        case .alreadyStarted:
            return "the change source was already started; create a new one to watch again"
        case .setupFailed(let reason):
            return "cannot start watching: \(reason)"
        }
    }
}
