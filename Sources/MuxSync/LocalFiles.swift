#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import MuxSSHConfig
import MuxTransport

// MARK: - Local file-system helpers for pull

enum LocalDirectories {
    /// mkdir -p; fails when a component exists and is not a directory.
    static func make(_ path: String) throws {
        if let kind = PlainFile.kind(of: path) {
            guard kind == .directory else { throw SyncError.localNotADirectory(path) }
            return
        }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
}

enum LocalLinks {
    /// Creates (or re-points) a local symlink for a remote one, atomically.
    /// The link is never followed; its parents are checked for symlinks.
    static func place(_ entry: TreeEntry, under root: String) throws {
        guard case .symlink(let target) = entry.kind else { return }
        let path = try SafePath.checkedJoin(root: root, relative: entry.path)
        if let existing = try? FileManager.default.destinationOfSymbolicLink(atPath: path), existing == target { return }
        let temporary = RemotePath.join(ByteExact.parent(of: path), TemporaryName.upload(for: RemotePath.name(path)))
        guard symlink(target, temporary) == 0 else { throw LocalIOError(path: path, operation: "create symlink", errno: errno) }
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw LocalIOError(path: path, operation: "place symlink", errno: code)
        }
    }

    static func setMtime(_ path: String, _ mtime: Int64) {
        var times = [timespec(tv_sec: time_t(mtime), tv_nsec: 0), timespec(tv_sec: time_t(mtime), tv_nsec: 0)]
        _ = utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW)
    }

    /// Removes partial downloads of older versions of the files about to be fetched
    /// into `directory` (`current`: each file's name -> the partial name of the version
    /// to fetch, kept). One listing per directory: a listing per file made a pull
    /// quadratic in the size of its directories.
    static func removeStalePartials(in directory: String, keeping current: [(name: String, partial: String)]) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        let partials = names.filter { TemporaryName.isTemporary($0) && !$0.hasSuffix(TemporaryName.uploadSuffix) }
        guard !partials.isEmpty else { return }
        for (name, keep) in current {
            for candidate in partials where TemporaryName.isPartial(candidate, of: name)
                && !ByteExact.equal(candidate, keep) && !ByteExact.equal(candidate, keep + TemporaryName.offsetSuffix) {
                unlink(RemotePath.join(directory, candidate))
            }
        }
    }
}

// MARK: - Where a partial download may resume

/// A side file holding the length of the complete, durable prefix of a
/// partial download. It is advanced at most every 32 MiB, after an fdatasync
/// of the data, so it never claims bytes that a crash could lose.
final class ResumeMarker: @unchecked Sendable {
    private let path: String
    private let fd: Int32
    private let state = Locked((durable: UInt64(0), pending: UInt64(0)))
    private static let step: UInt64 = 32 << 20

    init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
        let start = Self.load(path)
        state.withLock { $0 = (start, start) }
    }

    /// The offset to resume from (0 when there is no valid marker).
    func read() -> UInt64 { state.withLock { $0.durable } }

    func advance(to offset: UInt64) {
        let due = state.withLock { s -> Bool in
            s.pending = max(s.pending, offset)
            return s.pending >= s.durable + Self.step
        }
        if due { flush() }
    }

    /// Makes the data durable, then records the prefix. `final`: the download has stopped
    /// (no write is in flight), so on a full disk the partial may be cut back to make room
    /// for the marker: first what lies past the prefix (fetched again anyway), then, if
    /// that frees nothing, up to 64 KiB of the prefix itself.
    func flush(final: Bool = false) {
        let (target, durable) = state.withLock { ($0.pending, $0.durable) }
        guard target > durable else { return }
        #if canImport(Darwin)
        guard fsync(fd) == 0 else { return }
        #else
        guard fdatasync(fd) == 0 else { return }
        #endif
        var recorded = target
        var failure = store(recorded)
        if failure != 0 && final && LocalSpace.isFull(failure) && ftruncate(fd, off_t(recorded)) == 0 {
            failure = store(recorded)
            if failure != 0 && LocalSpace.isFull(failure) {
                recorded = max(durable, (recorded - min(recorded, 64 << 10)) & ~4095)
                guard recorded > durable, ftruncate(fd, off_t(recorded)) == 0 else { return }
                failure = store(recorded)
            }
        }
        guard failure == 0 else { return }
        state.withLock { $0.durable = max($0.durable, recorded) }
    }

    /// Writes "OFFSET CHECK" to a temporary beside the marker and renames it over;
    /// returns 0 or the errno of the step that failed.
    private func store(_ offset: UInt64) -> Int32 {
        let bytes = Array("\(offset) \(offset ^ 0x6d75_7873_796e_6321)\n".utf8)
        let temporary = path + ".new"
        let out = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard out >= 0 else { return errno }
        let written = bytes.withUnsafeBytes { write(out, $0.baseAddress, $0.count) }
        let writeError = written == bytes.count ? 0 : (written < 0 ? errno : ENOSPC)
        close(out)
        if writeError == 0 && rename(temporary, path) == 0 { return 0 }
        let failure = writeError != 0 ? writeError : errno
        unlink(temporary)
        return failure
    }

    func remove() { unlink(path) }

    /// "OFFSET CHECK": the check guards against a torn or foreign file.
    private static func load(_ path: String) -> UInt64 {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return 0 }
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard fields.count == 2, let offset = UInt64(fields[0]), let check = UInt64(fields[1]),
              check == offset ^ 0x6d75_7873_796e_6321 else { return 0 }
        return offset
    }
}

// MARK: - Reading inside the tree, never through a symlink

/// An entry of the local tree, reached from the root one directory at a time without
/// following a symlink on the way: a path below a symlinked directory is not in the tree
/// (the link is synced as a link), so nothing outside the tree is ever read. Used by watch,
/// whose events may name paths whose parents have since been replaced by links.
struct LocalTreeStat: Sendable, Equatable {
    enum Kind: Sendable, Equatable { case file, directory, symlink, special }

    let kind: Kind
    let attributes: LocalStat

    /// The entry at `relative` under `root`; nil when it is absent or lies below something
    /// that is not a real directory (a symlink, a file).
    /// - Throws: ``LocalIOError`` when a directory on the way cannot be searched.
    static func of(root: String, relative: String) throws -> LocalTreeStat? {
        try inParent(root: root, relative: relative) { directory, name in
            var st = systemStat()
            guard fstatat(directory, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
                if Self.meansAbsent(errno) { return nil }
                throw LocalIOError(path: RemotePath.join(root, relative), operation: "stat", errno: errno)
            }
            let type = UInt32(st.st_mode) & UInt32(S_IFMT)
            let kind: Kind = type == UInt32(S_IFREG) ? .file : type == UInt32(S_IFDIR) ? .directory
                : type == UInt32(S_IFLNK) ? .symlink : .special
            return LocalTreeStat(kind: kind, attributes: LocalStat(st))
        }
    }

    /// The target of the symlink at `relative`, reached the same way; nil when there is none.
    static func linkTarget(root: String, relative: String) -> String? {
        (try? inParent(root: root, relative: relative) { directory, name -> String? in
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let count = readlinkat(directory, name, &buffer, buffer.count - 1)
            guard count >= 0 else { return nil }
            return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }) ?? nil
    }

    /// Opens the file at `relative` read-only, reached the same way (the file itself is
    /// not followed either).
    /// - Throws: ``LocalIOError`` naming the path when it cannot be opened.
    static func open(root: String, relative: String) throws -> Int32 {
        let fd = try inParent(root: root, relative: relative) { directory, name -> Int32? in
            let fd = openat(directory, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            return fd >= 0 ? fd : nil
        }
        guard let fd else {
            let code = errno == 0 ? ENOENT : errno
            throw LocalIOError(path: RemotePath.join(root, relative), operation: "open", errno: code)
        }
        return fd
    }

    /// Runs `body` with a descriptor of the parent directory of `relative` and its last
    /// component; nil when a component on the way is missing or not a real directory.
    private static func inParent<T>(root: String, relative: String,
                                    _ body: (Int32, String) throws -> T?) throws -> T? {
        var components = relative.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard let name = components.popLast() else { return nil }
        #if os(Linux)
        let searchOnly: Int32 = 0o10000000  // O_PATH (not exported to Swift): no read permission needed
        #else
        let searchOnly = O_RDONLY
        #endif
        var directory = systemOpen(root, searchOnly | O_DIRECTORY | O_CLOEXEC)
        guard directory >= 0 else {
            if meansAbsent(errno) { return nil }
            throw LocalIOError(path: root, operation: "open", errno: errno)
        }
        for component in components {
            let next = openat(directory, component, searchOnly | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            let code = errno
            close(directory)
            guard next >= 0 else {
                if meansAbsent(code) { return nil }
                throw LocalIOError(path: RemotePath.join(root, relative), operation: "open a directory of", errno: code)
            }
            directory = next
        }
        defer { close(directory) }
        errno = 0
        return try body(directory, name)
    }

    /// Missing, or not a directory where one was needed (ELOOP: a symlink met with O_NOFOLLOW).
    private static func meansAbsent(_ code: Int32) -> Bool {
        code == ENOENT || code == ENOTDIR || code == ELOOP
    }
}

/// An empty stat(2) buffer, named apart from ``LocalTreeStat/attributes``.
private func systemStat() -> stat { stat() }

/// open(2), named apart from ``LocalTreeStat/open(root:relative:)``.
private func systemOpen(_ path: String, _ flags: Int32) -> Int32 {
    #if canImport(Glibc)
    Glibc.open(path, flags)
    #else
    Darwin.open(path, flags)
    #endif
}
