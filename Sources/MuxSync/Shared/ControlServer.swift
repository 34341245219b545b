#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Logging
import MuxTransport

// MARK: - Serving a held session to other muxsync commands

/// Answers control requests on the session's socket. Only connections from
/// the same uid are served; others are told why and closed.
public final class ControlServer: @unchecked Sendable {
    public typealias Handler = @Sendable (ControlRequest, ControlConnection) async -> Void

    public let path: String
    private let fd: Int32
    private let handler: Handler
    private let logger: Logger
    private let stopped = Locked(false)

    /// Starts listening for the session found by `key` (`SSHTarget.sharingKey`); nil when
    /// another live process already serves it.
    public static func start(key: String, logger: Logger, handler: @escaping Handler) throws -> ControlServer? {
        try start(path: ControlSocket.path(for: key), logger: logger, handler: handler)
    }

    /// ``start(key:logger:handler:)``, but a background keeper (``ControlRole/keeper``)
    /// holding the socket is asked to give way first; nil when a watch or `muxsync connect`
    /// holds it.
    public static func startReplacingKeeper(key: String, logger: Logger,
                                            handler: @escaping Handler) throws -> ControlServer? {
        let path = try ControlSocket.path(for: key)
        if let server = try start(path: path, logger: logger, handler: handler) { return server }
        guard ControlClient.releaseKeeper(path: path) else { return nil }
        logger.info("took over the shared session socket of a background session at \(path)")
        // The keeper removes its socket before it answers; a client may still be connecting to it.
        for _ in 0..<200 {
            if let server = try start(path: path, logger: logger, handler: handler) { return server }
            usleep(10_000)
        }
        return nil
    }

    /// Starts listening at an explicit socket path (tests, custom locations).
    public static func start(path: String, logger: Logger, handler: @escaping Handler) throws -> ControlServer? {
        guard let fd = try ControlSocket.listen(path) else { return nil }
        let server = ControlServer(path: path, fd: fd, handler: handler, logger: logger)
        PlainThread.start(name: "muxsync-control") { server.acceptLoop() }
        return server
    }

    private init(path: String, fd: Int32, handler: @escaping Handler, logger: Logger) {
        self.path = path
        self.fd = fd
        self.handler = handler
        self.logger = logger
    }

    /// Stops accepting and removes the socket.
    public func stop() {
        guard !stopped.withLock({ old in defer { old = true }; return old }) else { return }
        unlink(path)
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }

    private func acceptLoop() {
        while !stopped.withLock({ $0 }) {
            let client = accept(fd, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            let connection = ControlConnection(fd: client)
            let handler = self.handler
            let logger = self.logger
            PlainThread.start(name: "muxsync-control-client") {
                guard let uid = ControlSocket.peerUID(client), uid == getuid() else {
                    // Say why, then let the peer finish (closing on unread data would reset it).
                    connection.send(ControlReply.error("\(ControlError.peerRejected(uid: ControlSocket.peerUID(client) ?? UInt32.max))"))
                    connection.finishSending()
                    var timeout = timeval(tv_sec: 1, tv_usec: 0)
                    setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                    _ = try? connection.receive(ControlRequest.self)
                    logger.warning("refused a control connection from another user")
                    return
                }
                guard let request = try? connection.receive(ControlRequest.self) else { return }
                let finished = Locked(false)
                Task {
                    await handler(request, connection)
                    finished.withLock { $0 = true }
                    connection.finishSending()
                }
                // While the request runs, a further frame is an interrupt (Ctrl-C in the client).
                // The client closes after the last reply, which ends this loop and the thread; a
                // client gone before that (killed, or a second Ctrl-C) interrupts the request too.
                while let next = try? connection.receive(ControlRequest.self) {
                    if next.operation == .interrupt { connection.noteInterrupt() }
                }
                if !finished.withLock({ $0 }) { connection.noteInterrupt() }
            }
        }
    }
}
