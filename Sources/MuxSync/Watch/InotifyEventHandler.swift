// InotifyEventHandler: turns raw inotify events into observations and keeps the watches
// in step with the tree.
//
// - A new directory (created or moved in) gets a watch before it is listed, and everything
//   already in it is reported, so a `mkdir -p a/b/c && touch a/b/c/f` burst loses nothing.
// - IN_MOVED_FROM/IN_MOVED_TO with the same cookie are one rename (a directory's watches
//   follow it: the table rewrites its subtree). A MOVED_FROM without partner within a few
//   milliseconds left the tree (removed, its watches dropped); a lone MOVED_TO came in
//   (created, and walked if a directory). A move from an ignored name is a creation, a move
//   to an ignored name a removal.
// - A .gitignore (or the root's .muxsyncignore) that changes reloads the rules, re-syncs the
//   watches and emits a rescan; so do a queue overflow and a failed watch (limit reached).
// - The root deleted or moved away: rescan, all watches dropped, and once a second the root
//   path is tried again.
// Confined to the watcher thread.

#if os(Linux)
import Glibc
import MuxIgnore

// MARK: - InotifyEventHandler

final class InotifyEventHandler: @unchecked Sendable {
    let descriptor: Int32
    private let root: String
    private let filter: ExclusionFilter
    private let onWatchLimit: (@Sendable () -> Void)?
    private var table = InotifyWatchTable()
    private var coalescer: ChangeCoalescer
    private var rootDescriptor: Int32 = -1
    private var rootGone = false
    private var nextRootProbe = ContinuousClock.now
    private var limitReported = false
    private var ignoreFilesChanged: [String] = []
    private var overflowed = false

    private struct PendingMove {
        var cookie: UInt32
        var path: String
        var isDirectory: Bool
        var excluded: Bool
        var deadline: ContinuousClock.Instant
    }
    private var pendingMoves: [PendingMove] = []
    /// How long a MOVED_FROM waits for its MOVED_TO.
    private let moveHold: Duration = .milliseconds(5)

    private static let watchMask: UInt32 = UInt32(IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB
        | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK)

    init(descriptor: Int32, root: String, filter: ExclusionFilter, settings: ChangeCoalescer.Settings,
         onWatchLimit: (@Sendable () -> Void)?) {
        self.descriptor = descriptor
        self.root = root
        self.filter = filter
        self.coalescer = ChangeCoalescer(settings: settings)
        self.onWatchLimit = onWatchLimit
    }

    var watchCount: Int { table.count }

    // MARK: Start

    /// Watches the root and every non-ignored directory below it.
    func watchInitialTree() throws {
        let wd = inotify_add_watch(descriptor, root, InotifyEventHandler.watchMask)
        guard wd >= 0 else {
            let code = errno
            if code == ENOSPC { throw ChangeSourceError.inotifyUnavailable(reason: InotifyLimits.watchLimitAdvice("the root")) }
            throw ChangeSourceError.rootUnusable(root, reason: LocalScanner.describe(errno: code))
        }
        rootDescriptor = wd
        table.set(wd, path: "")
        var limitHit = false
        var visited = Set<BytePath>()
        walk("", report: false, visited: &visited, limitHit: &limitHit)
        if limitHit {
            throw ChangeSourceError.inotifyUnavailable(
                reason: InotifyLimits.watchLimitAdvice("this tree (\(table.count) directories watched so far)"))
        }
    }

    // MARK: Timing

    /// When the loop must wake up even without events.
    func nextDeadline() -> ContinuousClock.Instant? {
        var next = coalescer.deadline
        if let move = pendingMoves.first { next = min(next ?? move.deadline, move.deadline) }
        if rootGone { next = min(next ?? nextRootProbe, nextRootProbe) }
        return next
    }

    /// Settles what waited: unpaired moves, ignore-rule reloads, overflow, the root's return.
    func tick(now: ContinuousClock.Instant) {
        while let move = pendingMoves.first, move.deadline <= now {
            pendingMoves.removeFirst()
            movedOut(move, now: now)
        }
        if !ignoreFilesChanged.isEmpty {
            var reloaded: [String] = []
            for directory in ignoreFilesChanged where !reloaded.contains(directory) {
                filter.reloadGitignore(in: directory)
                reloaded.append(directory)
            }
            ignoreFilesChanged = []
            resyncWatches()
            let places = reloaded.map { $0.isEmpty ? "top level" : $0 }.joined(separator: ", ")
            coalescer.add(.rescan(reason: "ignore rules changed (\(places))"), at: now)
        }
        if overflowed {
            overflowed = false
            resyncWatches()
            coalescer.add(.rescan(reason: "the inotify event queue overflowed, changes were lost "
                + "(fs.inotify.max_queued_events = \(InotifyLimits.read("max_queued_events")); raise it with "
                + "sudo sysctl fs.inotify.max_queued_events=65536)"), at: now)
        }
        if rootGone && now >= nextRootProbe { probeRoot(now: now) }
    }

    /// The due batch, if any.
    func takeBatch(now: ContinuousClock.Instant) -> [ChangeEvent]? { coalescer.takeBatch(at: now) }

    /// Everything still waiting, for the last batch before stopping.
    func finish() -> [ChangeEvent] {
        let now = ContinuousClock.now
        while !pendingMoves.isEmpty { movedOut(pendingMoves.removeFirst(), now: now) }
        return coalescer.flush()
    }

    // MARK: Events

    func handle(descriptor wd: Int32, mask: UInt32, cookie: UInt32, name: String, now: ContinuousClock.Instant) {
        if mask & UInt32(IN_Q_OVERFLOW) != 0 {
            overflowed = true
            return
        }
        guard let directory = table.path(of: wd) else { return }  // a watch already dropped
        if mask & UInt32(IN_IGNORED) != 0 {
            table.forget(wd)
            if wd == rootDescriptor { lostRoot("was deleted or unmounted", now: now) }
            return
        }
        if name.isEmpty {
            if wd == rootDescriptor && mask & UInt32(IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT) != 0 {
                lostRoot(mask & UInt32(IN_MOVE_SELF) != 0 ? "was moved away" : "was deleted", now: now)
            }
            return  // the directory's own events are reported by its parent
        }
        let path = ByteExact.join(directory, name)
        let isDirectory = mask & UInt32(IN_ISDIR) != 0
        if name == IgnoreRules.gitignoreFileName || (directory.isEmpty && name == IgnoreRules.muxsyncignoreFileName) {
            ignoreFilesChanged.append(directory)
        }
        let excluded = filter.isExcludedInWalk(path, isDirectory: isDirectory)

        if mask & UInt32(IN_MOVED_TO) != 0 {
            if let i = pendingMoves.firstIndex(where: { $0.cookie == cookie }) {
                let from = pendingMoves.remove(at: i)
                // something that left `path` earlier (moved out of the tree) goes first
                settleMoves(touching: path, now: now)
                moved(from, to: path, isDirectory: isDirectory, excluded: excluded, now: now)
            } else {
                settleMoves(touching: path, now: now)
                guard table.path(of: wd) != nil else { return }  // its directory just left the tree
                if !excluded { appeared(path, isDirectory: isDirectory, now: now) }
            }
            return
        }
        settleMoves(touching: path, now: now)
        guard table.path(of: wd) != nil else { return }  // its directory just left the tree
        if mask & UInt32(IN_MOVED_FROM) != 0 {
            pendingMoves.append(PendingMove(cookie: cookie, path: path, isDirectory: isDirectory, excluded: excluded,
                                            deadline: now + moveHold))
            return
        }
        if excluded { return }
        if mask & UInt32(IN_CREATE) != 0 {
            appeared(path, isDirectory: isDirectory, now: now)
        } else if mask & UInt32(IN_DELETE) != 0 {
            coalescer.add(.removed(path, isDirectory: isDirectory), at: now)
            if isDirectory { _ = table.removeSubtree(path) }
        } else if mask & UInt32(IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB) != 0 {
            coalescer.add(.modified(path), at: now)
        }
    }

    /// A MOVED_FROM found its MOVED_TO.
    private func moved(_ from: PendingMove, to: String, isDirectory: Bool, excluded: Bool, now: ContinuousClock.Instant) {
        switch (from.excluded, excluded) {
        case (true, true):
            return
        case (true, false):
            appeared(to, isDirectory: isDirectory, now: now)
        case (false, true):
            coalescer.add(.removed(from.path, isDirectory: from.isDirectory), at: now)
            if from.isDirectory { unwatch(from.path) }
        case (false, false):
            coalescer.add(.renamed(from: from.path, to: to, isDirectory: isDirectory), at: now)
            guard isDirectory else { return }
            table.renameSubtree(from: from.path, to: to)
            let known = table.descriptor(of: to)
            let actual = inotify_add_watch(descriptor, root + "/" + to,
                                           InotifyEventHandler.watchMask | UInt32(IN_DONT_FOLLOW))
            if known == nil || actual != known {
                // Never watched (moved before its creation was handled), or the table had the
                // wrong directory under that name (mkdir a; mv a b; mkdir a, all before we
                // looked): watch and report it now.
                var limitHit = false
                watchAndReport(to, limitHit: &limitHit)
                if limitHit { reportWatchLimit(to, now: now) }
            }
        }
    }

    /// A MOVED_FROM without partner: it left the tree.
    private func movedOut(_ move: PendingMove, now: ContinuousClock.Instant) {
        guard !move.excluded else { return }
        coalescer.add(.removed(move.path, isDirectory: move.isDirectory), at: now)
        if move.isDirectory { unwatch(move.path) }
    }

    /// Settles pending moves of `path`, its ancestors or descendants first, so the order of
    /// observations stays the order of events.
    private func settleMoves(touching path: String, now: ContinuousClock.Instant) {
        guard !pendingMoves.isEmpty else { return }
        let touching = pendingMoves.filter {
            ByteExact.isSameOrInside(path, $0.path) || ByteExact.isStrictlyInside($0.path, path)
        }
        guard !touching.isEmpty else { return }
        pendingMoves.removeAll { move in touching.contains { $0.cookie == move.cookie && ByteExact.equal($0.path, move.path) } }
        for move in touching { movedOut(move, now: now) }
    }

    /// Something new (created or moved in from outside or from an ignored name).
    private func appeared(_ path: String, isDirectory: Bool, now: ContinuousClock.Instant) {
        coalescer.add(.created(path, isDirectory: isDirectory), at: now)
        guard isDirectory else { return }
        var limitHit = false
        watchAndReport(path, limitHit: &limitHit)
        if limitHit { reportWatchLimit(path, now: now) }
    }

    // MARK: Watches

    /// Watches a new directory, then reports (and watches) everything already in it.
    private func watchAndReport(_ path: String, limitHit: inout Bool) {
        guard addWatch(path, limitHit: &limitHit) else { return }
        var visited = Set<BytePath>()
        walk(path, report: true, visited: &visited, limitHit: &limitHit)
    }

    /// Lists `path`; for each non-ignored entry reports it (if asked) and watches and walks
    /// directories. `visited` collects the directories walked.
    private func walk(_ path: String, report: Bool, visited: inout Set<BytePath>, limitHit: inout Bool) {
        visited.insert(BytePath(path))
        let full = path.isEmpty ? root : root + "/" + path
        let fd = open(full, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (path.isEmpty ? 0 : O_NOFOLLOW))
        guard fd >= 0, let dir = fdopendir(fd) else {
            if fd >= 0 { close(fd) }
            return
        }
        var children: [(String, Bool)] = []
        while let entry = readdir(dir) {
            let type = entry.pointee.d_type
            withUnsafePointer(to: &entry.pointee.d_name) { raw in
                let cName = UnsafeRawPointer(raw).assumingMemoryBound(to: CChar.self)
                let length = strlen(cName)
                let bytes = UnsafeBufferPointer(start: UnsafeRawPointer(raw).assumingMemoryBound(to: UInt8.self), count: length)
                if length == 1 && bytes[0] == UInt8(ascii: ".") { return }
                if length == 2 && bytes[0] == UInt8(ascii: ".") && bytes[1] == UInt8(ascii: ".") { return }
                guard let name = LocalScanner.exactString(bytes) else { return }
                var isDirectory = type == UInt8(DT_DIR)
                if type == UInt8(DT_UNKNOWN) {
                    var st = stat()
                    isDirectory = fstatat(dirfd(dir), cName, &st, AT_SYMLINK_NOFOLLOW) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
                }
                children.append((name, isDirectory))
            }
        }
        closedir(dir)
        for (name, isDirectory) in children {
            let child = ByteExact.join(path, name)
            if filter.isExcludedInWalk(child, isDirectory: isDirectory) { continue }
            if report { coalescer.add(.created(child, isDirectory: isDirectory), at: .now) }
            guard isDirectory, addWatch(child, limitHit: &limitHit) else { continue }
            walk(child, report: report, visited: &visited, limitHit: &limitHit)
        }
    }

    /// Adds (or refreshes) the watch of directory `path`; false when it cannot be watched.
    private func addWatch(_ path: String, limitHit: inout Bool) -> Bool {
        let full = path.isEmpty ? root : root + "/" + path
        let mask = InotifyEventHandler.watchMask | (path.isEmpty ? 0 : UInt32(IN_DONT_FOLLOW))
        let wd = inotify_add_watch(descriptor, full, mask)
        guard wd >= 0 else {
            if errno == ENOSPC { limitHit = true }
            return false  // gone again, not a directory, or unreadable
        }
        table.set(wd, path: path)
        return true
    }

    private func unwatch(_ path: String) {
        for wd in table.removeSubtree(path) { inotify_rm_watch(descriptor, wd) }
    }

    /// Walks the whole tree again: watches what is now included, drops what is now ignored.
    private func resyncWatches() {
        guard !rootGone else { return }
        var visited = Set<BytePath>()
        var limitHit = false
        walk("", report: false, visited: &visited, limitHit: &limitHit)
        for wd in table.descriptors {
            guard let path = table.path(of: wd), !visited.contains(BytePath(path)) else { continue }
            inotify_rm_watch(descriptor, wd)
            table.forget(wd)
        }
        if limitHit { reportWatchLimit("", now: .now) }
    }

    private func reportWatchLimit(_ path: String, now: ContinuousClock.Instant) {
        guard !limitReported else { return }
        limitReported = true
        coalescer.add(.rescan(reason: InotifyLimits.watchLimitAdvice(path.isEmpty ? "the tree" : "directory " + path)), at: now)
        onWatchLimit?()
    }

    // MARK: The root

    private func lostRoot(_ what: String, now: ContinuousClock.Instant) {
        guard !rootGone else { return }
        rootGone = true
        for wd in table.descriptors {
            inotify_rm_watch(descriptor, wd)
            table.forget(wd)
        }
        pendingMoves.removeAll()
        nextRootProbe = now + .seconds(1)
        coalescer.add(.rescan(reason: "the watched directory \(root) \(what); waiting for it to come back"), at: now)
    }

    private func probeRoot(now: ContinuousClock.Instant) {
        nextRootProbe = now + .seconds(1)
        let wd = inotify_add_watch(descriptor, root, InotifyEventHandler.watchMask)
        guard wd >= 0 else { return }
        rootGone = false
        rootDescriptor = wd
        table.set(wd, path: "")
        var limitHit = false
        var visited = Set<BytePath>()
        walk("", report: false, visited: &visited, limitHit: &limitHit)
        coalescer.add(.rescan(reason: "the watched directory \(root) is back"), at: now)
        if limitHit { reportWatchLimit("", now: now) }
    }
}
#endif
