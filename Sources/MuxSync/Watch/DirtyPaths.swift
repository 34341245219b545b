// DirtyPaths: the paths a batch of events says to look at again, with what the events say
// happened to each, kept under the names they have after the renames applied so far.
//
// Pure. `.changed` and `.removed` do not act on the spot: they mark a path, and once the
// batch's renames are done each mark is settled against the local tree as it is then (the
// apply step's final-state diff). Marks inside a renamed directory follow it, so a removal
// made before the rename lands on the new name. Between two renames, the order of marks
// does not matter, except that a removal of a directory clears the marks inside it.

// MARK: - DirtyPaths

struct DirtyPaths: Sendable {
    /// What the events said about a path.
    enum Intent: Sendable, Equatable {
        /// Changed (or named by a rename): make the remote equal to the local entry; if
        /// the path is gone locally, a later event will say what became of it.
        case check
        /// Removed: what the remote has there goes, unless the path exists locally again.
        case remove
        /// Removed, then created again: the remote entry goes, the local one is sent (a
        /// directory's old contents must not survive, nor an entry of another kind).
        case replace
    }

    private(set) var intents: [BytePath: Intent] = [:]

    var isEmpty: Bool { intents.isEmpty }

    // MARK: Events

    /// `.changed(path)`.
    mutating func changed(_ path: String) {
        let key = BytePath(path)
        switch intents[key] {
        case .remove?, .replace?: intents[key] = .replace
        default: intents[key] = .check
        }
    }

    /// `.removed(path)`: the marks inside it are moot.
    mutating func removed(_ path: String) {
        for key in intents.keys where ByteExact.isStrictlyInside(key.string, path) { intents.removeValue(forKey: key) }
        intents[BytePath(path)] = .remove
    }

    /// Marks `path` as gone from the remote's point of view (what a rename moved there is
    /// not in the local tree): it goes unless the path exists locally.
    mutating func stale(_ path: String) {
        let key = BytePath(path)
        if intents[key] != .replace { intents[key] = .remove }
    }

    /// Before a rename onto `target`: takes the removals at or inside it (they must happen
    /// first, or the remote rename would meet what they remove).
    mutating func takeRemovals(sameOrInside target: String) -> [String] {
        var taken: [String] = []
        for (key, intent) in intents where intent != .check && ByteExact.isSameOrInside(key.string, target) {
            taken.append(key.string)
            intents.removeValue(forKey: key)
        }
        return taken
    }

    /// Drops the marks at or inside `path` (what they named was replaced by a rename).
    mutating func forget(sameOrInside path: String) {
        for key in intents.keys where ByteExact.isSameOrInside(key.string, path) { intents.removeValue(forKey: key) }
    }

    /// A rename: the marks at or inside `from` now name paths under `to` (and win over
    /// marks that were there: those named what the rename replaced).
    mutating func move(from: String, to: String) {
        var moving: [(BytePath, Intent)] = []
        for (key, intent) in intents where ByteExact.isSameOrInside(key.string, from) {
            moving.append((BytePath(ByteExact.rebase(key.string, from: from, to: to)), intent))
            intents.removeValue(forKey: key)
        }
        for (key, intent) in moving { intents[key] = intent }
    }
}

// MARK: - Rebasing paths

extension ByteExact {
    /// `path`, which is `from` or lies inside it, with the `from` prefix replaced by `to`.
    static func rebase(_ path: String, from: String, to: String) -> String {
        let rest = path.utf8.dropFirst(from.utf8.count)
        return to + String(decoding: rest, as: UTF8.self)
    }
}
