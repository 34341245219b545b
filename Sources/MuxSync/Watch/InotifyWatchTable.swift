// InotifyWatchTable: which inotify watch descriptor stands for which directory.
//
// inotify reports events by watch descriptor; the table turns one into the directory's
// relative path. A directory renamed inside the tree keeps its watches (they follow the
// inode), so the paths of its whole subtree are rewritten. Pure bookkeeping, no system calls.

// MARK: - InotifyWatchTable

/// A two-way map between watch descriptors and relative directory paths ("" is the root).
struct InotifyWatchTable: Sendable {
    private var pathByDescriptor: [Int32: String] = [:]
    private var descriptorByPath: [BytePath: Int32] = [:]

    /// Number of watches.
    var count: Int { pathByDescriptor.count }

    /// Every watch descriptor.
    var descriptors: [Int32] { Array(pathByDescriptor.keys) }

    /// The path watched by `descriptor`.
    func path(of descriptor: Int32) -> String? { pathByDescriptor[descriptor] }

    /// The descriptor watching `path`.
    func descriptor(of path: String) -> Int32? { descriptorByPath[BytePath(path)] }

    /// Records that `descriptor` watches `path`. When the kernel returned a descriptor the
    /// table already knew under another path, that directory was moved without the table
    /// hearing of it: its subtree is moved to `path`.
    mutating func set(_ descriptor: Int32, path: String) {
        if let known = pathByDescriptor[descriptor] {
            if ByteExact.equal(known, path) { return }
            renameSubtree(from: known, to: path)
            return
        }
        if let stale = descriptorByPath[BytePath(path)] { pathByDescriptor[stale] = nil }
        pathByDescriptor[descriptor] = path
        descriptorByPath[BytePath(path)] = descriptor
    }

    /// Forgets a descriptor (the kernel sent IN_IGNORED, or the watch was removed).
    mutating func forget(_ descriptor: Int32) {
        guard let path = pathByDescriptor.removeValue(forKey: descriptor) else { return }
        if descriptorByPath[BytePath(path)] == descriptor { descriptorByPath[BytePath(path)] = nil }
    }

    /// The descriptors of `path` and every watched directory inside it.
    func subtree(of path: String) -> [Int32] {
        pathByDescriptor.compactMap { descriptor, watched in
            ByteExact.isSameOrInside(watched, path) ? descriptor : nil
        }
    }

    /// Forgets `path` and everything inside it; returns their descriptors.
    mutating func removeSubtree(_ path: String) -> [Int32] {
        let gone = subtree(of: path)
        for descriptor in gone { forget(descriptor) }
        return gone
    }

    /// A directory moved from `from` to `to`: rewrites its path and its subtree's. Whatever
    /// the table had at or inside `to` is replaced.
    mutating func renameSubtree(from: String, to: String) {
        let moving = subtree(of: from)
        if moving.isEmpty { return }
        for descriptor in subtree(of: to) where !moving.contains(descriptor) { forget(descriptor) }
        let prefix = from.utf8.count
        var moved: [(Int32, String)] = []
        for descriptor in moving {
            guard let old = pathByDescriptor[descriptor] else { continue }
            let suffix = String(decoding: old.utf8.dropFirst(prefix), as: UTF8.self)
            moved.append((descriptor, to + suffix))
            if descriptorByPath[BytePath(old)] == descriptor { descriptorByPath[BytePath(old)] = nil }
        }
        for (descriptor, path) in moved {
            pathByDescriptor[descriptor] = path
            descriptorByPath[BytePath(path)] = descriptor
        }
    }
}
