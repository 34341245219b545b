#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

// MARK: - TCP connect with a timeout

/// Opens TCP connections for the session: every address of the host in turn,
/// each bounded by the connect timeout, TCP_NODELAY on (saves are small writes
/// whose latency matters more than coalescing).
enum TCPSocket {
    /// Connects to `host`:`port`; returns a connected, non-blocking socket.
    static func connect(host: String, port: Int, timeout: Duration) throws(TransportError) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            let reason = String(cString: gai_strerror(rc))
            throw TransportError(.resolve, "cannot resolve '\(host)': \(reason)",
                                 hint: "check HostName in your ssh config or the host in the destination")
        }
        defer { freeaddrinfo(first) }

        var lastError = "no address"
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let ai = cursor {
            cursor = ai.pointee.ai_next
            let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype, ai.pointee.ai_protocol)
            if fd < 0 { lastError = String(cString: strerror(errno)); continue }
            do {
                try connectOne(fd: fd, address: ai.pointee.ai_addr, length: ai.pointee.ai_addrlen, timeout: timeout)
                try configure(fd: fd)
                return fd
            } catch {
                lastError = error.message
                close(fd)
            }
        }
        throw TransportError(.connect, lastError,
                             hint: "is sshd running and reachable on port \(port)? (ConnectTimeout bounds the wait)")
    }

    private static func connectOne(fd: Int32, address: UnsafeMutablePointer<sockaddr>?, length: socklen_t,
                                   timeout: Duration) throws(TransportError) {
        setNonBlocking(fd)
        if systemConnect(fd, address, length) == 0 { return }
        guard errno == EINPROGRESS else { throw TransportError(.connect, String(cString: strerror(errno))) }
        var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        let ms = Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        var ready: Int32
        repeat { ready = poll(&pfd, 1, ms) } while ready < 0 && errno == EINTR
        if ready == 0 { throw TransportError(.connect, "timed out after \(timeout)") }
        var soError: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &len)
        if soError != 0 { throw TransportError(.connect, String(cString: strerror(soError))) }
    }

    private static func configure(fd: Int32) throws(TransportError) {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        #if canImport(Darwin)
        setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size))
        #endif
    }

    static func setNonBlocking(_ fd: Int32) {
        let flags = fcntl(fd, F_GETFL, 0)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
    }
}

#if canImport(Glibc)
@inline(__always)
private func systemConnect(_ fd: Int32, _ addr: UnsafePointer<sockaddr>?, _ len: socklen_t) -> Int32 {
    Glibc.connect(fd, addr, len)
}
#else
@inline(__always)
private func systemConnect(_ fd: Int32, _ addr: UnsafePointer<sockaddr>?, _ len: socklen_t) -> Int32 {
    Darwin.connect(fd, addr, len)
}
#endif
