import Foundation

// MARK: - Using a session another muxsync process holds

/// Sends one request to a shared session and relays the replies.
public enum ControlClient {
    /// The connection to the process sharing the session found by `key`
    /// (`SSHTarget.sharingKey`), if any.
    public static func connect(key: String) -> ControlConnection? {
        guard let path = try? ControlSocket.path(for: key) else { return nil }
        return connect(path: path)
    }

    /// The connection to the process listening at `path`, if one does.
    public static func connect(path: String) -> ControlConnection? {
        ControlSocket.connect(path).map { ControlConnection(fd: $0) }
    }

    /// Asks the process listening at `path` to give its session up; true when it was a
    /// background keeper and has stopped listening.
    public static func releaseKeeper(path: String) -> Bool {
        guard let connection = connect(path: path) else { return false }
        return (try? run(ControlRequest(operation: .release), over: connection) { _ in }) == 0
    }

    /// What the process listening at `path` answers to `status`; nil if none answers.
    public static func status(path: String) -> SharedSessionStatus? {
        guard let connection = connect(path: path) else { return nil }
        var status: SharedSessionStatus?
        _ = try? run(ControlRequest(operation: .status), over: connection) { reply in
            if let value = reply.status { status = value }
        }
        return status
    }

    /// Sends `request` and hands every reply to `handle` until the exit code
    /// (returned) or an error (thrown). Blocks: call from a dedicated thread.
    public static func run(_ request: ControlRequest, over connection: ControlConnection,
                           handle: (ControlReply) -> Void) throws -> Int32 {
        guard connection.send(request) else { throw ControlError.closed }
        while let reply = try connection.receive(ControlReply.self) {
            switch reply.kind {
            case .exit: return reply.code ?? 1
            case .error:
                throw SharedSessionError(message: reply.text ?? "the session process failed",
                                         sessionLost: reply.code == ControlReply.sessionLost,
                                         outdated: reply.code == ControlReply.keeperOutdated)
            default: handle(reply)
            }
        }
        throw ControlError.closed
    }
}

/// An error the session process reported.
public struct SharedSessionError: Error, Sendable, CustomStringConvertible {
    public var message: String
    /// The held session was lost (see ``ControlReply/sessionLost``).
    public var sessionLost = false
    /// A keeper of another build stepped aside without running the request.
    public var outdated = false
    public var description: String { message }
}
