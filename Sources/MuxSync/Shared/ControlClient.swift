import Foundation

// MARK: - Using a session another muxsync process holds

/// Sends one request to a shared session and relays the replies.
public enum ControlClient {
    /// The connection to the process sharing `endpoint`'s session, if any.
    public static func connect(endpoint: String) -> ControlConnection? {
        guard let path = try? ControlSocket.path(for: endpoint), let fd = ControlSocket.connect(path) else { return nil }
        return ControlConnection(fd: fd)
    }

    /// Asks the process sharing `endpoint`'s session to give it up; true when it was a
    /// background keeper and has stopped listening.
    public static func releaseKeeper(endpoint: String) -> Bool {
        guard let connection = connect(endpoint: endpoint) else { return false }
        return (try? run(ControlRequest(operation: .release), over: connection) { _ in }) == 0
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
