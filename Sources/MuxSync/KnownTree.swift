import MuxTransport

// MARK: - What the remote holds, by local version

/// A file's local version: what a stat says (size, mtime to the nanosecond, permission bits).
public struct FileVersion: Sendable, Equatable {
    public var size: UInt64
    public var mtime: Int64
    public var nanoseconds: Int32
    /// Permission bits (mode & 0o7777): a chmod is a new version.
    public var permissions: UInt32

    public init(size: UInt64, mtime: Int64, nanoseconds: Int32, permissions: UInt32 = 0) {
        self.size = size
        self.mtime = mtime
        self.nanoseconds = nanoseconds
        self.permissions = permissions & 0o7777
    }

    init(_ stat: LocalStat) {
        self.init(size: stat.size, mtime: stat.mtime, nanoseconds: stat.mtimeNanoseconds, permissions: stat.permissions)
    }

    init(_ entry: TreeEntry) {
        self.init(size: entry.size, mtime: entry.mtime, nanoseconds: entry.mtimeNanoseconds, permissions: entry.permissions)
    }
}

/// One entry as watch put it on the remote (or as it is locally, to compare).
public enum KnownEntry: Sendable, Equatable {
    case file(FileVersion)
    case directory
    case symlink(target: String)

    /// The entry of a scanned tree; nil for special files (never synced).
    init?(_ entry: TreeEntry) {
        switch entry.kind {
        case .file: self = .file(FileVersion(entry))
        case .directory: self = .directory
        case .symlink(let target): self = .symlink(target: target)
        case .special: return nil
        }
    }

    public var isDirectory: Bool { self == .directory }
}

/// For each local path, what watch last put on the remote: files by version, directories,
/// symlinks by target. A fresh local scan compared with it says exactly what is not there
/// yet, whatever the change source saw: that is how `exec --sync` waits for every save. The
/// apply step also uses it to skip a file whose current version is already on the remote
/// (a change queued again while its send was in flight is not sent twice) and, after a
/// remote rename, to compare what was moved with what is now local.
public final class KnownTree: Sendable {
    private let entries = Locked([BytePath: KnownEntry]())

    public init() {}

    // MARK: Recording

    /// Everything in `tree` (relative to `prefix`) is on the remote as it is locally.
    public func record(_ tree: Tree, under prefix: String = "") {
        entries.withLock { table in
            for entry in tree.entries {
                guard let known = KnownEntry(entry) else { continue }
                table[BytePath(prefix.isEmpty ? entry.path : prefix + "/" + entry.path)] = known
            }
        }
    }

    /// `path` is on the remote as `entry`.
    public func record(_ path: String, _ entry: KnownEntry) {
        entries.withLock { $0[BytePath(path)] = entry }
    }

    /// The file `path` is on the remote in the version `stat` describes.
    public func record(_ path: String, _ stat: LocalStat?) {
        guard let stat else { return }
        record(path, .file(FileVersion(stat)))
    }

    /// Forgets `path` and everything below it.
    public func remove(_ path: String) {
        entries.withLock { table in
            for key in table.keys where ByteExact.isSameOrInside(key.string, path) { table.removeValue(forKey: key) }
        }
    }

    /// The remote moved `from` (with its subtree) over `to`: what was at `to` is gone.
    public func move(from: String, to: String) {
        entries.withLock { table in
            var moving: [(BytePath, KnownEntry)] = []
            for (key, value) in table where ByteExact.isSameOrInside(key.string, from) {
                moving.append((BytePath(ByteExact.rebase(key.string, from: from, to: to)), value))
            }
            for key in table.keys where ByteExact.isSameOrInside(key.string, from) || ByteExact.isSameOrInside(key.string, to) {
                table.removeValue(forKey: key)
            }
            for (key, value) in moving { table[key] = value }
        }
    }

    /// Forgets every entry `condition` holds for (paths that became ignored: watch leaves them
    /// alone on the remote, as push does).
    public func forget(where condition: (String, KnownEntry) -> Bool) {
        entries.withLock { table in
            for (key, value) in table where condition(key.string, value) { table.removeValue(forKey: key) }
        }
    }

    // MARK: Reading

    /// What watch put at `path`, if anything.
    public func entry(_ path: String) -> KnownEntry? {
        entries.withLock { $0[BytePath(path)] }
    }

    /// True when `stat` is the version watch last put on the remote for the file `path`.
    public func contains(_ path: String, _ stat: LocalStat) -> Bool {
        entry(path) == .file(FileVersion(stat))
    }

    /// `path` and everything recorded below it.
    public func subtree(_ path: String) -> [BytePath: KnownEntry] {
        entries.withLock { table in table.filter { ByteExact.isSameOrInside($0.key.string, path) } }
    }

    public var count: Int { entries.withLock { $0.count } }

    /// The events that bring the remote to `tree`: changed or new entries, removed ones.
    public func differences(from tree: Tree) -> [ChangeEvent] {
        entries.withLock { table in
            var events: [ChangeEvent] = []
            var seen = Set<BytePath>()
            for entry in tree.entries {
                guard let local = KnownEntry(entry) else { continue }
                let key = BytePath(entry.path)
                seen.insert(key)
                if table[key] != local { events.append(.changed(entry.path)) }
            }
            for key in table.keys where !seen.contains(key) { events.append(.removed(key.string)) }
            return events
        }
    }
}
