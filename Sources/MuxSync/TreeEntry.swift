// TreeEntry: one file-system object of a synced tree, local or remote.
//
// Paths are compared BYTE-EXACTLY. Swift's `String ==` uses canonical equivalence, so
// "é" (NFC, U+00E9) and "e\u{301}" (NFD) compare equal as Strings although they are two
// different names on disk. Everything here that compares or hashes paths goes through
// their UTF-8 bytes instead, so both spellings survive side by side.

// MARK: - TreeEntry

/// One entry of a tree: a regular file, a directory, a symbolic link or a special file
/// (FIFO, socket, device), described by what `lstat` reports.
public struct TreeEntry: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// What kind of object an entry is.
    public enum Kind: Sendable, Equatable, Hashable, CustomStringConvertible {
        /// A regular file.
        case file
        /// A directory.
        case directory
        /// A symbolic link with its target exactly as `readlink` returned it (never followed).
        case symlink(target: String)
        /// Something that cannot be synced: the associated text names it ("FIFO", "socket",
        /// "character device", "block device", "unknown file type").
        case special(String)

        /// A short human name: "file", "directory", "symlink" or the special kind's name.
        public var description: String {
            switch self {
            case .file: return "file"
            case .directory: return "directory"
            case .symlink: return "symlink"
            case .special(let what): return what
            }
        }

        /// Whether two kinds are the same sort of object, ignoring a symlink's target.
        public func isSameSort(as other: Kind) -> Bool {
            switch (self, other) {
            case (.file, .file), (.directory, .directory), (.symlink, .symlink), (.special, .special):
                return true
            default:
                return false
            }
        }

        public static func == (lhs: Kind, rhs: Kind) -> Bool {
            switch (lhs, rhs) {
            case (.file, .file), (.directory, .directory): return true
            case let (.symlink(a), .symlink(b)): return a.utf8.elementsEqual(b.utf8)
            case let (.special(a), .special(b)): return a.utf8.elementsEqual(b.utf8)
            default: return false
            }
        }

        public func hash(into hasher: inout Hasher) {
            switch self {
            case .file: hasher.combine(0)
            case .directory: hasher.combine(1)
            case .symlink(let target): hasher.combine(2); ByteExact.hash(target, into: &hasher)
            case .special(let what): hasher.combine(3); ByteExact.hash(what, into: &hasher)
            }
        }
    }

    /// Path relative to the tree's root: "/"-separated, no leading "./", never empty.
    public var path: String
    /// The kind of object.
    public var kind: Kind
    /// Size in bytes (0 for directories and special files; the target length for symlinks
    /// as `lstat` reports it).
    public var size: UInt64
    /// Modification time, whole seconds since the epoch.
    public var mtime: Int64
    /// The sub-second part of the modification time (0 when the source has none, e.g. SFTP v3).
    public var mtimeNanoseconds: Int32
    /// Permission bits (`mode & 0o7777`).
    public var permissions: UInt32

    /// Creates an entry. `permissions` is masked to 0o7777.
    public init(path: String, kind: Kind, size: UInt64 = 0, mtime: Int64 = 0,
                mtimeNanoseconds: Int32 = 0, permissions: UInt32 = 0o644) {
        self.path = path
        self.kind = kind
        self.size = size
        self.mtime = mtime
        self.mtimeNanoseconds = mtimeNanoseconds
        self.permissions = permissions & 0o7777
    }

    // MARK: Derived properties

    /// The last path component.
    public var name: String {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return path }
        return String(path[path.utf8.index(after: slash)...])
    }

    /// The parent's relative path, "" for a top-level entry.
    public var parentPath: String { ByteExact.parent(of: path) }

    /// Number of components minus one: 0 for a top-level entry.
    public var depth: Int { path.utf8.reduce(0) { $0 + ($1 == UInt8(ascii: "/") ? 1 : 0) } }

    /// Whether this is a regular file.
    public var isFile: Bool { kind == .file }
    /// Whether this is a directory.
    public var isDirectory: Bool { kind == .directory }
    /// Whether this is a symbolic link.
    public var isSymlink: Bool { if case .symlink = kind { return true } else { return false } }
    /// Whether this is a FIFO, socket, device or other object that is never transferred.
    public var isSpecial: Bool { if case .special = kind { return true } else { return false } }

    /// The symlink target, nil for other kinds.
    public var symlinkTarget: String? {
        if case .symlink(let target) = kind { return target } else { return nil }
    }

    /// "kind path", e.g. "directory src/lib".
    public var description: String { "\(kind) \(path)" }

    // MARK: Byte-exact equality

    public static func == (lhs: TreeEntry, rhs: TreeEntry) -> Bool {
        lhs.size == rhs.size && lhs.mtime == rhs.mtime && lhs.mtimeNanoseconds == rhs.mtimeNanoseconds
            && lhs.permissions == rhs.permissions && lhs.kind == rhs.kind
            && lhs.path.utf8.elementsEqual(rhs.path.utf8)
    }

    public func hash(into hasher: inout Hasher) {
        ByteExact.hash(path, into: &hasher)
        hasher.combine(kind)
        hasher.combine(size)
        hasher.combine(mtime)
        hasher.combine(mtimeNanoseconds)
        hasher.combine(permissions)
    }
}

// MARK: - Byte-exact path helpers

/// Byte-exact path comparison, hashing and ordering (no Unicode normalization).
public enum ByteExact {
    /// Whether two strings have identical UTF-8 bytes.
    @inlinable
    public static func equal(_ a: String, _ b: String) -> Bool { a.utf8.elementsEqual(b.utf8) }

    /// Feeds the UTF-8 bytes of `s` into `hasher`.
    public static func hash(_ s: String, into hasher: inout Hasher) {
        var copy = s
        copy.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        hasher.combine(s.utf8.count)
    }

    /// Tree order: byte order in which "/" sorts before every other byte, so that a
    /// directory comes right before its contents and a subtree is contiguous
    /// ("a", "a/x", "a b" rather than "a", "a b", "a/x").
    public static func treeOrderLess(_ a: String, _ b: String) -> Bool {
        var ia = a.utf8.makeIterator()
        var ib = b.utf8.makeIterator()
        while true {
            switch (ia.next(), ib.next()) {
            case (nil, nil): return false
            case (nil, _): return true
            case (_, nil): return false
            case let (x?, y?):
                if x == y { continue }
                let kx = x == UInt8(ascii: "/") ? 0 : Int(x) + 1
                let ky = y == UInt8(ascii: "/") ? 0 : Int(y) + 1
                return kx < ky
            }
        }
    }

    /// The parent of a relative path, "" for a top-level one.
    public static func parent(of path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return "" }
        return String(path[..<slash])
    }

    /// Whether `path` lies strictly inside directory `ancestor` ("" is the root, which
    /// contains everything).
    public static func isStrictlyInside(_ path: String, _ ancestor: String) -> Bool {
        if ancestor.isEmpty { return !path.isEmpty }
        let p = path.utf8, a = ancestor.utf8
        guard p.count > a.count, p.starts(with: a) else { return false }
        return p[p.index(p.startIndex, offsetBy: a.count)] == UInt8(ascii: "/")
    }

    /// Whether `path` equals `other` or lies inside it.
    public static func isSameOrInside(_ path: String, _ other: String) -> Bool {
        equal(path, other) || isStrictlyInside(path, other)
    }

    /// Joins a relative parent and a name ("" parent gives the name itself).
    public static func join(_ parent: String, _ name: String) -> String {
        parent.isEmpty ? name : parent + "/" + name
    }
}

/// A `String` wrapper whose equality and hash are byte-exact, for dictionary keys and sets.
public struct BytePath: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The wrapped path.
    public let string: String
    /// Wraps `string`.
    public init(_ string: String) { self.string = string }
    public static func == (lhs: BytePath, rhs: BytePath) -> Bool { ByteExact.equal(lhs.string, rhs.string) }
    public func hash(into hasher: inout Hasher) { ByteExact.hash(string, into: &hasher) }
    /// Tree order (see ``ByteExact/treeOrderLess(_:_:)``).
    public static func < (lhs: BytePath, rhs: BytePath) -> Bool { ByteExact.treeOrderLess(lhs.string, rhs.string) }
    public var description: String { string }
}
