// PollingSnapshot: a compact stat snapshot of a tree, refreshed in place by each poll.
//
// Per directory: its inode and mtime, then its included entries as packed NUL-terminated
// names plus one small stat record each (no TreeEntry, no per-entry String). A poll opens
// every directory with openat() relative to its parent and fstatat()s every entry by its
// stored name. A directory is listed again (readdir, ignore rules for new names) only when
// its inode or mtime changed, or when its mtime was too recent to trust: a name created in
// the same clock tick as the previous listing would not move the mtime. Nothing is read
// except directory listings and stat data. Confined to the watcher thread.

#if canImport(Glibc)
import Glibc
private typealias DirectoryStream = OpaquePointer
#elseif canImport(Darwin)
import Darwin
private typealias DirectoryStream = UnsafeMutablePointer<DIR>
#endif
import MuxIgnore

// MARK: - Errors

/// The root cannot be polled.
enum PollingRootProblem: Error, Equatable {
    /// Missing or unreadable (the reason says which).
    case unavailable(String)
    /// A different directory now sits at the root path.
    case replaced
}

// MARK: - Snapshot

/// The polled state of one tree.
final class PollingSnapshot: @unchecked Sendable {
    private struct Directory {
        var inode: UInt64 = 0
        var mtimeSeconds: Int64 = 0
        var mtimeNanoseconds: Int32 = 0
        var recheck = true
        var names = PackedNames()
        var stats: [EntryStat] = []
    }

    let root: String
    private let filter: ExclusionFilter
    private var slots: [Directory] = []
    private var freeSlots: [Int] = []
    /// Inodes of directories forgotten by `forgetIfMoved` during the last poll: the next poll,
    /// which sees their move, reports them as removed and created, never as renamed.
    private var forgottenWhileMoving: Set<UInt64> = []
    private var slotByPath: [BytePath: Int] = [:]
    private var rootInode: UInt64 = 0
    private var now: Int64 = 0
    /// Seconds within which a directory mtime is not trusted (clock tick, remote clocks).
    private let recheckWindow: Int64 = 2

    /// Walks `root` completely. Throws when the root cannot be opened.
    init(root: String, filter: ExclusionFilter) throws {
        self.root = LocalScanner.trimmedRoot(root)
        self.filter = filter
        var diff = PollingDiff()
        let (fd, st) = try openRoot()
        rootInode = UInt64(st.st_ino)
        now = Int64(time(nil))
        readNew("", fd: fd, st: st, diff: &diff, report: false)
    }

    /// Number of entries (files, directories, symlinks) in the snapshot.
    var entryCount: Int {
        var total = 0
        for (_, slot) in slotByPath { total += slots[slot].stats.count }
        return total
    }

    /// Number of directories, the root included.
    var directoryCount: Int { slotByPath.count }

    // MARK: Refresh

    /// Polls the tree, updates the snapshot and returns what changed.
    func refresh() throws -> PollingDiff {
        var diff = PollingDiff()
        diff.unpairableInodes = forgottenWhileMoving
        forgottenWhileMoving = []
        let (fd, st) = try openRoot()
        if UInt64(st.st_ino) != rootInode {
            close(fd)
            throw PollingRootProblem.replaced
        }
        now = Int64(time(nil))
        visit("", fd: fd, st: st, diff: &diff)
        return diff
    }

    private func openRoot() throws -> (Int32, stat) {
        let fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw PollingRootProblem.unavailable(LocalScanner.describe(errno: errno)) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let reason = LocalScanner.describe(errno: errno)
            close(fd)
            throw PollingRootProblem.unavailable(reason)
        }
        return (fd, st)
    }

    /// Compares one known directory (takes ownership of `fd`).
    private func visit(_ path: String, fd: Int32, st: stat, diff: inout PollingDiff) {
        guard let slot = slotByPath[BytePath(path)] else {
            readNew(path, fd: fd, st: st, diff: &diff, report: true)
            return
        }
        let mtime = LocalScanner.mtime(of: st)
        let trusted = !slots[slot].recheck && slots[slot].inode == UInt64(st.st_ino)
            && slots[slot].mtimeSeconds == mtime.seconds && slots[slot].mtimeNanoseconds == mtime.nanoseconds
        var recheck = false
        if trusted {
            recheck = quickPass(path, slot: slot, fd: fd, diff: &diff)
            close(fd)
        } else {
            fullPass(path, slot: slot, fd: fd, diff: &diff)
        }
        slots[slot].inode = UInt64(st.st_ino)
        slots[slot].mtimeSeconds = mtime.seconds
        slots[slot].mtimeNanoseconds = mtime.nanoseconds
        slots[slot].recheck = recheck || mtime.seconds >= now - recheckWindow
    }

    /// The names are known: stat each by name. Returns true when the directory must be
    /// listed again next time (an entry vanished although the mtime did not move).
    private func quickPass(_ path: String, slot: Int, fd: Int32, diff: inout PollingDiff) -> Bool {
        let names = slots[slot].names
        var vanished: [Int] = []
        var dropped: [Int] = []
        for i in 0..<names.count {
            var st = stat()
            guard names.withCName(i, { fstatat(fd, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0 else {
                vanished.append(i)
                continue
            }
            let new = EntryStat(st)
            let old = slots[slot].stats[i]
            if new == old {
                if new.isDirectory {
                    let childPath = ByteExact.join(path, names.string(i))
                    names.withCName(i) { descend(childPath, parent: fd, name: $0, diff: &diff) }
                }
                continue
            }
            slots[slot].stats[i] = new
            let childPath = ByteExact.join(path, names.string(i))
            let keep = names.withCName(i) { compare(childPath, old: old, new: new, parent: fd, name: $0, diff: &diff) }
            if !keep { dropped.append(i) }
        }
        guard !vanished.isEmpty || !dropped.isEmpty else { return false }
        // Gone without the directory mtime moving (same clock tick): drop them now and list
        // the directory next time to find what replaced them.
        for i in vanished {
            removeEntry(ByteExact.join(path, names.string(i)), stat: slots[slot].stats[i], diff: &diff)
        }
        let leaving = Set(vanished + dropped)
        var kept = PackedNames()
        var stats: [EntryStat] = []
        for i in 0..<names.count where !leaving.contains(i) {
            kept.append(names.string(i))
            stats.append(slots[slot].stats[i])
        }
        slots[slot].names = kept
        slots[slot].stats = stats
        return true
    }

    /// The directory changed: list it again.
    private func fullPass(_ path: String, slot: Int, fd: Int32, diff: inout PollingDiff) {
        guard let dir = fdopendir(fd) else {
            close(fd)
            return
        }
        defer { closedir(dir) }
        let dfd = dirfd(dir)
        let old = slots[slot]
        var oldIndex: [BytePath: Int] = [:]
        for i in 0..<old.names.count { oldIndex[BytePath(old.names.string(i))] = i }
        var seen = [Bool](repeating: false, count: old.names.count)
        var names = PackedNames()
        var stats: [EntryStat] = []
        PollingSnapshot.forEachName(dir) { cName, name in
            var st = stat()
            guard fstatat(dfd, cName, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return }
            let new = EntryStat(st)
            let childPath = ByteExact.join(path, name)
            if let k = oldIndex[BytePath(name)] {
                seen[k] = true
                let previous = old.stats[k]
                let keep = new == previous
                    ? { if new.isDirectory { descend(childPath, parent: dfd, name: cName, diff: &diff) }; return true }()
                    : compare(childPath, old: previous, new: new, parent: dfd, name: cName, diff: &diff)
                if keep {
                    names.append(name)
                    stats.append(new)
                }
            } else {
                if filter.isExcludedInWalk(childPath, isDirectory: new.isDirectory) { return }
                names.append(name)
                stats.append(new)
                addEntry(childPath, stat: new, parent: dfd, name: cName, diff: &diff)
            }
        }
        for k in seen.indices where !seen[k] {
            removeEntry(ByteExact.join(path, old.names.string(k)), stat: old.stats[k], diff: &diff)
        }
        slots[slot].names = names
        slots[slot].stats = stats
    }

    /// A known entry whose stat changed. Returns false when it must leave the snapshot
    /// (replaced by something the ignore rules exclude).
    private func compare(_ path: String, old: EntryStat, new: EntryStat, parent: Int32,
                         name: UnsafePointer<CChar>, diff: inout PollingDiff) -> Bool {
        if old.kind != new.kind || (old.isDirectory && old.inode != new.inode) {
            removeEntry(path, stat: old, diff: &diff)
            if filter.isExcludedInWalk(path, isDirectory: new.isDirectory) { return false }
            addEntry(path, stat: new, parent: parent, name: name, diff: &diff)
            return true
        }
        if new.differsVisibly(from: old) {
            diff.modified.append(path)
            noteIgnoreFile(path, diff: &diff)
        }
        if new.isDirectory { descend(path, parent: parent, name: name, diff: &diff) }
        return true
    }

    private func addEntry(_ path: String, stat entry: EntryStat, parent: Int32, name: UnsafePointer<CChar>,
                          diff: inout PollingDiff) {
        diff.added.append(PollingDiff.Item(path: path, stat: entry))
        noteIgnoreFile(path, diff: &diff)
        guard entry.isDirectory else { return }
        let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        var st = stat()
        if fd >= 0 && fstat(fd, &st) == 0 {
            readNew(path, fd: fd, st: st, diff: &diff, report: true)
            forgetIfMoved(path, parent: parent, name: name, inode: st.st_ino)
        } else {
            if fd >= 0 { close(fd) }
            setRecord(path, Directory())  // unreadable for now: listed again next poll
        }
    }

    private func removeEntry(_ path: String, stat entry: EntryStat, diff: inout PollingDiff) {
        diff.removed.append(PollingDiff.Item(path: path, stat: entry))
        noteIgnoreFile(path, diff: &diff)
        guard entry.isDirectory, let slot = slotByPath.removeValue(forKey: BytePath(path)) else { return }
        let record = slots[slot]
        slots[slot] = Directory()
        freeSlots.append(slot)
        for i in 0..<record.names.count {
            removeEntry(ByteExact.join(path, record.names.string(i)), stat: record.stats[i], diff: &diff)
        }
    }

    private func descend(_ path: String, parent: Int32, name: UnsafePointer<CChar>, diff: inout PollingDiff) {
        let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return }  // unreadable or raced: keep what we knew, retry next poll
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            close(fd)
            return
        }
        visit(path, fd: fd, st: st, diff: &diff)
        forgetIfMoved(path, parent: parent, name: name, inode: st.st_ino)
    }

    /// A directory renamed or removed while it was being walked: what was seen inside it was
    /// reported under its old name, which the consumer will not find. Forget its subtree so
    /// the next poll, which sees the move, reports everything inside at the new place.
    private func forgetIfMoved(_ path: String, parent: Int32, name: UnsafePointer<CChar>, inode: ino_t) {
        var st = stat()
        if fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_ino == inode { return }
        forgottenWhileMoving.insert(UInt64(inode))
        for (key, slot) in slotByPath where ByteExact.isSameOrInside(key.string, path) {
            slotByPath[key] = nil
            slots[slot] = Directory()
            freeSlots.append(slot)
        }
    }

    /// Lists a directory not seen before (takes ownership of `fd`).
    private func readNew(_ path: String, fd: Int32, st: stat, diff: inout PollingDiff, report: Bool) {
        var record = Directory()
        let mtime = LocalScanner.mtime(of: st)
        record.inode = UInt64(st.st_ino)
        record.mtimeSeconds = mtime.seconds
        record.mtimeNanoseconds = mtime.nanoseconds
        record.recheck = mtime.seconds >= now - recheckWindow
        setRecord(path, record)
        guard let dir = fdopendir(fd) else {
            close(fd)
            return
        }
        defer { closedir(dir) }
        let dfd = dirfd(dir)
        var names = PackedNames()
        var stats: [EntryStat] = []
        PollingSnapshot.forEachName(dir) { cName, name in
            var st = stat()
            guard fstatat(dfd, cName, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return }
            let entry = EntryStat(st)
            let childPath = ByteExact.join(path, name)
            if filter.isExcludedInWalk(childPath, isDirectory: entry.isDirectory) { return }
            names.append(name)
            stats.append(entry)
            if report {
                addEntry(childPath, stat: entry, parent: dfd, name: cName, diff: &diff)
            } else if entry.isDirectory {
                let child = openat(dfd, cName, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                var cst = stat()
                if child >= 0 && fstat(child, &cst) == 0 {
                    readNew(childPath, fd: child, st: cst, diff: &diff, report: false)
                } else {
                    if child >= 0 { close(child) }
                    setRecord(childPath, Directory())
                }
            }
        }
        if let slot = slotByPath[BytePath(path)] {
            slots[slot].names = names
            slots[slot].stats = stats
        }
    }

    private func setRecord(_ path: String, _ record: Directory) {
        if let slot = slotByPath[BytePath(path)] {
            slots[slot] = record
        } else if let slot = freeSlots.popLast() {
            slots[slot] = record
            slotByPath[BytePath(path)] = slot
        } else {
            slotByPath[BytePath(path)] = slots.count
            slots.append(record)
        }
    }

    private func noteIgnoreFile(_ path: String, diff: inout PollingDiff) {
        if path == IgnoreRules.muxsyncignoreFileName {
            diff.ignoreFilesChanged.append("")
        } else if path == IgnoreRules.gitignoreFileName || path.hasSuffix("/" + IgnoreRules.gitignoreFileName) {
            diff.ignoreFilesChanged.append(ByteExact.parent(of: path))
        }
    }

    // MARK: Directory listing

    /// Calls `body` with each entry name (C string and exact UTF-8 String), skipping "."
    /// "..", and names that are not valid UTF-8 (the scanner reports those).
    private static func forEachName(_ dir: DirectoryStream, _ body: (UnsafePointer<CChar>, String) -> Void) {
        while let ent = readdir(dir) {
            withUnsafePointer(to: &ent.pointee.d_name) { raw in
                let cName = UnsafeRawPointer(raw).assumingMemoryBound(to: CChar.self)
                let length = strlen(cName)
                let bytes = UnsafeBufferPointer(start: UnsafeRawPointer(raw).assumingMemoryBound(to: UInt8.self), count: length)
                if length == 1 && bytes[0] == UInt8(ascii: ".") { return }
                if length == 2 && bytes[0] == UInt8(ascii: ".") && bytes[1] == UInt8(ascii: ".") { return }
                guard let name = LocalScanner.exactString(bytes) else { return }
                body(cName, name)
            }
        }
    }
}

// MARK: - EntryStat from lstat

extension EntryStat {
    /// The fields of an `lstat` result (directories get size 0: theirs is noise).
    init(_ st: stat) {
        let type = st.st_mode & S_IFMT
        switch type {
        case S_IFREG: kind = .file
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symlink
        default: kind = .special
        }
        mode = UInt32(st.st_mode) & 0o7777
        size = type == S_IFDIR ? 0 : Int64(st.st_size)
        let mtime = LocalScanner.mtime(of: st)
        mtimeSeconds = mtime.seconds
        mtimeNanoseconds = mtime.nanoseconds
        inode = UInt64(st.st_ino)
    }
}
