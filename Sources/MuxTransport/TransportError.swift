import Foundation
import MuxSFTPWire

// MARK: - Errors of the SSH layer

/// A failure of the SSH session layer. Its description names the host, port,
/// user, the step that failed and, where one exists, what to do about it.
public struct TransportError: Error, Sendable, CustomStringConvertible {
    /// The step of the connection at which the failure happened.
    public enum Stage: String, Sendable {
        case resolve = "resolving the host name"
        case connect = "connecting"
        case handshake = "SSH handshake"
        case hostKey = "host key verification"
        case authentication = "authentication"
        case channel = "opening a channel"
        case sftp = "SFTP"
        case connectionLost = "connection"
        case closed = "session"
    }

    public var stage: Stage
    /// "user@host:port", filled in by the session once known.
    public var endpoint: String
    public var message: String
    /// What the user can do about it; printed on its own line.
    public var hint: String?

    public init(_ stage: Stage, endpoint: String = "", _ message: String, hint: String? = nil) {
        self.stage = stage
        self.endpoint = endpoint
        self.message = message
        self.hint = hint
    }

    public var description: String {
        var text = endpoint.isEmpty
            ? "\(stage.rawValue) failed: \(message)"
            : "\(endpoint): \(stage.rawValue) failed: \(message)"
        if let hint { text += "\n  hint: \(hint)" }
        return text
    }

    /// True when the session is gone and a new connection is needed.
    public var isConnectionLoss: Bool { stage == .connectionLost || stage == .closed }
}

// MARK: - Errors of SFTP operations

/// An SFTP request the server answered with a failure status.
public struct SFTPError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var path: String?
    public var status: SFTPStatus

    public init(operation: String, path: String?, status: SFTPStatus) {
        self.operation = operation
        self.path = path
        self.status = status
    }

    public var code: SFTPStatusCode { status.code }

    public var description: String {
        let what = path.map { "\(operation) \($0)" } ?? operation
        let detail = status.message.isEmpty ? "\(status.code)" : "\(status.message) (\(status.code))"
        return "remote: \(what): \(detail)"
    }
}
