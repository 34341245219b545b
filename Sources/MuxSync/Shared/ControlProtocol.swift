import Foundation

// MARK: - What flows over a shared session's control socket

/// A request from a muxsync command to the process holding a session.
public struct ControlRequest: Codable, Sendable, Equatable {
    /// `release`: a background keeper (``ControlRole/keeper``) stops serving and exits, so that
    /// a watch or `muxsync connect` can take its socket.
    public enum Operation: String, Codable, Sendable { case status, exec, push, pull, interrupt, release }

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
}

/// A client's progress display, for a push or pull that runs in the session's host: the
/// host's ``ProgressReporter`` draws for the client's terminal (or log, or nothing) and the
/// client writes what it gets, so the bar, the warnings, the summary and the failures look
/// the same as when the command runs by itself.
public struct ControlDisplay: Codable, Sendable, Equatable {
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
public struct ControlReply: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case stdout, stderr, line, status, exit, error }

    public var kind: Kind
    public var bytes: [UInt8]?
    public var text: String?
    public var code: Int32?
    public var status: SharedSessionStatus?

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
}

extension ControlReply {
    private enum CodingKeys: String, CodingKey { case kind, bytes, text, code, status }

    // Output bytes travel as base64 (the JSON form of `Data`), not as the array of numbers
    // `[UInt8]` would give: about 1.3 bytes on the socket per byte of output instead of up
    // to 4, and much less coding work on `exec`'s streaming path.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        kind = try container.decode(Kind.self, forKey: .kind)
        bytes = try container.decodeIfPresent(Data.self, forKey: .bytes).map { [UInt8]($0) }
        text = try container.decodeIfPresent(String.self, forKey: .text)
        code = try container.decodeIfPresent(Int32.self, forKey: .code)
        status = try container.decodeIfPresent(SharedSessionStatus.self, forKey: .status)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind, forKey: .kind)
        try container.encodeIfPresent(bytes.map { Data($0) }, forKey: .bytes)
        try container.encodeIfPresent(text, forKey: .text)
        try container.encodeIfPresent(code, forKey: .code)
        try container.encodeIfPresent(status, forKey: .status)
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
}

// MARK: - Framing (pure)

/// Messages are a 4-byte big-endian length and that many bytes of JSON.
/// Frames over 16 MiB are refused (a bounded allocation for any input).
public enum ControlFraming {
    public static let maxFrame = 16 << 20

    public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let body = try JSONEncoder().encode(value)
        let length = UInt32(body.count)
        return [UInt8(length >> 24), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff)] + body
    }

    /// Takes one complete frame off the front of `buffer`, if there is one.
    public static func decode<T: Decodable>(_ type: T.Type, from buffer: inout [UInt8]) throws -> T? {
        guard buffer.count >= 4 else { return nil }
        let length = Int(buffer[0]) << 24 | Int(buffer[1]) << 16 | Int(buffer[2]) << 8 | Int(buffer[3])
        guard length <= maxFrame else { throw ControlError.frameTooLarge(length) }
        guard buffer.count >= 4 + length else { return nil }
        let body = Data(buffer[4..<(4 + length)])
        buffer.removeFirst(4 + length)
        return try JSONDecoder().decode(type, from: body)
    }
}

public enum ControlError: Error, Sendable, CustomStringConvertible {
    case frameTooLarge(Int)
    case unsafeDirectory(String, String)
    case peerRejected(uid: UInt32)
    case closed

    public var description: String {
        switch self {
        case .frameTooLarge(let n): return "control message of \(n) bytes refused (limit \(ControlFraming.maxFrame))"
        case .unsafeDirectory(let path, let why): return "refusing to use \(path) for session sockets: \(why)"
        case .peerRejected(let uid): return "refused a control connection from uid \(uid) (only the session's owner may use it)"
        case .closed: return "the session process closed the control connection"
        }
    }
}
