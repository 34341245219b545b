// RemoteLocation: the "HOST:PATH" form of a remote tree, as typed on the command line or
// written in .muxsync.toml.

// MARK: - RemoteLocation

/// A remote tree: an ssh host (alias, "user@host", or "[v6 address]") and a path on it.
public struct RemoteLocation: Sendable, Equatable, CustomStringConvertible {
    /// The host part as written: an ssh_config alias, "host", "user@host" or "user@[::1]".
    public var host: String
    /// The remote path: absolute, or relative to the remote login directory.
    public var path: String

    /// Creates a location from its parts.
    public init(host: String, path: String) {
        self.host = host
        self.path = path
    }

    /// "host:path" (an IPv6 host keeps its brackets).
    public var description: String { host + ":" + path }

    /// Parses "HOST:PATH".
    ///
    /// The host ends at the first ":" (after a bracketed "[v6]" part). A text without ":",
    /// with a "/" before the first ":" (a local path such as "./a:b"), with an empty host or
    /// with an empty path is refused: the remote home directory must be named explicitly
    /// ("host:." or "host:/home/me"), so that "host:" typed by mistake never becomes the
    /// target of a --delete.
    public static func parse(_ text: String) throws -> RemoteLocation {
        let utf8 = text.utf8
        var searchStart = utf8.startIndex
        if let bracket = utf8.firstIndex(of: UInt8(ascii: "[")),
           let close = utf8[bracket...].firstIndex(of: UInt8(ascii: "]")) {
            let before = utf8[..<bracket]
            if !before.contains(UInt8(ascii: ":")) && !before.contains(UInt8(ascii: "/")) {
                searchStart = close
            }
        }
        guard let colon = utf8[searchStart...].firstIndex(of: UInt8(ascii: ":")) else {
            throw RemoteLocationError(text: text, reason: "expected HOST:PATH (no ':' found)")
        }
        let host = String(text[..<colon])
        let path = String(text[text.index(after: colon)...])
        if host.isEmpty { throw RemoteLocationError(text: text, reason: "the host before ':' is empty") }
        if host.utf8.contains(UInt8(ascii: "/")) {
            throw RemoteLocationError(text: text, reason: "this looks like a local path (a '/' comes before ':')")
        }
        if host.unicodeScalars.contains(where: { $0 == " " || $0.value < 0x20 }) {
            throw RemoteLocationError(text: text, reason: "the host contains a space or a control character")
        }
        if path.isEmpty {
            throw RemoteLocationError(text: text, reason: "the path after ':' is empty; write \(host):. for the"
                + " remote home directory or give an absolute path")
        }
        if path.utf8.contains(0) { throw RemoteLocationError(text: text, reason: "the path contains a NUL character") }
        return RemoteLocation(host: host, path: path)
    }
}

// MARK: - Error

/// A "HOST:PATH" text that could not be parsed.
public struct RemoteLocationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The text as given.
    public var text: String
    /// What is wrong with it.
    public var reason: String

    /// Creates an error.
    public init(text: String, reason: String) {
        self.text = text
        self.reason = reason
    }

    public var description: String { "invalid remote \(text.debugDescription): \(reason)" }
}
