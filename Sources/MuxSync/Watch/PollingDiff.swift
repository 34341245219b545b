// PollingDiff: what changed between two polls, turned into an ordered list of observations.
//
// Pure (no I/O): the snapshot walk fills `removed`, `added` and `modified`; `observations()`
// detects renames by inode and orders everything so that applying it in order is valid:
//   1. removals (not inside another removal, not holding a rename's source),
//   2. renames, creations and modifications, parents before children (an entry leaving a
//      renamed directory moves before it; one staying inside follows its rename),
//   3. removals of directories that a rename took something out of.
// A removed path and a new path with the same inode, kind and (for non-directories) size and
// mtime are one rename; inside a renamed directory, entries are matched by relative path.
// The result is replayed on the touched paths (PollingReplayCheck); tangles the rules cannot
// order (swapped directories...) fall back to plain removals and creations.

// MARK: - EntryStat

/// The stat fields polling compares (symlinks are immutable: re-pointing one makes a new
/// inode, so its target need not be read).
struct EntryStat: Sendable, Equatable {
    enum Kind: UInt8, Sendable { case file, directory, symlink, special }

    var kind: Kind
    var mode: UInt32
    var size: Int64
    var mtimeSeconds: Int64
    var mtimeNanoseconds: Int32
    var inode: UInt64

    var isDirectory: Bool { kind == .directory }

    /// Whether `other` is the same object (same inode, same kind).
    func isSameObject(as other: EntryStat) -> Bool { inode == other.inode && kind == other.kind }

    /// Whether the difference to `other` is worth an event: for directories only the mode
    /// (their mtime moves with every entry added or removed), for the rest everything.
    func differsVisibly(from other: EntryStat) -> Bool {
        if kind == .directory && other.kind == .directory { return mode != other.mode }
        return self != other
    }
}

// MARK: - PollingDiff

/// The differences found by one poll.
struct PollingDiff: Sendable {
    struct Item: Sendable {
        var path: String
        var stat: EntryStat
    }

    /// Entries gone (with every entry of a vanished directory's subtree).
    var removed: [Item] = []
    /// Entries new (with every entry of a new directory's subtree).
    var added: [Item] = []
    /// Same path, same object kind, visibly different.
    var modified: [String] = []
    /// Directories whose .gitignore (or the root's .muxsyncignore) changed.
    var ignoreFilesChanged: [String] = []
    /// Directories whose subtree the snapshot forgot because they moved while walked: their
    /// removal must not become a rename (the consumer's copy of the subtree may hold entries
    /// whose removal was never seen; a removal plus fresh creations leaves nothing stale).
    var unpairableInodes: Set<UInt64> = []

    var isEmpty: Bool { removed.isEmpty && added.isEmpty && modified.isEmpty }

    // MARK: Observations

    private struct Step {
        var key: String
        var rank: Int  // 0 removal, 1 rename, 2 creation, 3 modification
        var observation: ChangeCoalescer.Observation
        var after: [Int] = []
    }

    /// The differences as ordered observations (see the file header).
    func observations() -> [ChangeCoalescer.Observation] {
        let removed = self.removed.sorted { ByteExact.treeOrderLess($0.path, $1.path) }
        let added = self.added.sorted { ByteExact.treeOrderLess($0.path, $1.path) }
        var addedByPath: [BytePath: Int] = [:]
        var addedByInode: [UInt64: [Int]] = [:]
        for (i, item) in added.enumerated() {
            addedByPath[BytePath(item.path)] = i
            addedByInode[item.stat.inode, default: []].append(i)
        }
        let replaced = Set(removed.map { BytePath($0.path) }).intersection(added.map { BytePath($0.path) })
        var addedTaken = [Bool](repeating: false, count: added.count)
        var removedTaken = [Bool](repeating: false, count: removed.count)
        var currentPath = removed.map(\.path)
        var remappedBy = [Int?](repeating: nil, count: removed.count)
        var remapBase = [String](repeating: "", count: removed.count)  // original path of that rename's source
        // Where a removed entry that lives on ends up, and the rename that takes it there.
        var location = [(path: String, step: Int)?](repeating: nil, count: removed.count)
        var steps: [Step] = []
        var renameSources: [String] = []

        for i in removed.indices where !removedTaken[i] {
            let old = removed[i]
            if hasAncestor(old.path, in: replaced) { continue }
            if old.stat.isDirectory && unpairableInodes.contains(old.stat.inode) { continue }
            let candidate = addedByInode[old.stat.inode]?.first { j in
                let new = added[j].stat
                return !addedTaken[j] && new.kind == old.stat.kind
                    && (new.isDirectory || (new.size == old.stat.size && new.mtimeSeconds == old.stat.mtimeSeconds
                        && new.mtimeNanoseconds == old.stat.mtimeNanoseconds))
            }
            // A move into the new incarnation of its own path cannot be replayed as a rename.
            guard let j = candidate, !ByteExact.isStrictlyInside(added[j].path, currentPath[i]) else { continue }
            removedTaken[i] = true
            addedTaken[j] = true
            let target = added[j].path
            let renameStep = steps.count
            var source = currentPath[i]
            var after = remappedBy[i].map { [$0] } ?? []
            if let parent = remappedBy[i], case .renamed(let parentFrom, let parentTo, _) = steps[parent].observation,
               !ByteExact.isStrictlyInside(target, parentTo) {
                // It leaves its parent's subtree: move it out before the parent moves
                // (`mv d/x y; mv d y/d` cannot be replayed the other way round).
                source = parentFrom + String(decoding: old.path.utf8.dropFirst(remapBase[i].utf8.count), as: UTF8.self)
                after = steps[parent].after
                steps[parent].after.append(renameStep)
            }
            steps.append(Step(key: target, rank: 1,
                              observation: .renamed(from: source, to: target, isDirectory: old.stat.isDirectory),
                              after: after))
            location[i] = (target, renameStep)
            renameSources.append(old.path)
            if added[j].stat.differsVisibly(from: old.stat) {
                steps.append(Step(key: target, rank: 3, observation: .modified(target), after: [renameStep]))
            }
            guard old.stat.isDirectory else { continue }
            // The subtree moved along: match it by relative path.
            let prefix = old.path.utf8.count
            var k = i + 1
            while k < removed.count, ByteExact.isStrictlyInside(removed[k].path, old.path) {
                defer { k += 1 }
                if removedTaken[k] { continue }
                let moved = target + String(decoding: removed[k].path.utf8.dropFirst(prefix), as: UTF8.self)
                currentPath[k] = moved
                remappedBy[k] = renameStep
                remapBase[k] = old.path
                guard let a = addedByPath[BytePath(moved)], !addedTaken[a],
                      added[a].stat.isSameObject(as: removed[k].stat) else { continue }
                removedTaken[k] = true
                addedTaken[a] = true
                location[k] = (moved, renameStep)
                if added[a].stat.differsVisibly(from: removed[k].stat) {
                    steps.append(Step(key: moved, rank: 3, observation: .modified(moved), after: [renameStep]))
                }
            }
        }

        // Removals: a removal inside another (untaken) removal is covered by it (by where
        // they are once the renames are done: a remapped entry moved away from its parent).
        let untaken = removed.indices.filter { !removedTaken[$0] }
        let stayingRoots = Set(untaken.filter { remappedBy[$0] == nil }.map { BytePath(currentPath[$0]) })
        let movedRoots = Set(untaken.filter { remappedBy[$0] != nil }.map { BytePath(currentPath[$0]) })
        var sourceAncestors = Set<BytePath>()
        for source in renameSources {
            var node = ByteExact.parent(of: source)
            while !node.isEmpty, sourceAncestors.insert(BytePath(node)).inserted { node = ByteExact.parent(of: node) }
        }
        var first: [ChangeCoalescer.Observation] = []
        var last: [ChangeCoalescer.Observation] = []
        for i in removed.indices where !removedTaken[i] {
            if hasAncestor(currentPath[i], in: remappedBy[i] == nil ? stayingRoots : movedRoots) { continue }
            let observation = ChangeCoalescer.Observation.removed(currentPath[i], isDirectory: removed[i].stat.isDirectory)
            if let rename = remappedBy[i] {
                steps.append(Step(key: currentPath[i], rank: 0, observation: observation, after: [rename]))
            } else if sourceAncestors.contains(BytePath(removed[i].path)) {
                last.append(observation)
            } else {
                first.append(observation)
            }
        }
        for (j, item) in added.enumerated() where !addedTaken[j] {
            steps.append(Step(key: item.path, rank: 2, observation: .created(item.path, isDirectory: item.stat.isDirectory)))
        }
        // A poll is not atomic: a directory renamed while it was walked can show changes
        // under its old name. They belong to the new place (or are covered by a removal).
        var removedIndex: [BytePath: Int] = [:]
        for (i, item) in removed.enumerated() { removedIndex[BytePath(item.path)] = i }
        for path in modified {
            guard let k = removedIndex[BytePath(path)] else {
                steps.append(Step(key: path, rank: 3, observation: .modified(path)))
                continue
            }
            if let moved = location[k] {
                steps.append(Step(key: moved.path, rank: 3, observation: .modified(moved.path), after: [moved.step]))
            }
        }
        if renameSources.isEmpty { return first + PollingDiff.ordered(steps).observations + last }
        let (middle, cyclic) = PollingDiff.ordered(steps)
        let result = first + middle + last
        var check = PollingReplayCheck(removed: removed.map(\.path), added: added.map(\.path))
        if !cyclic && check.accepts(result) { return result }
        // Swaps, cycles and other tangles: fall back to no renames (content is sent again).
        return withoutRenames(removed: removed, added: added)
    }

    /// Every removal first (outermost only), then every creation and modification, parents
    /// first: always a valid order.
    private func withoutRenames(removed: [Item], added: [Item]) -> [ChangeCoalescer.Observation] {
        var result: [ChangeCoalescer.Observation] = []
        var lastRemovedDirectory: String?
        for item in removed {
            if let directory = lastRemovedDirectory, ByteExact.isStrictlyInside(item.path, directory) { continue }
            result.append(.removed(item.path, isDirectory: item.stat.isDirectory))
            lastRemovedDirectory = item.stat.isDirectory ? item.path : nil
        }
        var steps = added.map { (key: $0.path, observation: ChangeCoalescer.Observation.created($0.path, isDirectory: $0.stat.isDirectory)) }
        steps += modified.map { (key: $0, observation: ChangeCoalescer.Observation.modified($0)) }
        steps.sort { ByteExact.treeOrderLess($0.key, $1.key) }
        return result + steps.map(\.observation)
    }

    /// Steps in tree order of their key, each after its dependencies: steps keyed by an
    /// ancestor of its key or by the same key with a lower rank, the rename that moved its
    /// source, and renames away from its key (a path renamed away and then reused).
    private static func ordered(_ steps: [Step]) -> (observations: [ChangeCoalescer.Observation], cyclic: Bool) {
        let order = steps.indices.sorted { a, b in
            let ka = steps[a].key, kb = steps[b].key
            if ByteExact.equal(ka, kb) { return steps[a].rank != steps[b].rank ? steps[a].rank < steps[b].rank : a < b }
            return ByteExact.treeOrderLess(ka, kb)
        }
        var byKey: [BytePath: [Int]] = [:]
        var renamedAway: [BytePath: [Int]] = [:]
        for i in order {
            byKey[BytePath(steps[i].key), default: []].append(i)
            if case .renamed(let from, _, _) = steps[i].observation { renamedAway[BytePath(from), default: []].append(i) }
        }
        var state = [UInt8](repeating: 0, count: steps.count)  // 0 new, 1 in progress, 2 emitted
        var cyclic = false
        var output: [ChangeCoalescer.Observation] = []
        output.reserveCapacity(steps.count)
        func emit(_ i: Int) {
            if state[i] == 2 { return }
            if state[i] == 1 {
                cyclic = true
                return
            }
            state[i] = 1
            for j in steps[i].after { emit(j) }
            for j in renamedAway[BytePath(steps[i].key)] ?? [] where j != i { emit(j) }
            for j in byKey[BytePath(steps[i].key)] ?? [] where steps[j].rank < steps[i].rank { emit(j) }
            var node = ByteExact.parent(of: steps[i].key)
            var ancestors: [String] = []
            while !node.isEmpty {
                ancestors.append(node)
                node = ByteExact.parent(of: node)
            }
            for ancestor in ancestors.reversed() {
                for j in byKey[BytePath(ancestor)] ?? [] { emit(j) }
            }
            state[i] = 2
            output.append(steps[i].observation)
        }
        for i in order { emit(i) }
        return (output, cyclic)
    }

    private func hasAncestor(_ path: String, in set: Set<BytePath>) -> Bool {
        if set.isEmpty { return false }
        var node = ByteExact.parent(of: path)
        while !node.isEmpty {
            if set.contains(BytePath(node)) { return true }
            node = ByteExact.parent(of: node)
        }
        return false
    }
}
