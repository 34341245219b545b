#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CLibSSH2

// MARK: - Bytes on the wire

/// What crossed the TCP connection, as counted under libssh2 (encrypted,
/// framing included): the honest "bytes on the wire" figure.
public struct WireStats: Sendable, Equatable {
    public var bytesSent: UInt64 = 0
    public var bytesReceived: UInt64 = 0
    public init() {}
}

/// Counts socket traffic from libssh2's send/recv callbacks. The callbacks run
/// on the session thread only; `publish()` makes a snapshot visible to others.
final class WireCounters: @unchecked Sendable {
    let socket: Int32
    private(set) var sent: UInt64 = 0
    private(set) var received: UInt64 = 0
    private(set) var lastReceive = ContinuousClock.now
    private let snapshot = Locked(WireStats())

    init(socket: Int32) { self.socket = socket }

    var stats: WireStats { snapshot.withLock { $0 } }

    func publish() {
        let s = sent, r = received
        snapshot.withLock { $0.bytesSent = s; $0.bytesReceived = r }
    }

    fileprivate func didSend(_ n: Int) { sent &+= UInt64(n) }
    fileprivate func didReceive(_ n: Int) {
        received &+= UInt64(n)
        lastReceive = .now
    }

    /// Installs the counting callbacks on `session`, whose abstract pointer
    /// must be this object (see `muxsync_session_init`).
    func install(on session: OpaquePointer) {
        muxsync_set_io_callbacks(session, wireSend, wireReceive)
    }
}

// libssh2 convention: return the byte count, or -errno (-EAGAIN when it would block).
private let wireSend: muxsync_send_fn = { socket, buffer, length, flags, abstract in
    #if canImport(Darwin)
    let n = send(socket, buffer, length, flags)
    #else
    let n = send(socket, buffer, length, flags | Int32(MSG_NOSIGNAL))
    #endif
    if n < 0 { return -Int(errno) }
    if let counters = abstract?.pointee {
        Unmanaged<WireCounters>.fromOpaque(counters).takeUnretainedValue().didSend(n)
    }
    return n
}

private let wireReceive: muxsync_recv_fn = { socket, buffer, length, flags, abstract in
    let n = recv(socket, buffer, length, flags)
    if n < 0 { return -Int(errno) }
    if let counters = abstract?.pointee {
        Unmanaged<WireCounters>.fromOpaque(counters).takeUnretainedValue().didReceive(n)
    }
    return n
}
