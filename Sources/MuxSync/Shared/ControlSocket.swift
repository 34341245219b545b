#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import MuxTransport

// MARK: - Where shared sessions listen, and who may connect

/// The Unix sockets of shared sessions: one per user@host:port, in a directory
/// only the user can enter ($XDG_RUNTIME_DIR/muxsync, else /tmp/muxsync-UID,
/// created 0700 and checked: owned by us, no group/other access).
public enum ControlSocket {
    public static func directory() throws -> String {
        // getenv, not ProcessInfo.environment: that copies the whole environment into a
        // dictionary, which `muxsync exec` pays for on every start.
        if let value = getenv("XDG_RUNTIME_DIR"), case let runtime = String(cString: value), runtime.hasPrefix("/"),
           access(runtime, W_OK) == 0 {
            return try checkedDirectory(runtime + "/muxsync")
        }
        return try checkedDirectory("/tmp/muxsync-\(getuid())")
    }

    /// Creates `base` 0700 if missing; refuses it unless it is a directory we
    /// own that nobody else can enter.
    public static func checkedDirectory(_ base: String) throws -> String {
        if mkdir(base, 0o700) != 0 && errno != EEXIST {
            throw ControlError.unsafeDirectory(base, String(cString: strerror(errno)))
        }
        var st = stat()
        guard lstat(base, &st) == 0 else { throw ControlError.unsafeDirectory(base, String(cString: strerror(errno))) }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { throw ControlError.unsafeDirectory(base, "not a directory") }
        guard st.st_uid == getuid() else { throw ControlError.unsafeDirectory(base, "owned by uid \(st.st_uid), not by us") }
        guard st.st_mode & 0o077 == 0 else {
            throw ControlError.unsafeDirectory(base, "others can enter it (mode \(String(st.st_mode & 0o777, radix: 8))); chmod 700 it")
        }
        return base
    }

    /// The socket of the session found by `key` (`SSHTarget.sharingKey`).
    public static func path(for key: String) throws -> String {
        try directory() + "/" + SyncStateStore.key(key) + ".sock"
    }

    /// Every socket in the directory (for `muxsync status`).
    public static func all() throws -> [String] {
        let folder = try directory()
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
            .filter { $0.hasSuffix(".sock") }.sorted().map { folder + "/" + $0 }
    }

    // MARK: Socket calls

    static func address(_ path: String) -> sockaddr_un? {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return address
    }

    /// Connects; nil when nobody listens (a stale socket is removed).
    public static func connect(_ path: String) -> Int32? {
        let first = attempt(path)
        if let fd = first.fd { return fd }
        guard first.refused else { return nil }
        // Nobody listens there: its owner crashed. Decide under the lock listeners bind under,
        // so a socket a new owner has just put in place is never the one removed.
        return underDirectoryLock(path) {
            let again = attempt(path)
            if again.refused { unlink(path) }
            return again.fd
        }
    }

    /// Listens at `path`, replacing a stale socket; refuses if a live one is there.
    /// Processes racing for the same socket (two commands that both started a background
    /// session) take turns under a lock on its directory: the first binds, the rest see it
    /// live. The socket is bound and listening under a temporary name before it is renamed
    /// to `path`, so a client never finds it there not yet listening (and takes it for stale).
    public static func listen(_ path: String) throws -> Int32? {
        try underDirectoryLock(path) { () throws -> Int32? in
            let existing = attempt(path)
            if let live = existing.fd {
                close(live)
                return nil  // another process already shares this session
            }
            // (A staging name too long for sun_path: bind in place, as a last resort.)
            let staging = address(path + ".\(getpid()).new") == nil ? path : path + ".\(getpid()).new"
            unlink(staging)
            guard let address = address(staging) else { return nil }
            let fd = unixSocket()
            guard fd >= 0 else { throw LocalIOError(path: path, operation: "create socket", errno: errno) }
            let previous = umask(0o077)
            defer { umask(previous) }
            let rc = call(with: address) { bind(fd, $0, $1) }
            guard rc == 0, systemListen(fd, 16) == 0, staging == path || rename(staging, path) == 0 else {
                let code = errno
                close(fd)
                unlink(staging)
                throw LocalIOError(path: path, operation: "listen on", errno: code)
            }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            return fd
        }
    }

    /// One connect: the descriptor, or whether the path exists with nobody listening.
    private static func attempt(_ path: String) -> (fd: Int32?, refused: Bool) {
        guard let address = address(path) else { return (nil, false) }
        let fd = unixSocket()
        guard fd >= 0 else { return (nil, false) }
        let rc = call(with: address) { systemConnect(fd, $0, $1) }
        if rc != 0 {
            let code = errno
            close(fd)
            return (nil, code == ECONNREFUSED)
        }
        return (fd, false)
    }

    /// A new Unix stream socket (-1 with errno set on failure).
    private static func unixSocket() -> Int32 {
        #if canImport(Glibc)
        socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #else
        socket(AF_UNIX, SOCK_STREAM, 0)
        #endif
    }

    /// Calls bind or connect with `address` as the generic sockaddr they take.
    private static func call(with address: sockaddr_un, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
        var address = address
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }

    /// Runs `body` holding an exclusive lock on the directory of `path` (released on return).
    private static func underDirectoryLock<T>(_ path: String, _ body: () throws -> T) rethrows -> T {
        let folder = open(path.lastIndex(of: "/").map { String(path[..<$0]) } ?? ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folder >= 0 {
            while flock(folder, LOCK_EX) != 0 && errno == EINTR {}
        }
        defer { if folder >= 0 { close(folder) } }  // closing releases the lock
        return try body()
    }

    /// The uid of the process at the other end of a Unix socket.
    public static func peerUID(_ fd: Int32) -> UInt32? {
        #if canImport(Glibc)
        var credentials = (pid: Int32(0), uid: UInt32(0), gid: UInt32(0))
        var length = socklen_t(MemoryLayout.size(ofValue: credentials))
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0 else { return nil }
        return credentials.uid
        #else
        var uid = uid_t(0), gid = gid_t(0)
        guard getpeereid(fd, &uid, &gid) == 0 else { return nil }
        return uid
        #endif
    }
}

#if canImport(Glibc)
private func systemConnect(_ fd: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> Int32 {
    Glibc.connect(fd, address, length)
}
private func systemListen(_ fd: Int32, _ backlog: Int32) -> Int32 { Glibc.listen(fd, backlog) }
#else
private func systemConnect(_ fd: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> Int32 {
    Darwin.connect(fd, address, length)
}
private func systemListen(_ fd: Int32, _ backlog: Int32) -> Int32 { Darwin.listen(fd, backlog) }
#endif
