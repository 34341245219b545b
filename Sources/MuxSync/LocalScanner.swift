// LocalScanner: an lstat-based walk of LOCAL_DIR into a Tree.
//
// Uses open(O_DIRECTORY|O_NOFOLLOW) + fdopendir/readdir + fstatat(AT_SYMLINK_NOFOLLOW) +
// readlinkat, relative to each directory's descriptor: one syscall per entry, no
// FileManager, symlinks are recorded and never followed (only the root itself may be a
// symlink to a directory). Names are kept byte-exact; a name that is not valid UTF-8 is
// reported and skipped, because it could not be carried as a Swift String path.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Result and errors

/// What a scan found.
public struct LocalScanResult: Sendable {
    /// The entries below the root (the root itself is not an entry). Directories that could
    /// not be read, and unreadable files, are listed in `tree.protectedPaths`.
    public var tree: Tree
    /// Non-fatal problems, one human-readable line each ("skipping FIFO logs/pipe").
    public var warnings: [String]
    /// Permission bits of the root directory.
    public var rootPermissions: UInt32
    /// Modification time of the root directory, whole seconds.
    public var rootMtime: Int64
}

/// A scan that could not start.
public enum LocalScanError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The root does not exist.
    case rootMissing(String)
    /// The root exists but is not a directory.
    case rootNotADirectory(String)
    /// The root could not be examined or opened.
    case rootUnreadable(String, reason: String)

    public var description: String {
        switch self {
        case .rootMissing(let path):
            return "local directory \(path) does not exist; check the path (it is the LOCAL_DIR argument)"
        case .rootNotADirectory(let path):
            return "local path \(path) is not a directory; push takes a directory as LOCAL_DIR"
        case .rootUnreadable(let path, let reason):
            return "cannot read local directory \(path): \(reason); check its permissions"
        }
    }
}

// MARK: - Scanner

/// Walks a local directory with `lstat` semantics and produces a ``Tree``.
public struct LocalScanner: Sendable {
    /// The directory to scan (may be a symlink to a directory; nothing below it is followed).
    public let root: String
    /// Called with (relative path, isDirectory) for every entry; `true` leaves the entry out
    /// and, for a directory, does not descend into it.
    public let isExcluded: @Sendable (String, Bool) -> Bool

    /// Creates a scanner for `root`.
    public init(root: String, isExcluded: @escaping @Sendable (String, Bool) -> Bool = { _, _ in false }) {
        self.root = root
        self.isExcluded = isExcluded
    }

    /// Scans the tree. Throws ``LocalScanError`` only when the root itself is unusable;
    /// everything below it that cannot be read becomes a warning.
    public func scan() throws -> LocalScanResult {
        let rootPath = LocalScanner.trimmedRoot(root)
        var st = stat()
        if stat(rootPath, &st) != 0 {
            let code = errno
            if code == ENOENT { throw LocalScanError.rootMissing(rootPath) }
            if code == ENOTDIR { throw LocalScanError.rootNotADirectory(rootPath) }
            throw LocalScanError.rootUnreadable(rootPath, reason: LocalScanner.describe(errno: code))
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { throw LocalScanError.rootNotADirectory(rootPath) }

        var walk = Walk(root: rootPath, isExcluded: isExcluded)
        guard let top = walk.list(relative: "", followRoot: true) else {
            throw LocalScanError.rootUnreadable(rootPath, reason: walk.lastError)
        }
        var output: [TreeEntry] = []
        var pending: [TreeEntry] = top.reversed()
        while let entry = pending.popLast() {
            output.append(entry)
            if entry.isDirectory, let children = walk.list(relative: entry.path, followRoot: false) {
                pending.append(contentsOf: children.reversed())
            }
        }
        return LocalScanResult(
            tree: Tree(output, protectedPaths: walk.protected),
            warnings: walk.warnings,
            rootPermissions: UInt32(st.st_mode) & 0o7777,
            rootMtime: Int64(LocalScanner.mtime(of: st).seconds))
    }

    // MARK: Helpers

    static func trimmedRoot(_ path: String) -> String {
        var p = path
        while p.count > 1, p.hasSuffix("/") { p.removeLast() }
        return p.isEmpty ? "." : p
    }

    static func describe(errno code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return String(cString: text)
    }

    static func mtime(of st: stat) -> (seconds: Int64, nanoseconds: Int32) {
        #if canImport(Darwin)
        return (Int64(st.st_mtimespec.tv_sec), Int32(st.st_mtimespec.tv_nsec))
        #else
        return (Int64(st.st_mtim.tv_sec), Int32(st.st_mtim.tv_nsec))
        #endif
    }

    static func specialName(mode: mode_t) -> String? {
        switch mode & S_IFMT {
        case S_IFREG, S_IFDIR, S_IFLNK: return nil
        case S_IFIFO: return "FIFO"
        case S_IFSOCK: return "socket"
        case S_IFCHR: return "character device"
        case S_IFBLK: return "block device"
        default: return "unknown file type"
        }
    }

    /// Decodes `bytes` as UTF-8 without repairing or normalizing; nil when invalid.
    static func exactString(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        let s = String(decoding: bytes, as: UTF8.self)
        return s.utf8.elementsEqual(bytes) ? s : nil
    }

    /// A printable rendering of a byte string that is not valid UTF-8 ("caf\xE9").
    static func escaped(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        var out = ""
        for b in bytes {
            if b >= 0x20 && b < 0x7F && b != UInt8(ascii: "\\") {
                out.unicodeScalars.append(Unicode.Scalar(b))
            } else {
                let hex = String(b, radix: 16, uppercase: true)
                out += "\\x" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }
}

// MARK: - Walk state

/// Mutable state of one scan: lists one directory at a time, holding no descriptor between
/// calls, so depth is not limited by open files.
private struct Walk {
    let root: String
    let isExcluded: @Sendable (String, Bool) -> Bool
    let checkReadable: Bool = geteuid() != 0
    var warnings: [String] = []
    var protected: [String] = []
    var lastError = ""

    init(root: String, isExcluded: @escaping @Sendable (String, Bool) -> Bool) {
        self.root = root
        self.isExcluded = isExcluded
    }

    /// The sorted, filtered children of directory `relative`, or nil (with a warning and the
    /// directory marked protected) when it cannot be opened.
    mutating func list(relative: String, followRoot: Bool) -> [TreeEntry]? {
        let full = relative.isEmpty ? root : (root == "/" ? "/" + relative : root + "/" + relative)
        var flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC
        if !followRoot { flags |= O_NOFOLLOW }
        let fd = open(full, flags)
        guard fd >= 0 else { return failDirectory(relative, code: errno) }
        guard let dir = fdopendir(fd) else {
            let code = errno
            close(fd)
            return failDirectory(relative, code: code)
        }
        defer { closedir(dir) }

        var children: [TreeEntry] = []
        while true {
            errno = 0
            guard let ent = readdir(dir) else {
                if errno != 0 {
                    warnings.append("error while reading directory \(display(relative)): "
                        + LocalScanner.describe(errno: errno) + "; some entries may be missing")
                    protected.append(relative)
                }
                break
            }
            withUnsafePointer(to: &ent.pointee.d_name) { raw in
                let cName = UnsafeRawPointer(raw).assumingMemoryBound(to: CChar.self)
                let length = strlen(cName)
                let bytes = UnsafeBufferPointer(
                    start: UnsafeRawPointer(raw).assumingMemoryBound(to: UInt8.self), count: length)
                if length == 1 && bytes[0] == UInt8(ascii: ".") { return }
                if length == 2 && bytes[0] == UInt8(ascii: ".") && bytes[1] == UInt8(ascii: ".") { return }
                if let entry = examine(dirFD: dirfd(dir), cName: cName, bytes: bytes, parent: relative) {
                    children.append(entry)
                }
            }
        }
        children.sort { ByteExact.treeOrderLess($0.path, $1.path) }
        return children
    }

    private mutating func failDirectory(_ relative: String, code: Int32) -> [TreeEntry]? {
        lastError = LocalScanner.describe(errno: code)
        if !relative.isEmpty {
            warnings.append("cannot read directory \(relative): \(lastError); its contents are skipped"
                + " and nothing below it is deleted on the destination")
            protected.append(relative)
        }
        return nil
    }

    private func display(_ relative: String) -> String { relative.isEmpty ? root : relative }

    /// One directory entry, or nil when it is excluded, vanished or unusable.
    private mutating func examine(dirFD: Int32, cName: UnsafePointer<CChar>,
                                  bytes: UnsafeBufferPointer<UInt8>, parent: String) -> TreeEntry? {
        guard let name = LocalScanner.exactString(bytes) else {
            warnings.append("skipping \(display(parent))/\(LocalScanner.escaped(bytes)): "
                + "name is not valid UTF-8; rename it to sync it")
            return nil
        }
        let path = ByteExact.join(parent, name)
        var st = stat()
        guard fstatat(dirFD, cName, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
            let code = errno
            if code != ENOENT {
                warnings.append("cannot examine \(path): \(LocalScanner.describe(errno: code)); skipped")
                protected.append(path)
            }
            return nil
        }
        let type = st.st_mode & S_IFMT
        if isExcluded(path, type == S_IFDIR) { return nil }
        let time = LocalScanner.mtime(of: st)
        var entry = TreeEntry(path: path, kind: .file, size: UInt64(max(0, st.st_size)),
                              mtime: time.seconds, mtimeNanoseconds: time.nanoseconds,
                              permissions: UInt32(st.st_mode) & 0o7777)
        switch type {
        case S_IFREG:
            if checkReadable && faccessat(dirFD, cName, R_OK, AT_EACCESS) != 0 {
                warnings.append("cannot read file \(path): \(LocalScanner.describe(errno: errno)); skipped")
                protected.append(path)
                return nil
            }
        case S_IFDIR:
            entry.kind = .directory
            entry.size = 0
        case S_IFLNK:
            guard let target = readLink(dirFD: dirFD, cName: cName, path: path, hint: Int(st.st_size)) else {
                return nil
            }
            entry.kind = .symlink(target: target)
        default:
            let what = LocalScanner.specialName(mode: st.st_mode) ?? "unknown file type"
            warnings.append("skipping \(what) \(path)")
            entry.kind = .special(what)
            entry.size = 0
        }
        return entry
    }

    private mutating func readLink(dirFD: Int32, cName: UnsafePointer<CChar>, path: String, hint: Int) -> String? {
        var capacity = max(hint + 1, 256)
        while true {
            var buffer = [UInt8](repeating: 0, count: capacity)
            let n = buffer.withUnsafeMutableBufferPointer { buf in
                buf.baseAddress.map { base in
                    readlinkat(dirFD, cName, UnsafeMutableRawPointer(base).assumingMemoryBound(to: CChar.self),
                               capacity)
                } ?? -1
            }
            if n < 0 {
                warnings.append("cannot read symlink \(path): \(LocalScanner.describe(errno: errno)); skipped")
                protected.append(path)
                return nil
            }
            if n < capacity {
                let target = buffer.withUnsafeBufferPointer {
                    LocalScanner.exactString(UnsafeBufferPointer(rebasing: $0[0..<n]))
                }
                if target == nil {
                    warnings.append("skipping symlink \(path): its target is not valid UTF-8")
                }
                return target
            }
            capacity *= 2
        }
    }
}
