// SafePath: validation of remote-provided names before anything is written locally.
//
// A pull writes names that a remote server chose. A hostile or broken server can send
// "../../.bashrc", "/etc/passwd", "a/../../x", a name with a NUL, or plant a symlink
// ("dir -> /etc") and then a file "dir/passwd". Every remote name goes through here:
//
// 1. `validateName` for one directory-listing entry (a single component);
// 2. `join(root:relative:)` for a relative path: rejects absolute paths, "..", ".", empty
//    components and NUL, and only then joins it under root (purely lexical);
// 3. `checkNoSymlinkParents(root:relative:)` at write time: lstat()s each EXISTING parent
//    component under root and refuses a symlink or a non-directory among them, so a
//    symlink created earlier (by this pull or anyone) cannot redirect a write outside root.
//    The last component is not checked: the writer must replace it (write a temporary file
//    and rename over it, which replaces a symlink instead of following it) or open it with
//    O_NOFOLLOW. A race with another local process that swaps a parent for a symlink
//    between the check and the write remains possible; closing it fully would need
//    openat(O_NOFOLLOW) on every component, which callers may add for hostile local setups.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Errors

/// Why a remote-provided name or path was refused.
public enum SafePathError: Error, Sendable, Equatable, CustomStringConvertible {
    /// An empty name where one component is expected.
    case emptyName
    /// "." or ".." where a file name is expected.
    case dotName(String)
    /// A "/" inside a single name.
    case slashInName(String)
    /// A NUL character in a name or path.
    case nulCharacter(String)
    /// An absolute path where a relative one is expected.
    case absolutePath(String)
    /// A ".." component.
    case parentComponent(String)
    /// A "." component.
    case dotComponent(String)
    /// An empty component ("a//b", a leading or trailing "/", or "").
    case emptyComponent(String)
    /// An existing parent component under the root is a symlink.
    case symlinkInPath(path: String, component: String)
    /// An existing parent component under the root is not a directory.
    case notADirectory(path: String, component: String)
    /// A parent component could not be examined.
    case cannotExamine(path: String, reason: String)

    public var description: String {
        let suffix = "; refusing it so that nothing is written outside the local directory"
        switch self {
        case .emptyName: return "remote sent an empty file name" + suffix
        case .dotName(let n): return "remote sent the file name \(Self.quote(n))" + suffix
        case .slashInName(let n): return "remote file name \(Self.quote(n)) contains '/'" + suffix
        case .nulCharacter(let n): return "remote name \(Self.quote(n)) contains a NUL character" + suffix
        case .absolutePath(let p): return "remote path \(Self.quote(p)) is absolute" + suffix
        case .parentComponent(let p): return "remote path \(Self.quote(p)) contains '..'" + suffix
        case .dotComponent(let p): return "remote path \(Self.quote(p)) contains a '.' component" + suffix
        case .emptyComponent(let p): return "remote path \(Self.quote(p)) has an empty component" + suffix
        case let .symlinkInPath(path, component):
            return "local \(component) is a symlink, so writing \(path) could leave the local directory;"
                + " remove or rename the symlink, or pull into another directory"
        case let .notADirectory(path, component):
            return "cannot write \(path): local \(component) exists and is not a directory;"
                + " remove it or pull into another directory"
        case let .cannotExamine(path, reason):
            return "cannot check the local parents of \(path): \(reason)"
        }
    }

    /// A visible rendering: quoted, with control characters escaped.
    static func quote(_ s: String) -> String { s.debugDescription }
}

// MARK: - SafePath

/// Checks for remote-provided names before a local write (see the file comment).
public enum SafePath {
    /// Validates one component of a remote directory listing: not "", ".", "..", and no
    /// "/" or NUL.
    public static func validateName(_ name: String) throws {
        if name.isEmpty { throw SafePathError.emptyName }
        if name.utf8.contains(0) { throw SafePathError.nulCharacter(name) }
        if name.utf8.elementsEqual(".".utf8) || name.utf8.elementsEqual("..".utf8) { throw SafePathError.dotName(name) }
        if name.utf8.contains(UInt8(ascii: "/")) { throw SafePathError.slashInName(name) }
    }

    /// Splits a remote-provided relative path into its components, refusing "", absolute
    /// paths, NUL, and ".", ".." or empty components. The components are byte-exact.
    public static func components(of relative: String) throws -> [String] {
        if relative.utf8.contains(0) { throw SafePathError.nulCharacter(relative) }
        if relative.utf8.first == UInt8(ascii: "/") { throw SafePathError.absolutePath(relative) }
        if relative.isEmpty { throw SafePathError.emptyComponent(relative) }
        let parts = relative.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        var result: [String] = []
        result.reserveCapacity(parts.count)
        for part in parts {
            if part.isEmpty { throw SafePathError.emptyComponent(relative) }
            let name = String(decoding: part, as: UTF8.self)
            if part.elementsEqual("..".utf8) { throw SafePathError.parentComponent(relative) }
            if part.elementsEqual(".".utf8) { throw SafePathError.dotComponent(relative) }
            result.append(name)
        }
        return result
    }

    /// Joins a validated remote-provided relative path under `root` (lexically; see
    /// `checkNoSymlinkParents` for the on-disk check). "root" + "a/b" -> "root/a/b".
    public static func join(root: String, relative: String) throws -> String {
        let parts = try components(of: relative)
        var base = root
        while base.count > 1, base.hasSuffix("/") { base.removeLast() }
        if base.isEmpty { base = "." }
        let tail = parts.joined(separator: "/")
        return base == "/" ? "/" + tail : base + "/" + tail
    }

    /// At write time: lstat()s every parent component of `relative` under `root`, from the
    /// top, and throws when one exists and is a symlink or not a directory. Stops quietly at
    /// the first component that does not exist (the caller creates the rest as real
    /// directories). The last component is not examined (see the file comment). `root`
    /// itself is trusted (the user named it) and may be a symlink.
    public static func checkNoSymlinkParents(root: String, relative: String) throws {
        let parts = try components(of: relative)
        var current = root
        while current.count > 1, current.hasSuffix("/") { current.removeLast() }
        var shown = ""
        for part in parts.dropLast() {
            current = current == "/" ? "/" + part : current + "/" + part
            shown = shown.isEmpty ? part : shown + "/" + part
            var st = stat()
            if lstat(current, &st) != 0 {
                let code = errno
                if code == ENOENT { return }
                let reason = strerror(code).map { String(cString: $0) } ?? "error \(code)"
                throw SafePathError.cannotExamine(path: relative, reason: "\(shown): \(reason)")
            }
            let type = st.st_mode & S_IFMT
            if type == S_IFLNK { throw SafePathError.symlinkInPath(path: relative, component: shown) }
            if type != S_IFDIR { throw SafePathError.notADirectory(path: relative, component: shown) }
        }
    }

    /// `join` followed by `checkNoSymlinkParents`: the local path to write `relative` to.
    public static func checkedJoin(root: String, relative: String) throws -> String {
        let path = try join(root: root, relative: relative)
        try checkNoSymlinkParents(root: root, relative: relative)
        return path
    }
}
