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
// Each changed/removed entry knows whether the consumer has the path just before it
// (present, absent, or unknown: a temp renamed over a name that had no entry). A rename is
// only kept when its source is surely there; otherwise it becomes removed(a) + changed(b).
// One tangle is not replayable by a consumer that reads the final tree (a directory created
// in the batch, with entries moved into or out of it, then renamed): it becomes a rescan.
// Random sequences checked by WatchCoalescerModelUnitTests replay to the final tree.
// Paths are compared byte-exactly.

// MARK: - PendingChanges

/// The merged, ordered changes of one batch.
struct PendingChanges: Sendable {
    /// Whether the consumer has a path at some point of the log.
    enum Presence: Sendable, Equatable {
        case present, absent, unknown
    }

    enum Entry: Sendable, Equatable {
        /// `presence`: whether the consumer has the path just before this entry.
        case changed(String, presence: Presence)
        /// `presence`: whether the consumer had the path just before this entry.
        case removed(String, isDirectory: Bool, presence: Presence)
        case renamed(from: String, to: String, isDirectory: Bool)
    }

    /// The log; nil marks an entry that was merged away.
    private var entries: [Entry?] = []
    /// Path -> the changed/removed entry that currently describes it.
    private var current: [BytePath: Int] = [:]
    /// Path -> every changed/removed entry ever made for it (live or not).
    private var history: [BytePath: [Int]] = [:]
    /// The paths that have (had) entries, with their parents, for subtree queries.
    private var paths = PathHierarchy()
    /// Indices of renamed entries (some may have been merged away or converted).
    private var renames: [Int] = []
    /// What each rename moved, kept when it is converted into a removal of its source (the
    /// content still left `from` at that point).
    private var renameOrigins: [Int: (from: String, to: String)] = [:]
    /// A changed entry that re-created a removed path -> that removal (current again if the
    /// re-creation is cancelled).
    private var restores: [Int: Int] = [:]
    private var rescanReasons: [String] = []

    init() {}

    private init(rescanReasons: [String]) { self.rescanReasons = rescanReasons }

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
            noteChanged(path, created: true, isDirectory: isDirectory)
        case .modified(let path):
            guard !path.isEmpty else { return }
            noteChanged(path, created: false, isDirectory: nil)
        case .removed(let path, let isDirectory):
            guard !path.isEmpty else { return }
            noteRemoved(path, isDirectory: isDirectory)
        case .renamed(let from, let to, let isDirectory):
            guard !from.isEmpty, !to.isEmpty, !ByteExact.equal(from, to) else { return }
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
            case .removed(let path, _, _)?: return .removed(path)
            case .renamed(let from, let to, _)?: return .renamed(from: from, to: to)
            case nil: return nil
            }
        }
    }

    // MARK: Rules

    private mutating func noteChanged(_ path: String, created: Bool, isDirectory: Bool?) {
        if let i = current[BytePath(path)], let entry = entries[i] {
            switch entry {
            case .changed:
                return  // duplicate
            case .removed(_, let wasDirectory, let before):
                if !wasDirectory && isDirectory != true {
                    // delete-then-create of a file: just a change
                    tombstone(i)
                    append(.changed(path, presence: before))
                } else {
                    // a directory came back, or the kind changed: keep the removal first
                    current[BytePath(path)] = nil
                    restores[entries.count] = i
                    append(.changed(path, presence: .absent))
                }
                return
            case .renamed:
                break
            }
        }
        append(.changed(path, presence: created ? .absent : .present))
    }

    private mutating func noteRemoved(_ path: String, isDirectory: Bool) {
        let cut = lastMoveOut(of: path)
        // Everything inside that happened after the last move out of it is covered.
        for inside in descendants(of: path) {
            for i in history[BytePath(inside)] ?? [] where i > cut && entries[i] != nil { tombstone(i) }
        }
        var movedOnto = false
        for r in renames where r > cut {
            guard case .renamed(let from, let to, let movedDirectory)? = entries[r] else { continue }
            if ByteExact.isStrictlyInside(from, path) && ByteExact.isStrictlyInside(to, path) {
                entries[r] = nil
            } else if ByteExact.isSameOrInside(to, path) {
                // moved in, then removed with the directory: the source is simply gone
                entries[r] = .removed(from, isDirectory: movedDirectory, presence: .present)
                record(r, for: from, makeCurrent: current[BytePath(from)] == nil)
                movedOnto = movedOnto || ByteExact.equal(to, path)
            }
        }
        // Without the rename onto it, whether the consumer has `path` is no longer known.
        var before = movedOnto ? Presence.unknown : Presence.present
        if let i = current[BytePath(path)], let entry = entries[i] {
            switch entry {
            case .changed(_, let presence):
                tombstone(i)
                let established = hasRename(after: i, inside: path)
                if presence == .absent && !established {
                    // created and deleted in this batch; an earlier removal applies again
                    if let removal = restores[i], entries[removal] != nil { current[BytePath(path)] = removal }
                    return
                }
                before = established ? .present : (movedOnto && presence == .present ? .unknown : presence)
            case .removed:
                return  // duplicate
            case .renamed:
                break
            }
        }
        append(.removed(path, isDirectory: isDirectory, presence: before))
    }

    private mutating func noteRenamed(_ from: String, _ to: String, isDirectory: Bool) {
        var fresh = false            // the consumer does not have `from`'s content
        var removeSource = false     // ... and may have something stale at `from`
        var changedAfter = false     // `from` had a pending change: it follows the rename
        if let i = current[BytePath(from)], let entry = entries[i] {
            if case .changed(_, let presence) = entry {
                if presence == .present {
                    tombstone(i)
                    changedAfter = true
                } else if hasRename(after: i, inside: from) {
                    // Created in this batch, things moved through it, and now it moves: the
                    // consumer could not replay this once the directory is gone locally.
                    apply(.rescan(reason: "\(from) was created, had entries moved through it and was renamed "
                        + "within a few milliseconds"))
                    return
                } else {
                    tombstone(i)
                    fresh = true
                    removeSource = presence == .unknown
                }
            } else {
                current[BytePath(from)] = nil
            }
        }
        // Pending changes inside the source move with it (after the rename); pending
        // removals inside it stay where they are (still valid before the rename).
        var moved: [(index: Int, path: String, presence: Presence)] = []
        for inside in descendants(of: from) {
            guard let i = current[BytePath(inside)], let entry = entries[i] else { continue }
            if case .changed(let path, let presence) = entry {
                moved.append((i, path, presence))
                tombstone(i)
            } else {
                current[BytePath(inside)] = nil
            }
        }
        moved.sort { $0.index < $1.index }
        let targetBefore = clearTarget(to)
        if fresh {
            if removeSource { append(.removed(from, isDirectory: isDirectory, presence: .unknown)) }
            append(.changed(to, presence: targetBefore))  // e.g. a temp file renamed over a name
        } else {
            append(.renamed(from: from, to: to, isDirectory: isDirectory))
            if changedAfter { append(.changed(to, presence: .present)) }
        }
        let prefixLength = from.utf8.count
        for item in moved {
            let suffix = String(decoding: item.path.utf8.dropFirst(prefixLength), as: UTF8.self)
            append(.changed(to + suffix, presence: fresh ? .absent : item.presence))
        }
    }

    /// The rename overwrites `path` (a file or an empty directory): pending changes of it
    /// are moot. Returns whether the consumer has `path` once they are dropped.
    private mutating func clearTarget(_ path: String) -> Presence {
        var before = Presence.unknown
        if let i = current[BytePath(path)], let entry = entries[i] {
            switch entry {
            case .changed(_, let presence):
                if hasRename(after: i, inside: path) {
                    current[BytePath(path)] = nil  // renames through it need it: keep it
                    before = .present
                } else {
                    tombstone(i)
                    before = presence
                }
            case .removed:
                current[BytePath(path)] = nil
                before = .absent
            case .renamed:
                break
            }
        }
        for inside in descendants(of: path) {
            guard let i = current[BytePath(inside)], let entry = entries[i] else { continue }
            if case .changed = entry { tombstone(i) } else { current[BytePath(inside)] = nil }
        }
        return before
    }

    // MARK: Bookkeeping

    private mutating func append(_ entry: Entry) {
        let index = entries.count
        entries.append(entry)
        switch entry {
        case .changed(let path, _), .removed(let path, _, _):
            record(index, for: path, makeCurrent: true)
        case .renamed(let from, let to, _):
            renames.append(index)
            renameOrigins[index] = (from, to)
        }
    }

    private mutating func record(_ index: Int, for path: String, makeCurrent: Bool) {
        let key = BytePath(path)
        if makeCurrent { current[key] = index }
        history[key, default: []].append(index)
        paths.register(path)
    }

    private mutating func tombstone(_ index: Int) {
        switch entries[index] {
        case .changed(let path, _)?, .removed(let path, _, _)?:
            if current[BytePath(path)] == index { current[BytePath(path)] = nil }
        default:
            break
        }
        entries[index] = nil
    }

    /// Paths strictly inside `path` that have (had) entries.
    private func descendants(of path: String) -> [String] { paths.descendants(of: path) }

    /// Whether a live rename after entry `index` moves something into or out of `path`.
    private func hasRename(after index: Int, inside path: String) -> Bool {
        renames.contains { r in
            guard r > index, case .renamed(let from, let to, _)? = entries[r] else { return false }
            return ByteExact.isStrictlyInside(from, path) || ByteExact.isStrictlyInside(to, path)
        }
    }

    /// Index of the last rename (live, or converted into a removal of its source) that moved
    /// `path` or something inside it out of it, or -1.
    private func lastMoveOut(of path: String) -> Int {
        for r in renames.reversed() {
            guard entries[r] != nil, let origin = renameOrigins[r] else { continue }
            if ByteExact.isSameOrInside(origin.from, path) && !ByteExact.isSameOrInside(origin.to, path) { return r }
        }
        return -1
    }
}
