import Foundation

// MARK: - RemoteSpec

/// A remote location as written on the command line, scp style:
///
/// - `host:path`, `user@host:path`, `host:` (empty path: the remote home directory)
/// - `[::1]:path`, `user@[fe80::1%eth0]:/x` (IPv6 in brackets)
/// - `ssh://[user@]host[:port][/path]` (also `scp://`, `sftp://`; as in OpenSSH, the first `/`
///   after the host separates, so `ssh://h/dir` is `dir` under the home and `ssh://h//abs` is `/abs`)
///
/// Anything else is a local path: no colon, a `/` before the first colon (`./a:b`), a leading
/// colon, or a Windows drive such as `C:\x` or `C:/x`.
///
/// The one HOST:PATH grammar of muxsync: command-line arguments (``classify(_:)``, which
/// tells local paths from remotes) and the project file's `remote` (``init(parsing:)`` and
/// ``init(destination:path:)``, which must name a remote) both go through it.
public struct RemoteSpec: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// The user from `user@`, if any.
    public var user: String?
    /// The host or alias (IPv6 without brackets).
    public var host: String
    /// A port, only from the `ssh://host:port` form.
    public var port: Int?
    /// The remote path as written; empty means the remote home directory.
    public var path: String

    /// Memberwise initializer.
    public init(user: String? = nil, host: String, port: Int? = nil, path: String) {
        self.user = user
        self.host = host
        self.port = port
        self.path = path
    }

    /// Parses `text`, which must name a remote: the grammar of ``classify(_:)``, except
    /// that a one-letter host before `:/` is a host (`h:/srv`), not a Windows drive; a text
    /// it takes for a local path is an error saying why (no ':', a '/' before it, ...).
    public init(parsing text: String) throws(RemoteSpecError) {
        guard let spec = try Self.classify(text, driveLetterIsLocal: false) else {
            throw RemoteSpecError(input: text, message: Self.whyNotRemote(text))
        }
        self = spec
    }

    /// A remote from its two halves, as the project file's `[remote]` table gives them:
    /// `destination` is `host`, `user@host`, `[v6]` or a bare IPv6 address; `path` is taken
    /// as is (empty: the home directory).
    public init(destination: String, path: String) throws(RemoteSpecError) {
        let input = destination + ":" + path
        let (user, host) = try Self.splitUserHost(destination, input: input)
        try Self.validatePath(path, input: input)
        self.init(user: user, host: host, port: nil, path: path)
    }

    /// Parses `s`; nil when it is a local path or a malformed remote.
    /// Use ``classify(_:)`` to tell the two apart.
    public static func parse(_ s: String) -> RemoteSpec? {
        (try? classify(s)) ?? nil
    }

    /// Parses `s`: nil for a local path, a spec for a remote, and an error for something that is
    /// clearly meant as a remote but is malformed (`user@:x`, `@host:x`, `[::1:x`, a bad port).
    public static func classify(_ s: String) throws(RemoteSpecError) -> RemoteSpec? {
        try classify(s, driveLetterIsLocal: true)
    }

    /// ``classify(_:)``; with `driveLetterIsLocal` false, `C:/x` is host `C`, path `/x` (a
    /// text that must be a remote has no Windows path to tell apart).
    private static func classify(_ s: String, driveLetterIsLocal: Bool) throws(RemoteSpecError) -> RemoteSpec? {
        guard !s.isEmpty else { return nil }
        let lower = s.lowercased()
        for scheme in ["ssh://", "scp://", "sftp://"] where lower.hasPrefix(scheme) {
            return try parseURI(String(s.dropFirst(scheme.count)), input: s)
        }
        let chars = Array(s)
        guard chars[0] != ":" else { return nil }

        // MARK: scp's colon(): find the separating colon, honouring [v6] brackets.
        var bracket = chars[0] == "["
        var colon: Int?
        var sawColon = false
        var sawClose = false
        var i = 0
        scan: while i < chars.count {
            let c = chars[i]
            let next: Character? = i + 1 < chars.count ? chars[i + 1] : nil
            switch c {
            case "@" where next == "[": bracket = true
            case "]" where next == ":" && bracket:
                colon = i + 1
                break scan
            case ":":
                sawColon = true
                if !bracket {
                    colon = i
                    break scan
                }
            case "/": break scan
            case "]": sawClose = true
            default: break
            }
            i += 1
        }
        guard let colon else {
            if bracket && sawColon && !sawClose {
                throw RemoteSpecError(input: s, message: "unclosed '[' (write an IPv6 host as [address]:path)")
            }
            return nil
        }
        let hostPart = String(chars[..<colon])
        let path = String(chars[(colon + 1)...])

        // A Windows drive letter is local.
        if driveLetterIsLocal, hostPart.count == 1, let letter = hostPart.first, letter.isASCII, letter.isLetter,
           path.first == "\\" || path.first == "/" {
            return nil
        }
        let (user, host) = try splitUserHost(hostPart, input: s)
        try validatePath(path, input: s)
        return RemoteSpec(user: user, host: host, port: nil, path: path)
    }

    // MARK: A tree to sync

    /// This spec, if it names a path: a tree to sync must be named, `host:.` for the remote
    /// home directory, so that a `host:` typed by mistake never becomes the target of a
    /// `--delete`. Throws for an empty path, with the spelling to use instead.
    public func requiringPath() throws(RemoteSpecError) -> RemoteSpec {
        guard path.isEmpty else { return self }
        var home = self
        home.path = "."
        throw RemoteSpecError(input: description, message: "no remote path after ':'; write \(home)"
            + " for the remote home directory or give an absolute path")
    }

    // MARK: Pieces

    private static func splitUserHost(_ part: String, input: String) throws(RemoteSpecError) -> (String?, String) {
        var user: String?
        var hostText = part
        if let at = part.lastIndex(of: "@") {
            let u = String(part[..<at])
            guard !u.isEmpty else { throw RemoteSpecError(input: input, message: "empty user name before '@'") }
            user = u
            hostText = String(part[part.index(after: at)...])
        }
        let host: String
        if hostText.hasPrefix("[") {
            guard hostText.hasSuffix("]"), hostText.count > 2 else {
                throw RemoteSpecError(input: input, message: "malformed bracketed host '\(hostText)' (expected [address])")
            }
            host = String(hostText.dropFirst().dropLast())
        } else {
            host = hostText
        }
        try validateHost(host, input: input)
        return (user, host)
    }

    private static func validatePath(_ path: String, input: String) throws(RemoteSpecError) {
        if path.utf8.contains(0) { throw RemoteSpecError(input: input, message: "the path contains a NUL character") }
    }

    /// Why ``classify(_:)`` took `text` for a local path.
    private static func whyNotRemote(_ text: String) -> String {
        guard let colon = text.firstIndex(of: ":") else { return "expected HOST:PATH (no ':' found)" }
        if colon == text.startIndex { return "the host before ':' is empty" }
        if text[..<colon].contains("/" as Character) { return "this looks like a local path (a '/' comes before ':')" }
        if text.contains("[" as Character) { return "expected [IPv6-address]:PATH (no ':' right after the ']')" }
        return "expected HOST:PATH"
    }

    private static func validateHost(_ host: String, input: String) throws(RemoteSpecError) {
        guard !host.isEmpty else { throw RemoteSpecError(input: input, message: "missing host name before ':'") }
        guard !host.hasPrefix("-") else {
            throw RemoteSpecError(input: input, message: "host name '\(host)' may not start with '-'")
        }
        if host.contains(where: { $0.isWhitespace || $0 == "[" || $0 == "]" || $0 == "/" || ($0.asciiValue ?? 0x20) < 0x20 }) {
            throw RemoteSpecError(input: input, message: "host name '\(host)' contains a character that is not allowed")
        }
    }

    /// `[user[;params]@]host[:port][/path]` after the scheme.
    private static func parseURI(_ rest: String, input: String) throws(RemoteSpecError) -> RemoteSpec {
        let slash = rest.firstIndex(of: "/")
        let authority = String(rest[..<(slash ?? rest.endIndex)])
        var path = ""
        if let slash {
            path = String(rest[rest.index(after: slash)...])
            guard let decoded = path.percentDecoded else {
                throw RemoteSpecError(input: input, message: "invalid %-escape in path")
            }
            path = decoded
            try validatePath(path, input: input)
        }
        var user: String?
        var hostPort = authority
        if let at = authority.lastIndex(of: "@") {
            var u = String(authority[..<at])
            if let semicolon = u.firstIndex(of: ";") { u = String(u[..<semicolon]) }
            guard !u.isEmpty, let decoded = u.percentDecoded else {
                throw RemoteSpecError(input: input, message: "empty or malformed user name before '@'")
            }
            user = decoded
            hostPort = String(authority[authority.index(after: at)...])
        }
        var host = hostPort
        var portText: String?
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else {
                throw RemoteSpecError(input: input, message: "unclosed '[' in host")
            }
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            if after.hasPrefix(":") {
                portText = String(after.dropFirst())
            } else if !after.isEmpty {
                throw RemoteSpecError(input: input, message: "unexpected text after ']' (expected :port or /path)")
            }
        } else if let c = hostPort.firstIndex(of: ":") {
            host = String(hostPort[..<c])
            portText = String(hostPort[hostPort.index(after: c)...])
        }
        try validateHost(host, input: input)
        var port: Int?
        if let portText, !portText.isEmpty {
            guard let p = ConfigValueParser.parsePort(portText) else {
                throw RemoteSpecError(input: input, message: "port '\(portText)' \(ConfigValueParser.portProblem(portText)) (expected 1-65535)")
            }
            port = p
        }
        return RemoteSpec(user: user, host: host, port: port, path: path)
    }

    // MARK: Display

    /// `user@host:path` (IPv6 hosts bracketed), or `ssh://user@host:port/path` when a port is set.
    public var description: String {
        let userPrefix = user.map { "\($0)@" } ?? ""
        let shownHost = host.contains(":" as Character) ? "[\(host)]" : host
        if let port {
            return "ssh://\(userPrefix)\(shownHost):\(port)/\(path)"
        }
        return "\(userPrefix)\(shownHost):\(path)"
    }
}

// MARK: - Error

/// A destination that looks remote but cannot be parsed.
public struct RemoteSpecError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The text as given.
    public var input: String
    /// What is wrong.
    public var message: String

    /// Creates an error.
    public init(input: String, message: String) {
        self.input = input
        self.message = message
    }

    /// `invalid remote 'user@:x': missing host name before ':'`
    public var description: String { "invalid remote '\(input)': \(message)" }
}
