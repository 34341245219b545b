// ProjectConfig: the project file `.muxsync.toml` at the root of LOCAL_DIR.
//
//     remote = "devbox:/srv/app"        # or: [remote] host = "devbox"  path = "/srv/app"
//     exclude = [".git/", "*.o"]
//     delete = true
//     max_delete = 100
//     checksum = false
//     poll_interval = 0.5               # seconds
//
//     [pull]
//     include = ["logs/*.txt"]
//     dest = "pulled"                   # relative to the project root
//
//     [watch]
//     debounce = 0.2                    # seconds
//
// Every value is optional; command-line flags override them. Unknown keys and bad values
// are errors naming the file, the line and the valid keys, so a typo never passes silently.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MuxSSHConfig
import TOMLKit

// MARK: - Settings

/// The `[pull]` table.
public struct PullSettings: Sendable, Equatable {
    /// Globs of remote paths to bring back (`include`); empty means everything.
    public var include: [String] = []
    /// Where pulled files go, relative to the project root (`dest`); nil when not set.
    public var dest: String?

    /// Creates settings.
    public init(include: [String] = [], dest: String? = nil) {
        self.include = include
        self.dest = dest
    }
}

/// The `[watch]` table (room for more watch options).
public struct WatchSettings: Sendable, Equatable {
    /// Seconds to wait for a burst of changes to settle before pushing.
    public var debounce: Double?

    /// Creates settings.
    public init(debounce: Double? = nil) { self.debounce = debounce }
}

// MARK: - ProjectConfig

/// The parsed contents of `.muxsync.toml`. Unset values are nil (or empty) so that the
/// command line can tell "not configured" from "configured false".
public struct ProjectConfig: Sendable, Equatable {
    /// The project file's name.
    public static let fileName = ".muxsync.toml"

    /// The project root: the directory holding the file.
    public var directory: String
    /// The file's path.
    public var file: String
    /// `remote`: where push sends and pull takes from (always with a path).
    public var remote: RemoteSpec?
    /// `exclude`: patterns of local paths never sent (and never deleted remotely).
    public var exclude: [String] = []
    /// `delete`: delete remote entries missing locally.
    public var delete: Bool?
    /// `max_delete`: most remote entries one push may delete.
    public var maxDelete: Int?
    /// `checksum`: compare content rather than size + mtime.
    public var checksum: Bool?
    /// `poll_interval`: seconds between polls when watching without OS events.
    public var pollInterval: Double?
    /// `persist`: seconds push, pull and exec keep their session open in the background (0: never).
    public var persist: Double?
    /// `[pull]`.
    public var pull = PullSettings()
    /// `[watch]`.
    public var watch = WatchSettings()

    /// An empty configuration for `file` in `directory`.
    public init(directory: String, file: String) {
        self.directory = directory
        self.file = file
    }

    // MARK: Loading

    /// Reads `directory/.muxsync.toml`; nil when there is no such file.
    /// - Throws: ``ProjectConfigError`` for an unreadable file, a syntax error, an unknown
    ///   key or a bad value.
    public static func load(directory: String) throws -> ProjectConfig? {
        let file = directory.hasSuffix("/") ? directory + fileName : directory + "/" + fileName
        var st = stat()
        if stat(file, &st) != 0 {
            let code = errno
            if code == ENOENT || code == ENOTDIR { return nil }
            throw ProjectConfigError.unreadable(file: file, reason: describe(errno: code))
        }
        let text = try readText(file)
        return try parse(text, file: file, directory: directory)
    }

    /// Looks for `.muxsync.toml` in `startingAt` and then in each parent up to "/", and
    /// loads the first one found: the project root is the directory that holds it.
    /// Relative paths are resolved against the current directory, lexically (symlinks in
    /// `startingAt` are not resolved). Returns nil when no parent has the file.
    public static func find(startingAt: String) throws -> ProjectConfig? {
        var dir = absoluteLexical(startingAt)
        while true {
            if let config = try load(directory: dir) { return config }
            if dir == "/" { return nil }
            dir = ByteExact.parent(of: dir)
            if dir.isEmpty { dir = "/" }
        }
    }

    /// Parses the text of a project file. `file` is used in messages; `directory` becomes
    /// the project root.
    public static func parse(_ text: String, file: String, directory: String) throws -> ProjectConfig {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ProjectConfigError.syntax(file: file, line: error.source.begin.line,
                                            column: error.source.begin.column, message: error.description)
        }
        let reader = ConfigReader(file: file, text: text)
        try reader.checkKeys(table, section: [])

        var config = ProjectConfig(directory: directory, file: file)
        config.remote = try parseRemote(table, reader: reader)
        config.exclude = try reader.stringArray(table, "exclude") ?? []
        config.delete = try reader.bool(table, "delete")
        config.maxDelete = try reader.nonNegativeInt(table, "max_delete")
        config.checksum = try reader.bool(table, "checksum")
        config.pollInterval = try reader.seconds(table, "poll_interval", allowZero: false)
        config.persist = try reader.seconds(table, "persist", allowZero: true)

        if let pull = try reader.table(table, "pull") {
            try reader.checkKeys(pull, section: ["pull"])
            config.pull.include = try reader.stringArray(pull, "include", section: ["pull"]) ?? []
            config.pull.dest = try reader.string(pull, "dest", section: ["pull"])
        }
        if let watch = try reader.table(table, "watch") {
            try reader.checkKeys(watch, section: ["watch"])
            config.watch.debounce = try reader.seconds(watch, "debounce", section: ["watch"], allowZero: true)
        }
        return config
    }

    /// `remote = "host:/path"` (any HOST:PATH the command line takes, `ssh://` too) or
    /// `[remote] host = ... path = ...`. The path must be named (`host:.` for the home).
    private static func parseRemote(_ table: TOMLTable, reader: ConfigReader) throws -> RemoteSpec? {
        guard let value = table["remote"] else { return nil }
        if value.type == .string, let text = value.string {
            do {
                return try RemoteSpec(parsing: text).requiringPath()
            } catch {
                throw reader.bad(["remote"], "must be \"host:/path\": \(error.message)")
            }
        }
        guard value.type == .table, let sub = value.table else {
            throw reader.bad(["remote"], "must be a string \"host:/path\" or a table with host and path,"
                + " got \(ConfigReader.describe(value))")
        }
        try reader.checkKeys(sub, section: ["remote"])
        guard let host = try reader.string(sub, "host", section: ["remote"]) else {
            throw reader.bad(["remote"], "the [remote] table needs host = \"...\"")
        }
        guard let path = try reader.string(sub, "path", section: ["remote"], nonEmpty: false) else {
            throw reader.bad(["remote"], "the [remote] table needs path = \"...\"")
        }
        let spec: RemoteSpec
        do {
            spec = try RemoteSpec(destination: host, path: path)
        } catch {
            throw reader.bad(["remote", "host"], error.message)
        }
        do {
            return try spec.requiringPath()
        } catch {
            throw reader.bad(["remote", "path"], "must name a path: \(error.message)")
        }
    }

    // MARK: File helpers

    private static func readText(_ file: String) throws -> String {
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ProjectConfigError.unreadable(file: file, reason: describe(errno: errno)) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ProjectConfigError.unreadable(file: file, reason: describe(errno: errno))
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
            if bytes.count > 1 << 20 {
                throw ProjectConfigError.unreadable(file: file, reason: "larger than 1 MiB; is it the right file?")
            }
        }
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.utf8.elementsEqual(bytes) else {
            throw ProjectConfigError.unreadable(file: file, reason: "not valid UTF-8 text")
        }
        return text
    }

    private static func describe(errno code: Int32) -> String {
        strerror(code).map { String(cString: $0) } ?? "error \(code)"
    }

    /// `path` made absolute against the current directory, with "." and ".." removed lexically.
    static func absoluteLexical(_ path: String) -> String {
        var full = path
        if !full.hasPrefix("/") {
            var buffer = [CChar](repeating: 0, count: 4096)
            let cwd = buffer.withUnsafeMutableBufferPointer { getcwd($0.baseAddress, $0.count) != nil }
                ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "/"
            full = cwd + "/" + full
        }
        var parts: [Substring] = []
        for part in full.split(separator: "/") {
            if part == "." { continue }
            if part == ".." { _ = parts.popLast(); continue }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }
}

// MARK: - Errors

/// A project file that could not be used. Messages start with "FILE:LINE:" when the line
/// is known.
public enum ProjectConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file exists but cannot be read (or is not UTF-8 text).
    case unreadable(file: String, reason: String)
    /// A TOML syntax error at line:column (1-based), as reported by the TOML parser.
    case syntax(file: String, line: Int, column: Int, message: String)
    /// A key that is not part of the schema, with the keys valid at that place.
    case unknownKey(file: String, line: Int?, key: String, validKeys: [String])
    /// A known key with a value of the wrong type or range.
    case badValue(file: String, line: Int?, key: String, problem: String)

    /// The 1-based line of the problem, when known.
    public var line: Int? {
        switch self {
        case .unreadable: return nil
        case .syntax(_, let line, _, _): return line
        case .unknownKey(_, let line, _, _), .badValue(_, let line, _, _): return line
        }
    }

    public var description: String {
        switch self {
        case let .unreadable(file, reason):
            return "\(file): cannot read the project file: \(reason)"
        case let .syntax(file, line, column, message):
            return "\(file):\(line):\(column): TOML syntax error: \(message)"
        case let .unknownKey(file, line, key, validKeys):
            let last = key.split(separator: ".").last.map(String.init) ?? key
            let hint = ProjectConfigSchema.suggestion(for: last, among: validKeys).map { " (did you mean '\($0)'?)" } ?? ""
            return "\(Self.location(file, line)) unknown key '\(key)'\(hint); valid keys here: "
                + validKeys.joined(separator: ", ")
        case let .badValue(file, line, key, problem):
            return "\(Self.location(file, line)) \(key) \(problem)"
        }
    }

    private static func location(_ file: String, _ line: Int?) -> String {
        line.map { "\(file):\($0):" } ?? "\(file):"
    }
}
