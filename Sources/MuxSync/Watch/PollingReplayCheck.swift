// PollingReplayCheck: verifies that a poll's observations can be applied in order and
// leave exactly the new paths.
//
// PollingDiff orders renames with local rules; exotic cases (two directories swapped, a
// directory moved into what used to be its own child, chains through replaced paths) can
// defeat them. Before emitting renames, the sequence is replayed on the set of paths it
// touches: every rename must find its source and its target's parent, and must not land on a
// non-empty directory; every creation must find its parent; at the end every new path must
// be there and no old path may be left over. If not, PollingDiff falls back to plain
// removals and creations. Pure.

// MARK: - PollingReplayCheck

/// A replay of observations on the paths a diff touches.
struct PollingReplayCheck {
    /// Known paths: true present, false absent. Paths not listed exist unless they are new.
    private var state: [BytePath: Bool] = [:]
    private var paths = PathHierarchy()
    private let initiallyAbsent: Set<BytePath>
    private let after: Set<BytePath>

    /// `removed`: paths present before the poll; `added`: paths present after it.
    init(removed: [String], added: [String]) {
        let before = Set(removed.map(BytePath.init))
        after = Set(added.map(BytePath.init))
        initiallyAbsent = after.subtracting(before)
        for path in removed { set(path, true) }
    }

    /// Replays `observations`; false at the first one that could not be applied, or when the
    /// result is not exactly the new tree.
    mutating func accepts(_ observations: [ChangeCoalescer.Observation]) -> Bool {
        for observation in observations where !apply(observation) { return false }
        for (path, present) in state where present != after.contains(path) { return false }
        return after.allSatisfy { state[$0] == true }
    }

    private mutating func apply(_ observation: ChangeCoalescer.Observation) -> Bool {
        switch observation {
        case .created(let path, _):
            guard exists(ByteExact.parent(of: path)) else { return false }
            removeSubtree(path)
            set(path, true)
        case .modified(let path):
            return exists(path)
        case .removed(let path, _):
            removeSubtree(path)
        case .renamed(let from, let to, _):
            guard exists(from), exists(ByteExact.parent(of: to)) else { return false }
            if exists(to) {
                guard paths.contains(to), presentDescendants(of: to).isEmpty else { return false }
            }
            let moving = [from] + presentDescendants(of: from)
            let prefix = from.utf8.count
            for path in moving { set(path, false) }
            set(to, false)
            for path in moving { set(to + String(decoding: path.utf8.dropFirst(prefix), as: UTF8.self), true) }
        case .rescan:
            break
        }
        return true
    }

    private func exists(_ path: String) -> Bool {
        if path.isEmpty { return true }
        return state[BytePath(path)] ?? !initiallyAbsent.contains(BytePath(path))
    }

    private mutating func removeSubtree(_ path: String) {
        for inside in presentDescendants(of: path) { set(inside, false) }
        set(path, false)
    }

    private func presentDescendants(of path: String) -> [String] {
        paths.descendants(of: path).filter { state[BytePath($0)] == true }
    }

    private mutating func set(_ path: String, _ present: Bool) {
        state[BytePath(path)] = present
        paths.register(path)
    }
}
