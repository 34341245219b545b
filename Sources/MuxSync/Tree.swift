// Tree: the entries of one synced tree, in tree order, with byte-exact lookup by path.

// MARK: - Tree

/// A set of ``TreeEntry`` values below one root, sorted in tree order: every directory
/// comes right before its contents, siblings in byte order of their names. Lookup by path
/// is byte-exact (NFC and NFD spellings of a name are different entries).
///
/// The root itself is not an entry. A tree can also carry `protectedPaths`: paths whose
/// content could not be read completely (an unreadable directory, an unreadable file), so
/// that a planner must not delete anything on the other side at or below them.
public struct Tree: Sendable, Equatable {
    /// The entries in tree order.
    public let entries: [TreeEntry]
    /// Paths the scanner could not read completely; nothing at or below them may be deleted
    /// on the destination on the strength of this tree.
    public let protectedPaths: [String]
    private let index: [BytePath: Int]

    /// An empty tree.
    public init() {
        self.entries = []
        self.protectedPaths = []
        self.index = [:]
    }

    /// Builds a tree from entries in any order. When two entries share a path (byte-exact),
    /// the later one wins. Entries with an empty path are dropped.
    public init(_ entries: [TreeEntry], protectedPaths: [String] = []) {
        var byPath: [BytePath: Int] = [:]
        byPath.reserveCapacity(entries.count)
        var unique: [TreeEntry] = []
        unique.reserveCapacity(entries.count)
        for entry in entries where !entry.path.isEmpty {
            let key = BytePath(entry.path)
            if let existing = byPath[key] {
                unique[existing] = entry
            } else {
                byPath[key] = unique.count
                unique.append(entry)
            }
        }
        if !Tree.isInTreeOrder(unique) {
            unique.sort { ByteExact.treeOrderLess($0.path, $1.path) }
            byPath.removeAll(keepingCapacity: true)
            for (i, entry) in unique.enumerated() { byPath[BytePath(entry.path)] = i }
        }
        self.entries = unique
        self.index = byPath
        self.protectedPaths = protectedPaths.sorted(by: ByteExact.treeOrderLess)
    }

    private static func isInTreeOrder(_ entries: [TreeEntry]) -> Bool {
        var i = 1
        while i < entries.count {
            if !ByteExact.treeOrderLess(entries[i - 1].path, entries[i].path) { return false }
            i += 1
        }
        return true
    }

    // MARK: Lookup

    /// The entry at `path` (byte-exact), or nil.
    public subscript(path: String) -> TreeEntry? {
        guard let i = index[BytePath(path)] else { return nil }
        return entries[i]
    }

    /// Whether an entry exists at `path` (byte-exact).
    public func contains(_ path: String) -> Bool { index[BytePath(path)] != nil }

    /// Number of entries.
    public var count: Int { entries.count }

    /// Whether the tree has no entries.
    public var isEmpty: Bool { entries.isEmpty }

    /// The direct children of directory `path` ("" for the root), in tree order.
    public func children(of path: String) -> [TreeEntry] {
        entries.filter { ByteExact.equal($0.parentPath, path) }
    }

    /// Whether `path` is at or below one of the protected paths.
    public func isProtected(_ path: String) -> Bool {
        protectedPaths.contains { ByteExact.isSameOrInside(path, $0) }
    }

    // MARK: Totals

    /// Number of regular files.
    public var fileCount: Int { entries.reduce(0) { $0 + ($1.isFile ? 1 : 0) } }

    /// Sum of regular file sizes.
    public var totalFileBytes: UInt64 { entries.reduce(0) { $0 + ($1.isFile ? $1.size : 0) } }

    /// Whether the tree holds nothing that can be transferred (no file, directory or
    /// symlink; special files do not count).
    public var hasNothingToTransfer: Bool { !entries.contains { !$0.isSpecial } }

    public static func == (lhs: Tree, rhs: Tree) -> Bool {
        lhs.entries == rhs.entries
            && lhs.protectedPaths.count == rhs.protectedPaths.count
            && zip(lhs.protectedPaths, rhs.protectedPaths).allSatisfy { ByteExact.equal($0, $1) }
    }
}
