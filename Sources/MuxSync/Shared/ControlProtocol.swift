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
    /// `release`: a background keeper (``ControlRole/keeper``) stops serving and exits, so that
    /// a watch or `muxsync connect` can take its socket.
    public enum Operation: String, Sendable { case status, exec, push, pull, interrupt, release }

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
    /// push/pull: how the client shows progress; the host draws it and sends the text as stderr.
    public var display: ControlDisplay?
    /// The client's ``MuxsyncVersion/buildID``: a keeper of another build steps aside.
    public var build: String? = MuxsyncVersion.buildID

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
        display = try members["display"].map { value throws(ControlError) in try ControlDisplay(json: value) }
        build = try members.string("build")
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
        writer.add("display", object: display?.jsonBytes)
        writer.add("build", build)
        return writer.finished()
    }
}

/// A client's progress display, for a push or pull that runs in the session's host: the
/// host's ``ProgressReporter`` draws for the client's terminal (or log, or nothing) and the
/// client writes what it gets, so the bar, the warnings, the summary and the failures look
/// the same as when the command runs by itself.
public struct ControlDisplay: Sendable, Equatable {
    public var mode: ProgressReporter.Mode
    /// The client terminal's width.
    public var columns: Int
    /// Put before the summary, warnings and failures (several hosts: "host:path: ").
    public var prefix: String
    /// Whether to print the summary line (not with --quiet).
    public var summary: Bool

    public init(mode: ProgressReporter.Mode, columns: Int, prefix: String = "", summary: Bool) {
        self.mode = mode
        self.columns = columns
        self.prefix = prefix
        self.summary = summary
    }

    /// The display inside a control request.
    public init(json: ControlJSON.Value) throws(ControlError) {
        let members = try json.members(of: "a progress display")
        let name = try members.requiredString("mode")
        guard let mode = ProgressReporter.Mode(rawValue: name) else { throw ControlError.malformed("unknown display mode '\(name)'") }
        self.mode = mode
        columns = try members.integer("columns") ?? 80
        prefix = try members.string("prefix") ?? ""
        summary = try members.bool("summary") ?? true
    }

    public var jsonBytes: [UInt8] {
        var writer = ControlJSON.ObjectWriter()
        writer.add("mode", mode.rawValue)
        writer.add("columns", columns)
        writer.add("prefix", prefix)
        writer.add("summary", summary)
        return writer.finished()
    }

    /// The reporter that draws this display, sending its text through `send`.
    public func reporter(send: @escaping @Sendable (String) -> Void) -> ProgressReporter {
        let columns = max(20, self.columns)
        return ProgressReporter(mode: mode, width: { columns }, output: send)
    }
}

/// Who holds a shared session (the `role` that `muxsync status` shows).
public enum ControlRole {
    public static let watch = "watch"
    public static let connect = "connect"
    /// A session that push, pull or exec left open in the background (`--persist`);
    /// it gives way to a watch or `muxsync connect` for the same host.
    public static let keeper = "keeper"
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
    /// The `code` of an error reply when the held session itself was lost (the network went
    /// away under an idle session): a push or pull can then run again on a connection of its own.
    public static let sessionLost: Int32 = 255
    /// The `code` of an error reply from a keeper of another build, which has stopped
    /// listening without running anything: start a new keeper and ask again.
    public static let keeperOutdated: Int32 = 254

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
    /// The ssh_config name the session was opened for ("gpu"): two sessions to one endpoint
    /// (aliases with other known_hosts, see `SSHTarget.sharingKey`) tell apart by it.
    public var alias: String?

    public init(endpoint: String, pid: Int32, role: String, localRoot: String?, remoteRoot: String?, connection: String,
                queue: Int, lastLatencyMilliseconds: Int?, startedAt: Double, alias: String? = nil) {
        self.endpoint = endpoint
        self.pid = pid
        self.role = role
        self.localRoot = localRoot
        self.remoteRoot = remoteRoot
        self.connection = connection
        self.queue = queue
        self.lastLatencyMilliseconds = lastLatencyMilliseconds
        self.startedAt = startedAt
        self.alias = alias
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
        alias = try members.string("alias")
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
        writer.add("alias", alias)
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
