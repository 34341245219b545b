// PendingChanges: the merge rules of one batch (used by ChangeCoalescer).
//
// The batch is a log of entries that is always a valid sequence to apply in order (each
// path refers to the tree after the entries before it). Each new observation either merges
// into the entry that currently describes its path, or is appended. Rules:
//   - duplicates merge: changed+changed -> one changed (kept in place);
//   - a file removed and re-created (delete-then-create) -> changed; a removed directory, or
//     a change of kind, keeps the removal before the new change;
//   - changed then removed -> removed; created then removed -> nothing (temp names cancel);
//   - removed directory -> entries strictly inside it that came later than any move out of
//     it are dropped; a rename into it becomes a removal of the rename's source;
//   - renamed a -> b: if a was created in this batch, it becomes changed(b) (temp then
//     rename over a tracked name); otherwise the rename is kept, an earlier change of a
//     becomes changed(b) after it, and pending changes inside a move to b;
//   - a pending change of b (the rename's target) is dropped (the rename overwrites b);
//   - any rescan -> the batch is just one rescan with every reason.
// Paths are compared byte-exactly.

// MARK: - PendingChanges

/// The merged, ordered changes of one batch.
struct PendingChanges: Sendable {
    enum Entry: Sendable, Equatable {
        /// `created`: the consumer does not have the path yet (it appeared in this batch).
        case changed(String, created: Bool)
        case removed(String, isDirectory: Bool)
        case renamed(from: String, to: String, isDirectory: Bool)
    }

    /// The log; nil marks an entry that was merged away.
    private var entries: [Entry?] = []
    /// Path -> the changed/removed entry that currently describes it.
    private var current: [BytePath: Int] = [:]
    /// Path -> every changed/removed entry ever made for it (live or not).
    private var history: [BytePath: [Int]] = [:]
    /// Parent -> child paths that have (had) entries, for subtree queries.
    private var children: [BytePath: [String]] = [:]
    private var registered: Set<BytePath> = []
    /// Indices of renamed entries (some may have been merged away or converted).
    private var renames: [Int] = []
    private var rescanReasons: [String] = []

    /// Whether nothing was observed (or everything cancelled out).
    var isEmpty: Bool { rescanReasons.isEmpty && !entries.contains { $0 != nil } }

    // MARK: Observations

    mutating func apply(_ observation: ChangeCoalescer.Observation) {
        if case .rescan(let reason) = observation {
            if !rescanReasons.contains(reason) { rescanReasons.append(reason) }
            self = PendingChanges(rescanReasons: rescanReasons)
            return
        }
        guard rescanReasons.isEmpty else { return }  // the consumer reconciles everything anyway
        switch observation {
        case .created(let path, let isDirectory):
            guard !path.isEmpty else { return }
            noteChanged(path, createdHint: true, isDirectory: isDirectory)
        case .modified(let path):
            guard !path.isEmpty else { return }
            noteChanged(path, createdHint: false, isDirectory: nil)
        case .removed(let path, let isDirectory):
            guard !path.isEmpty else { return }
            noteRemoved(path, isDirectory: isDirectory)
        case .renamed(let from, let to, let isDirectory):
            guard !from.isEmpty, !to.isEmpty else { return }
            if ByteExact.equal(from, to) { return }
            noteRenamed(from, to, isDirectory: isDirectory)
        case .rescan:
            break
        }
    }

    /// The batch as events, in order.
    func events() -> [ChangeEvent] {
        if !rescanReasons.isEmpty { return [.rescan(reason: rescanReasons.joined(separator: "; "))] }
        return entries.compactMap { entry in
            switch entry {
            case .changed(let path, _)?: return .changed(path)
            case .removed(let path, _)?: return .removed(path)
            case .renamed(let from, let to, _)?: return .renamed(from: from, to: to)
            case nil: return nil
            }
        }
    }

    private init(rescanReasons: [String]) { self.rescanReasons = rescanReasons }
    init() {}

    // MARK: Rules

    private mutating func noteChanged(_ path: String, createdHint: Bool, isDirectory: Bool?) {
        if let i = current[BytePath(path)], let entry = entries[i] {
            switch entry {
            case .changed:
                return  // duplicate
            case .removed(_, let wasDirectory):
                if !wasDirectory && isDirectory != true {
                    // delete-then-create of a file: just a change
                    tombstone(i)
                    append(.changed(path, created: false))
                } else {
                    // a directory came back, or the kind changed: keep the removal first
                    current[BytePath(path)] = nil
                    append(.changed(path, created: true))
                }
                return
            case .renamed:
                break
            }
        }
        append(.changed(path, created: createdHint))
    }

    private mutating func noteRemoved(_ path: String, isDirectory: Bool) {
        let cut = lastMoveOut(of: path)
        // Everything inside that happened after the last move out of it is covered.
        for inside in descendants(of: path) {
            for i in history[BytePath(inside)] ?? [] where i > cut && entries[i] != nil { tombstone(i) }
        }
        for r in renames where r > cut {
            guard case .renamed(let from, let to, let movedDirectory)? = entries[r] else { continue }
            if ByteExact.isStrictlyInside(from, path) && ByteExact.isStrictlyInside(to, path) {
                entries[r] = nil
            } else if ByteExact.isSameOrInside(to, path) {
                // moved in, then removed with the directory: the source is simply gone
                entries[r] = .removed(from, isDirectory: movedDirectory)
                record(r, for: from)
            }
        }
        let key = BytePath(path)
        if let i = current[key], let entry = entries[i] {
            switch entry {
            case .changed(_, let created):
                tombstone(i)
                let movedThrough = renames.contains { r in
                    guard r > i, case .renamed(let from, let to, _)? = entries[r] else { return false }
                    return ByteExact.isStrictlyInside(from, path) || ByteExact.isStrictlyInside(to, path)
                }
                if created && !movedThrough { return }  // created and deleted in this batch
            case .removed:
                return  // duplicate
            case .renamed:
                break
            }
        }
        append(.removed(path, isDirectory: isDirectory))
    }

    private mutating func noteRenamed(_ from: String, _ to: String, isDirectory: Bool) {
        var createdSource = false
        var modifiedSource = false
        if let i = current[BytePath(from)], let entry = entries[i] {
            if case .changed(_, let created) = entry {
                tombstone(i)
                createdSource = created
                modifiedSource = !created
            } else {
                current[BytePath(from)] = nil
            }
        }
        // Pending changes inside the source move with it (after the rename); pending
        // removals inside it stay where they are (still valid before the rename).
        var moved: [(index: Int, entry: Entry)] = []
        for inside in descendants(of: from) {
            guard let i = current[BytePath(inside)], let entry = entries[i] else { continue }
            if case .changed = entry {
                moved.append((i, entry))
                tombstone(i)
            } else {
                current[BytePath(inside)] = nil
            }
        }
        moved.sort { $0.index < $1.index }
        let targetIsNew = clearTarget(to)
        if createdSource {
            append(.changed(to, created: targetIsNew))  // temp file renamed over a name
        } else {
            renames.append(entries.count)
            entries.append(.renamed(from: from, to: to, isDirectory: isDirectory))
            if modifiedSource { append(.changed(to, created: false)) }
        }
        let prefixLength = from.utf8.count
        for item in moved {
            guard case .changed(let old, let created) = item.entry else { continue }
            let suffix = String(decoding: old.utf8.dropFirst(prefixLength), as: UTF8.self)
            append(.changed(to + suffix, created: created))
        }
    }

    /// The rename overwrites `path` (a file or an empty directory): pending changes of it
    /// are moot. Returns whether the consumer is known not to have `path`.
    private mutating func clearTarget(_ path: String) -> Bool {
        var absent = false
        if let i = current[BytePath(path)], let entry = entries[i] {
            switch entry {
            case .changed(_, let created):
                tombstone(i)
                absent = created
            case .removed:
                current[BytePath(path)] = nil
                absent = true
            case .renamed:
                break
            }
        }
        for inside in descendants(of: path) {
            guard let i = current[BytePath(inside)], let entry = entries[i] else { continue }
            if case .changed = entry { tombstone(i) } else { current[BytePath(inside)] = nil }
        }
        return absent
    }

    // MARK: Bookkeeping

    private mutating func append(_ entry: Entry) {
        let index = entries.count
        entries.append(entry)
        switch entry {
        case .changed(let path, _), .removed(let path, _):
            record(index, for: path)
        case .renamed:
            renames.append(index)
        }
    }

    private mutating func record(_ index: Int, for path: String) {
        let key = BytePath(path)
        current[key] = index
        history[key, default: []].append(index)
        var node = path
        while registered.insert(BytePath(node)).inserted {
            let parent = ByteExact.parent(of: node)
            children[BytePath(parent), default: []].append(node)
            if parent.isEmpty { break }
            node = parent
        }
    }

    private mutating func tombstone(_ index: Int) {
        switch entries[index] {
        case .changed(let path, _)?, .removed(let path, _)?:
            if current[BytePath(path)] == index { current[BytePath(path)] = nil }
        default:
            break
        }
        entries[index] = nil
    }

    /// Paths strictly inside `path` that have (had) entries.
    private func descendants(of path: String) -> [String] {
        var result: [String] = []
        var stack = children[BytePath(path)] ?? []
        while let next = stack.popLast() {
            result.append(next)
            stack.append(contentsOf: children[BytePath(next)] ?? [])
        }
        return result
    }

    /// Index of the last live rename moving something from inside `path` to outside, or -1.
    private func lastMoveOut(of path: String) -> Int {
        for r in renames.reversed() {
            guard case .renamed(let from, let to, _)? = entries[r] else { continue }
            if ByteExact.isStrictlyInside(from, path) && !ByteExact.isSameOrInside(to, path) { return r }
        }
        return -1
    }
}
