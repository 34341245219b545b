import Foundation

// MARK: - What flows over a shared session's control socket

/// A message on the control socket: one JSON object (see `ControlJSON`).
public protocol ControlMessage: Sendable {
    /// The message in `json`; throws `ControlError.malformed` for anything else.
    init(json: ControlJSON.Value) throws(ControlError)
    /// The message as the text of one JSON object.
    var jsonBytes: [UInt8] { get }
}

/// A request from a muxsync command to the process holding a session.
public struct ControlRequest: ControlMessage, Equatable {
    public enum Operation: String, Sendable { case status, exec, push, pull, interrupt }

    public var operation: Operation
    /// exec: argv; push/pull: the command line's arguments after resolution.
    public var arguments: [String] = []
    /// exec: remote working directory.
    public var directory: String?
    /// exec --sync: wait until every local change seen so far is on the remote.
    public var sync = false
    /// push/pull: absolute local path and remote path.
    public var localPath: String?
    public var remotePath: String?
    /// push/pull options as flags ("delete", "checksum", "dry-run", "force", ...).
    public var flags: [String] = []
    public var excludes: [String] = []
    /// pull --include globs.
    public var includes: [String] = []
    public var maxDelete: Int?

    public init(operation: Operation) { self.operation = operation }

    public init(json: ControlJSON.Value) throws(ControlError) {
        let members = try json.members(of: "a control request")
        let name = try members.requiredString("operation")
        guard let operation = Operation(rawValue: name) else { throw ControlError.malformed("unknown operation '\(name)'") }
        self.operation = operation
        arguments = try members.strings("arguments") ?? []
        directory = try members.string("directory")
        sync = try members.bool("sync") ?? false
        localPath = try members.string("localPath")
        remotePath = try members.string("remotePath")
        flags = try members.strings("flags") ?? []
        excludes = try members.strings("excludes") ?? []
        includes = try members.strings("includes") ?? []
        maxDelete = try members.integer("maxDelete")
    }

    public var jsonBytes: [UInt8] {
        var writer = ControlJSON.ObjectWriter()
        writer.add("operation", operation.rawValue)
        writer.add("arguments", arguments)
        writer.add("directory", directory)
        writer.add("sync", sync)
        writer.add("localPath", localPath)
        writer.add("remotePath", remotePath)
        writer.add("flags", flags)
        writer.add("excludes", excludes)
        writer.add("includes", includes)
        writer.add("maxDelete", maxDelete)
        return writer.finished()
    }
}

/// One message back: output, a line of text, the status, or the end.
public struct ControlReply: ControlMessage, Equatable {
    public enum Kind: String, Sendable { case stdout, stderr, line, status, exit, error }

    public var kind: Kind
    public var bytes: [UInt8]?
    public var text: String?
    public var code: Int32?
    public var status: SharedSessionStatus?

    public init(kind: Kind, bytes: [UInt8]? = nil, text: String? = nil, code: Int32? = nil, status: SharedSessionStatus? = nil) {
        self.kind = kind
        self.bytes = bytes
        self.text = text
        self.code = code
        self.status = status
    }

    public static func output(_ kind: Kind, _ bytes: [UInt8]) -> ControlReply { ControlReply(kind: kind, bytes: bytes) }
    public static func line(_ text: String) -> ControlReply { ControlReply(kind: .line, text: text) }
    public static func exit(_ code: Int32) -> ControlReply { ControlReply(kind: .exit, code: code) }
    public static func error(_ text: String) -> ControlReply { ControlReply(kind: .error, text: text) }

    // Output bytes travel as base64 (the JSON form of `Data`), not as an array of numbers:
    // about 1.3 bytes on the socket per byte of output instead of up to 4.
    public init(json: ControlJSON.Value) throws(ControlError) {
        let members = try json.members(of: "a control reply")
        let name = try members.requiredString("kind")
        guard let kind = Kind(rawValue: name) else { throw ControlError.malformed("unknown reply kind '\(name)'") }
        self.kind = kind
        bytes = try members.base64("bytes")
        text = try members.string("text")
        code = try members.integer("code")
        status = try members["status"].map { value throws(ControlError) in try SharedSessionStatus(json: value) }
    }

    public var jsonBytes: [UInt8] {
        var writer = ControlJSON.ObjectWriter()
        writer.add("kind", kind.rawValue)
        writer.add("bytes", base64: bytes)
        writer.add("text", text)
        writer.add("code", code.map { Int($0) })
        writer.add("status", object: status?.jsonBytes)
        return writer.finished()
    }
}

/// What `muxsync status` shows of one running session.
public struct SharedSessionStatus: Codable, Sendable, Equatable {
    public var endpoint: String
    public var pid: Int32
    public var role: String
    public var localRoot: String?
    public var remoteRoot: String?
    public var connection: String
    public var queue: Int
    public var lastLatencyMilliseconds: Int?
    public var startedAt: Double

    public init(endpoint: String, pid: Int32, role: String, localRoot: String?, remoteRoot: String?, connection: String,
                queue: Int, lastLatencyMilliseconds: Int?, startedAt: Double) {
        self.endpoint = endpoint
        self.pid = pid
        self.role = role
        self.localRoot = localRoot
        self.remoteRoot = remoteRoot
        self.connection = connection
        self.queue = queue
        self.lastLatencyMilliseconds = lastLatencyMilliseconds
        self.startedAt = startedAt
    }

    /// The status inside a control reply.
    public init(json: ControlJSON.Value) throws(ControlError) {
        let members = try json.members(of: "a session status")
        endpoint = try members.requiredString("endpoint")
        guard let pid: Int32 = try members.integer("pid") else { throw ControlError.malformed("'pid' is missing") }
        self.pid = pid
        role = try members.requiredString("role")
        localRoot = try members.string("localRoot")
        remoteRoot = try members.string("remoteRoot")
        connection = try members.requiredString("connection")
        guard let queue: Int = try members.integer("queue") else { throw ControlError.malformed("'queue' is missing") }
        self.queue = queue
        lastLatencyMilliseconds = try members.integer("lastLatencyMilliseconds")
        guard let startedAt = try members.number("startedAt") else { throw ControlError.malformed("'startedAt' is missing") }
        self.startedAt = startedAt
    }

    /// The status as the text of one JSON object (for control replies; `muxsync status --json`
    /// prints it with JSONEncoder instead).
    public var jsonBytes: [UInt8] {
        var writer = ControlJSON.ObjectWriter()
        writer.add("endpoint", endpoint)
        writer.add("pid", Int(pid))
        writer.add("role", role)
        writer.add("localRoot", localRoot)
        writer.add("remoteRoot", remoteRoot)
        writer.add("connection", connection)
        writer.add("queue", queue)
        writer.add("lastLatencyMilliseconds", lastLatencyMilliseconds)
        writer.add("startedAt", startedAt)
        return writer.finished()
    }
}

// MARK: - Framing (pure)

/// Messages are a 4-byte big-endian length and that many bytes of JSON.
/// Frames over 16 MiB are refused (a bounded allocation for any input).
public enum ControlFraming {
    public static let maxFrame = 16 << 20

    public static func encode<T: ControlMessage>(_ value: T) -> [UInt8] {
        let body = value.jsonBytes
        let length = UInt32(body.count)
        return [UInt8(length >> 24), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff)] + body
    }

    /// Takes one complete frame off the front of `buffer`, if there is one.
    public static func decode<T: ControlMessage>(_ type: T.Type, from buffer: inout [UInt8]) throws(ControlError) -> T? {
        guard buffer.count >= 4 else { return nil }
        let length = Int(buffer[0]) << 24 | Int(buffer[1]) << 16 | Int(buffer[2]) << 8 | Int(buffer[3])
        guard length <= maxFrame else { throw ControlError.frameTooLarge(length) }
        guard buffer.count >= 4 + length else { return nil }
        let body = Array(buffer[4..<(4 + length)])
        buffer.removeFirst(4 + length)
        return try T(json: ControlJSON.parse(body))
    }
}

public enum ControlError: Error, Sendable, CustomStringConvertible {
    case frameTooLarge(Int)
    case malformed(String)
    case unsafeDirectory(String, String)
    case peerRejected(uid: UInt32)
    case closed

    public var description: String {
        switch self {
        case .frameTooLarge(let n): return "control message of \(n) bytes refused (limit \(ControlFraming.maxFrame))"
        case .malformed(let why): return "malformed control message: \(why) (are both muxsync processes the same version?)"
        case .unsafeDirectory(let path, let why): return "refusing to use \(path) for session sockets: \(why)"
        case .peerRejected(let uid): return "refused a control connection from uid \(uid) (only the session's owner may use it)"
        case .closed: return "the session process closed the control connection"
        }
    }
}
