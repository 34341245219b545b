import MuxTransport

// MARK: - What the remote holds, by local file version

/// A file's local version: what a stat says.
public struct FileVersion: Sendable, Equatable {
    public var size: UInt64
    public var mtime: Int64
    public var nanoseconds: Int32

    public init(size: UInt64, mtime: Int64, nanoseconds: Int32) {
        self.size = size
        self.mtime = mtime
        self.nanoseconds = nanoseconds
    }

    init(_ stat: LocalStat) { self.init(size: stat.size, mtime: stat.mtime, nanoseconds: stat.mtimeNanoseconds) }
    init(_ entry: TreeEntry) { self.init(size: entry.size, mtime: entry.mtime, nanoseconds: entry.mtimeNanoseconds) }
}

/// For each local file, the version watch last put on the remote. A fresh
/// local scan compared with it says exactly what is not there yet, whatever
/// the change source saw: that is how `exec --sync` waits for every save.
public final class KnownTree: Sendable {
    private let versions = Locked([BytePath: FileVersion]())

    public init() {}

    /// Everything in `tree` (relative to `prefix`) is on the remote as it is locally.
    public func record(_ tree: Tree, under prefix: String = "") {
        versions.withLock { table in
            for entry in tree.entries where entry.isFile {
                table[BytePath(prefix.isEmpty ? entry.path : prefix + "/" + entry.path)] = FileVersion(entry)
            }
        }
    }

    public func record(_ path: String, _ stat: LocalStat?) {
        guard let stat else { return }
        versions.withLock { $0[BytePath(path)] = FileVersion(stat) }
    }

    /// True when `stat` is the version watch last put on the remote for `path`.
    public func contains(_ path: String, _ stat: LocalStat) -> Bool {
        versions.withLock { $0[BytePath(path)] == FileVersion(stat) }
    }

    /// Forgets `path` and everything below it.
    public func remove(_ path: String) {
        versions.withLock { table in
            for key in table.keys where key.string == path || key.string.hasPrefix(path + "/") { table.removeValue(forKey: key) }
        }
    }

    public func move(from: String, to: String) {
        versions.withLock { table in
            for (key, value) in table where key.string == from || key.string.hasPrefix(from + "/") {
                table.removeValue(forKey: key)
                table[BytePath(to + key.string.dropFirst(from.count))] = value
            }
        }
    }

    /// The events that bring the remote to `tree`: changed files, removed files.
    public func differences(from tree: Tree) -> [ChangeEvent] {
        versions.withLock { table in
            var events: [ChangeEvent] = []
            var seen = Set<BytePath>()
            for entry in tree.entries where entry.isFile || entry.isSymlink {
                let key = BytePath(entry.path)
                seen.insert(key)
                if entry.isSymlink { continue }
                if table[key] != FileVersion(entry) { events.append(.changed(entry.path)) }
            }
            for key in table.keys where !seen.contains(key) { events.append(.removed(key.string)) }
            return events
        }
    }
}
