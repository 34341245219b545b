// BatchApplier: how watch applies a batch of change events to the remote, whatever the
// remote is (the SFTP link of WatchEngine, or a model in the tests).
//
// Events are hints read against the local tree as it is when the batch is applied, which
// may be later than the events (see ChangeEvent). The batch is walked IN ORDER:
//   - `.changed(p)` / `.removed(p)` mark p (DirtyPaths); nothing happens yet;
//   - `.renamed(a, b)`: removals marked at or inside b are done first (the rename replaces
//     what is there); marks inside a, and paths deferred by earlier batches, move to b; the
//     remote renames a to b (no bytes sent). Then what was moved is compared with the local
//     b (KnownTree against a local walk): what differs is marked to send, what the local b
//     no longer has is marked stale. When the remote has no a, or the rename cannot be
//     done, b replaces what the remote has there (a directory sent with its contents);
//   - `.rescan`: the marks so far are settled, then the whole tree is pushed; what watch had
//     sent and the tree surely no longer has is removed, newly ignored paths are forgotten.
// At the end every mark is settled against the local tree (a final-state diff):
//   - present locally: sent, unless KnownTree says this very version is already there
//     (a change queued again while its send was in flight is not sent twice); a directory
//     is pushed with its subtree; a removal followed by a creation, or a change of kind,
//     first removes the remote entry; a file whose remote parent is missing goes with a
//     push of the highest missing directory;
//   - absent, marked removed or stale: removed remotely (deepest first, never when the local
//     root looks emptied);
//   - absent, only changed: deferred, never deleted. A later event says what became of it:
//     `.removed` (deleted then) or a rename of it or of a parent (looked at under the new
//     name), so a change seen just before a rename never deletes the renamed file;
//   - ignored (the rules may have changed), special or unreadable: left alone, on both sides.
// What is sent before any event named it (a path removed by an event but present again, a
// directory's contents, what a rename's comparison found) is remembered with the local-time
// stamp it was read at: the change source may fold its creation into a later rename or
// removal and never name it. Once the events cover that stamp, such a path gone locally is
// removed from the remote.
// Local entries are read from the root one directory at a time, never through a symlink.

import MuxTransport

// MARK: - What the applier sees of the local tree

/// The local tree at a path, as the applier needs it.
enum LocalPresence: Sendable, Equatable {
    /// Nothing there (or below something that is not a real directory, such as a symlink).
    case absent
    /// Ignored, a special file, or unreadable: watch neither sends nor deletes it.
    case leftAlone
    /// A file, directory or symlink.
    case present(KnownEntry)
}

// MARK: - The remote side

/// What applying a batch does on the remote. Failures of one path are reported by the
/// target itself (which then returns nil or false); only a lost connection throws.
protocol BatchTarget: Sendable {
    /// The local entry at `path` now.
    func local(_ path: String) -> LocalPresence
    /// The local directory `path` and everything inside it (ignored entries left out), by
    /// path relative to the root.
    func localSubtree(_ path: String) -> [BytePath: KnownEntry]
    /// Whether the ignore rules (as they are now) exclude `path`.
    func isIgnored(_ path: String, isDirectory: Bool) -> Bool
    /// Whether the remote has anything at `path`.
    func remoteExists(_ path: String) async throws -> Bool
    /// Renames remote `from` over `to` (creating `to`'s parents); false when it cannot.
    func rename(_ from: String, to: String) async throws -> Bool
    /// Whether deleting `count` remote entries is acceptable now (not when the local root
    /// looks emptied or vanished: that is an accident, never mirrored).
    func mayRemove(_ count: Int) -> Bool
    /// Removes the remote entry at `path` (with its subtree). `replacing`: the local path
    /// exists (the remote entry makes way for it); otherwise a path that exists locally
    /// again is left. True when the remote no longer has it.
    func remove(_ path: String, replacing: Bool) async throws -> Bool
    /// Sends the local file `path`; the version sent, nil when nothing was sent.
    func sendFile(_ path: String) async throws -> FileVersion?
    /// Creates (or re-points) the remote symlink `path`.
    func sendSymlink(_ path: String, target: String) async throws -> Bool
    /// Creates the remote directory `path` and pushes its subtree (nothing deleted); the
    /// local tree sent (paths relative to `path`), nil when it failed.
    func sendDirectory(_ path: String) async throws -> Tree?
    /// Pushes the whole tree (nothing deleted); the local tree sent, nil when it failed.
    func reconcile(reason: String) async throws -> Tree?
    /// A point in local time, increasing, at or after the local reads made so far (see
    /// ``BatchApplier/Waiting/ahead``).
    func stamp() -> UInt64
}

// MARK: - BatchApplier

/// Applies batches in order. Between batches it keeps the paths on which the remote and the
/// events disagree for now, waiting for the events that settle them.
final class BatchApplier: Sendable {
    /// Paths whose state the events have not caught up with.
    struct Waiting: Sendable, Equatable {
        /// Changed, but gone locally: kept on the remote until an event says what became of
        /// them (removed, or renamed: then looked at under the new name).
        var deferred = Set<BytePath>()
        /// Sent although no event has named them yet (created locally after the events seen
        /// so far: a path removed by an event and present again, what a rename's comparison
        /// or a directory push found), with the ``BatchTarget/stamp()`` of the local tree
        /// they were read from. The change source may fold such a path's creation into a
        /// later rename or removal and never name it: once the events cover that stamp, a
        /// path still unnamed and gone locally is removed from the remote.
        var ahead: [BytePath: UInt64] = [:]

        mutating func dropAll(sameOrInside path: String) {
            deferred = deferred.filter { !ByteExact.isSameOrInside($0.string, path) }
            ahead = ahead.filter { !ByteExact.isSameOrInside($0.key.string, path) }
        }

        mutating func markAhead(_ path: String, _ stamp: UInt64) {
            ahead[BytePath(path)] = max(ahead[BytePath(path)] ?? 0, stamp)
        }
    }

    let known: KnownTree
    private let waitingPaths = Locked(Waiting())

    init(known: KnownTree) { self.known = known }

    /// The paths waiting for their event, for tests and diagnostics.
    var waiting: Waiting { waitingPaths.withLock { $0 } }

    /// The latest stamp of a path sent ahead of its event (nil: none): once the events cover
    /// it, an (empty) batch lets the applier check them.
    var latestAhead: UInt64? { waitingPaths.withLock { $0.ahead.values.max() } }

    /// Applies `batch`. `covered`: the events up to this batch report every local change made
    /// up to that ``BatchTarget/stamp()``. If it throws (a lost connection), the waiting paths
    /// are left as they were, so the batch can be applied again.
    func apply<Target: BatchTarget>(_ batch: [ChangeEvent], to target: Target, covered: UInt64) async throws {
        var waiting = waitingPaths.withLock { $0 }
        var dirty = DirtyPaths()
        for event in batch {
            switch event {
            case .changed(let path):
                dirty.changed(path)
                waiting.ahead.removeValue(forKey: BytePath(path))  // its event came
            case .removed(let path):
                dirty.removed(path)
                waiting.dropAll(sameOrInside: path)
            case .renamed(let from, let to):
                try await rename(from, to, dirty: &dirty, waiting: &waiting, target)
            case .rescan(let reason):
                try await settle(dirty, waiting: &waiting, target)
                dirty = DirtyPaths()
                waiting.deferred = []
                if let tree = try await target.reconcile(reason: reason) {
                    try await afterReconcile(tree, waiting: &waiting, target)
                }
            }
        }
        try await settle(dirty, waiting: &waiting, target)
        try await expireAhead(covered: covered, waiting: &waiting, target)
        let final = waiting
        waitingPaths.withLock { $0 = final }
    }

    /// After the whole tree was pushed: newly ignored paths are no longer tracked (left
    /// alone on the remote, as push does); what watch had put on the remote and the local
    /// tree surely no longer has (deleted while events were lost) is removed. What the push
    /// sent is ahead of any event.
    private func afterReconcile<Target: BatchTarget>(_ tree: Tree, waiting: inout Waiting, _ target: Target) async throws {
        known.forget { path, entry in target.isIgnored(path, isDirectory: entry.isDirectory) }
        let present = Set(tree.entries.map { BytePath($0.path) })
        var gone = DirtyPaths()
        for (key, _) in known.subtree("") where !present.contains(key) && target.local(key.string) == .absent {
            gone.stale(key.string)
        }
        known.record(tree)
        let stamp = target.stamp()
        for entry in tree.entries { waiting.markAhead(entry.path, stamp) }
        try await settle(gone, waiting: &waiting, target)
    }

    /// Paths sent ahead whose stamp the events now cover: an event named them (they left the
    /// list then) or never will; those gone locally are removed from the remote.
    private func expireAhead<Target: BatchTarget>(covered: UInt64, waiting: inout Waiting, _ target: Target) async throws {
        let due = waiting.ahead.filter { $0.value <= covered }.map(\.key)
        guard !due.isEmpty else { return }
        for key in due { waiting.ahead.removeValue(forKey: key) }
        let gone = due.filter { known.entry($0.string) != nil && target.local($0.string) == .absent }.map(\.string)
        try await sendAgain(try await removeAll(gone, replacing: false, target), waiting: &waiting, target)
    }

    // MARK: Renames

    private func rename<Target: BatchTarget>(_ from: String, _ to: String, dirty: inout DirtyPaths,
                                             waiting: inout Waiting, _ target: Target) async throws {
        // What was at `to` is replaced: removals there go first, other marks there are moot.
        try await removeAll(dirty.takeRemovals(sameOrInside: to), replacing: true, target)
        dirty.forget(sameOrInside: to)
        waiting.dropAll(sameOrInside: to)
        dirty.move(from: from, to: to)
        for key in waiting.deferred where ByteExact.isSameOrInside(key.string, from) {
            waiting.deferred.remove(key)
            dirty.changed(ByteExact.rebase(key.string, from: from, to: to))
        }
        for (key, stamp) in waiting.ahead where ByteExact.isSameOrInside(key.string, from) {
            waiting.ahead.removeValue(forKey: key)
            waiting.markAhead(ByteExact.rebase(key.string, from: from, to: to), stamp)
        }
        if try await target.remoteExists(from) {
            if try await target.rename(from, to: to) {
                known.move(from: from, to: to)
                // mkdir -p made every parent of `to` a directory
                var parent = ByteExact.parent(of: to)
                while !parent.isEmpty, known.entry(parent) == nil {
                    known.record(parent, .directory)
                    parent = ByteExact.parent(of: parent)
                }
                compareMoved(to, dirty: &dirty, waiting: &waiting, target)
                return
            }
            // Cannot rename (something in the way): `from` goes.
            dirty.stale(from)
        } else {
            known.remove(from)
        }
        // `to` is sent (a directory with its contents) in place of what the remote has
        // there: locally the rename replaced it.
        dirty.stale(to)
        dirty.changed(to)
    }

    /// After `to` was moved into place remotely: marks what differs from the local `to`
    /// (an earlier change of the source may have been applied after the source had been
    /// replaced locally, as in log rotation).
    private func compareMoved<Target: BatchTarget>(_ to: String, dirty: inout DirtyPaths, waiting: inout Waiting,
                                                   _ target: Target) {
        switch target.local(to) {
        case .leftAlone:
            return
        case .absent:
            dirty.changed(to)  // gone since: a later event says where
        case .present(let entry):
            guard entry.isDirectory else {
                if known.entry(to) != entry { dirty.changed(to) }
                return
            }
            guard known.entry(to)?.isDirectory == true else {
                dirty.stale(to)
                dirty.changed(to)  // a file was moved where a directory is now: replace it
                waiting.markAhead(to, target.stamp())
                return
            }
            let local = target.localSubtree(to)
            let remote = known.subtree(to)
            let stamp = target.stamp()
            for (key, entry) in local where remote[key] != entry {
                dirty.changed(key.string)
                if remote[key] == nil { waiting.markAhead(key.string, stamp) }
            }
            for key in remote.keys where local[key] == nil && target.local(key.string) != .leftAlone { dirty.stale(key.string) }
        }
    }

    // MARK: Settling the marks

    private func settle<Target: BatchTarget>(_ dirty: DirtyPaths, waiting: inout Waiting,
                                             _ target: Target) async throws {
        var removals: [String] = []
        var sends: [(path: String, entry: KnownEntry, replace: Bool)] = []
        let stamp = target.stamp()
        for (key, intent) in dirty.intents {
            switch target.local(key.string) {
            case .leftAlone:
                waiting.dropAll(sameOrInside: key.string)
                known.forget { path, _ in ByteExact.isSameOrInside(path, key.string) }
            case .absent:
                if intent == .check {
                    waiting.deferred.insert(key)
                } else {
                    waiting.deferred.remove(key)
                    removals.append(key.string)
                }
            case .present(let entry):
                waiting.deferred.remove(key)
                // Removed by the events, created again since: sent now, ahead of its event.
                if intent == .remove { waiting.markAhead(key.string, stamp) }
                sends.append((key.string, entry, intent != .check))
            }
        }
        try await sendAgain(try await removeAll(removals, replacing: false, target), waiting: &waiting, target)
        // A directory's contents are pushed with it, ahead of their own events.
        for path in try await sendAll(sends, target) { waiting.markAhead(path, stamp) }
    }

    /// Paths that were to be removed but exist locally again (created since they were
    /// looked at): sent in place of what the remote has, ahead of their events.
    private func sendAgain<Target: BatchTarget>(_ paths: [String], waiting: inout Waiting, _ target: Target) async throws {
        guard !paths.isEmpty else { return }
        let stamp = target.stamp()
        var sends: [(path: String, entry: KnownEntry, replace: Bool)] = []
        for path in paths {
            guard case .present(let entry) = target.local(path) else { continue }
            waiting.markAhead(path, stamp)
            sends.append((path, entry, true))
        }
        for path in try await sendAll(sends, target) { waiting.markAhead(path, stamp) }
    }

    /// Removes remote entries (a path inside another one goes with it), deepest first.
    /// `replacing`: a rename is about to put something there (remove even if the path
    /// exists locally). Returns the paths left because they exist locally again.
    @discardableResult
    private func removeAll<Target: BatchTarget>(_ paths: [String], replacing: Bool, _ target: Target) async throws -> [String] {
        let outermost = paths.filter { path in !paths.contains { ByteExact.isStrictlyInside(path, $0) } }
            .sorted { $0.utf8.count > $1.utf8.count }
        guard !outermost.isEmpty, target.mayRemove(outermost.count) else { return [] }
        let known = self.known
        let back = Locked([String]())
        try await pipelined(outermost, window: 16) { path in
            if try await target.remove(path, replacing: replacing) {
                known.remove(path)
            } else if !replacing, case .present = target.local(path) {
                back.withLock { $0.append(path) }
            }
        }
        return back.withLock { $0 }
    }

    /// Sends what exists locally: directories (with their subtrees) shallowest first, then
    /// files and symlinks all in flight together. What the remote has of another kind (or,
    /// for a path removed and created again, anything but a file to overwrite) goes first.
    /// Returns the paths that directory pushes sent.
    private func sendAll<Target: BatchTarget>(_ sends: [(path: String, entry: KnownEntry, replace: Bool)],
                                              _ target: Target) async throws -> [String] {
        let known = self.known
        @Sendable func clear(_ path: String, for entry: KnownEntry, replace: Bool) async throws -> Bool {
            let existing = known.entry(path)
            let otherKind = existing.map { $0.isDirectory != entry.isDirectory } ?? false
            let mustGo = otherKind || (replace && (entry.isDirectory || existing == nil || existing?.isDirectory == true))
            guard mustGo else { return true }
            guard try await target.remove(path, replacing: true) else { return false }
            known.remove(path)
            return true
        }
        // A file whose remote parent is missing (its directory's own event is still to come,
        // or was deferred) goes with the highest missing directory, pushed whole.
        var directories = sends.filter { $0.entry.isDirectory }
        for item in sends where !item.entry.isDirectory {
            var missing: String?
            var parent = ByteExact.parent(of: item.path)
            while !parent.isEmpty, known.entry(parent)?.isDirectory != true, target.local(parent) == .present(.directory) {
                missing = parent
                parent = ByteExact.parent(of: parent)
            }
            if let missing, !directories.contains(where: { ByteExact.equal($0.path, missing) }) {
                directories.append((missing, .directory, false))
            }
        }
        var covered: [String] = []
        var pushed: [String] = []
        for item in directories.sorted(by: { $0.path.utf8.count < $1.path.utf8.count })
        where !covered.contains(where: { ByteExact.isSameOrInside(item.path, $0) }) {
            covered.append(item.path)
            guard try await clear(item.path, for: item.entry, replace: item.replace) else { continue }
            if let tree = try await target.sendDirectory(item.path) {
                known.record(item.path, .directory)
                known.record(tree, under: item.path)
                pushed += tree.entries.map { item.path + "/" + $0.path }
            }
        }
        let leaves = sends.filter { item in !covered.contains { ByteExact.isSameOrInside(item.path, $0) } }
        try await pipelined(leaves, window: 32) { item in
            if known.entry(item.path) == item.entry && !item.replace { return }  // this very version is there
            guard try await clear(item.path, for: item.entry, replace: item.replace) else { return }
            switch item.entry {
            case .file:
                if let version = try await target.sendFile(item.path) { known.record(item.path, .file(version)) }
            case .symlink(let link):
                if try await target.sendSymlink(item.path, target: link) { known.record(item.path, .symlink(target: link)) }
            case .directory:
                break
            }
        }
        return pushed
    }
}
