import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - LabSocket

/// Small IPv4 TCP helpers over the C socket API, shared by the sshd harness (port probing) and
/// the delaying proxy. Every descriptor is created close-on-exec so that programs the harness
/// spawns never inherit a proxy connection or a listener.
public enum LabSocket {
    // MARK: Constants

    #if canImport(Glibc)
    static let streamType = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
    /// Flags for `send`: no SIGPIPE on a closed peer.
    static let sendFlags = Int32(MSG_NOSIGNAL)
    #else
    static let streamType = SOCK_STREAM
    static let sendFlags: Int32 = 0
    #endif

    // MARK: Creating sockets

    /// A new TCP socket, close-on-exec (and without SIGPIPE on Darwin).
    static func tcpSocket() throws -> Int32 {
        let fd = socket(AF_INET, streamType, 0)
        guard fd >= 0 else { throw LabError.socket(operation: "socket()", errno: errno) }
        #if canImport(Darwin)
        setCloseOnExec(fd)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size))
        #endif
        return fd
    }

    /// An IPv4 address for `host` (dotted quad) and `port`.
    static func address(host: String, port: UInt16) throws -> sockaddr_in {
        var addr = sockaddr_in()
        #if canImport(Darwin)
        addr.sin_len = UInt8(MemoryLayout<sockaddr_in>.size)
        #endif
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else {
            throw LabError.invalidArgument("\(host) is not an IPv4 address (use a dotted quad such as 127.0.0.1)")
        }
        return addr
    }

    /// A listening socket bound to `host:port` (port 0 lets the kernel choose).
    /// - Returns: the descriptor (blocking, close-on-exec, SO_REUSEADDR).
    public static func listen(host: String = "127.0.0.1", port: UInt16 = 0, backlog: Int32 = 128) throws -> Int32 {
        let fd = try tcpSocket()
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = try address(host: host, port: port)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else {
            let code = errno
            close(fd)
            throw LabError.socket(operation: "bind(\(host):\(port))", errno: code)
        }
        guard systemListen(fd, backlog) == 0 else {
            let code = errno
            close(fd)
            throw LabError.socket(operation: "listen(\(host):\(port))", errno: code)
        }
        return fd
    }

    /// The local port a socket is bound to.
    public static func localPort(of fd: Int32) throws -> UInt16 {
        var addr = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let result = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard result == 0 else { throw LabError.socket(operation: "getsockname()", errno: errno) }
        return UInt16(bigEndian: addr.sin_port)
    }

    /// A port that was free on `host` a moment ago (bind to port 0, read it, close).
    /// Another process may take it before you do: callers retry on "address in use".
    public static func freePort(host: String = "127.0.0.1") throws -> UInt16 {
        let fd = try listen(host: host, port: 0, backlog: 1)
        defer { close(fd) }
        return try localPort(of: fd)
    }

    /// Connects to `host:port`, waiting at most `timeout` seconds.
    /// - Returns: a connected, blocking, close-on-exec descriptor with TCP_NODELAY set.
    public static func connect(host: String = "127.0.0.1", port: UInt16, timeout: TimeInterval = 5) throws -> Int32 {
        let fd = try tcpSocket()
        setNonBlocking(fd, true)
        var addr = try address(host: host, port: port)
        let result = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                systemConnect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if result != 0 {
            let code = errno
            guard code == EINPROGRESS else {
                close(fd)
                throw LabError.socket(operation: "connect(\(host):\(port))", errno: code)
            }
            let ready = pollOne(fd, events: Int16(POLLOUT), timeoutMilliseconds: Int32(max(1, timeout * 1000)))
            guard ready != 0 else {
                close(fd)
                throw LabError.socket(operation: "connect(\(host):\(port)) within \(timeout) s", errno: ETIMEDOUT)
            }
            var soError: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length)
            guard soError == 0 else {
                close(fd)
                throw LabError.socket(operation: "connect(\(host):\(port))", errno: soError)
            }
        }
        setNonBlocking(fd, false)
        setNoDelay(fd)
        return fd
    }

    /// True when a TCP connection to `host:port` succeeds within `timeout` (it is closed at once).
    public static func canConnect(host: String = "127.0.0.1", port: UInt16, timeout: TimeInterval = 1) -> Bool {
        guard let fd = try? connect(host: host, port: port, timeout: timeout) else { return false }
        close(fd)
        return true
    }

    // MARK: Options

    /// Sets FD_CLOEXEC.
    static func setCloseOnExec(_ fd: Int32) {
        let flags = fcntl(fd, F_GETFD)
        if flags >= 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
    }

    /// Switches O_NONBLOCK on or off.
    static func setNonBlocking(_ fd: Int32, _ on: Bool) {
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0 else { return }
        _ = fcntl(fd, F_SETFL, on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK))
    }

    /// Sets TCP_NODELAY (the proxy must not add Nagle delays of its own).
    static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// SO_LINGER {on, 0}: the next close() sends a RST instead of a FIN.
    static func setResetOnClose(_ fd: Int32) {
        var option = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
    }

    // MARK: Polling and pipes

    /// poll() on one descriptor; returns its revents (0 on timeout). Retries on EINTR.
    static func pollOne(_ fd: Int32, events: Int16, timeoutMilliseconds: Int32) -> Int16 {
        var entry = pollfd(fd: fd, events: events, revents: 0)
        while true {
            let result = poll(&entry, 1, timeoutMilliseconds)
            if result < 0 && errno == EINTR { continue }
            return result > 0 ? entry.revents : 0
        }
    }

    /// A pipe whose ends are both close-on-exec.
    static func makePipe() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw LabError.socket(operation: "pipe()", errno: errno) }
        setCloseOnExec(fds[0])
        setCloseOnExec(fds[1])
        return (fds[0], fds[1])
    }
}

// MARK: - Unqualified C names

// `LabSocket.listen`/`connect` shadow the C functions inside the enum; these forward to them.
@inline(__always)
private func systemListen(_ fd: Int32, _ backlog: Int32) -> Int32 {
    listen(fd, backlog)
}

@inline(__always)
private func systemConnect(_ fd: Int32, _ addr: UnsafePointer<sockaddr>, _ length: socklen_t) -> Int32 {
    connect(fd, addr, length)
}
