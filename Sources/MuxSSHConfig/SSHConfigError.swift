import Foundation

// MARK: - Source location

/// A place in a configuration file: the file as the user would recognise it and a 1-based line.
public struct SSHConfigLocation: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// The file path as given or found (absolute, or as passed to `parse`).
    public var file: String
    /// The path for messages: the home directory prefix replaced by `~`.
    public var displayFile: String
    /// 1-based line number.
    public var line: Int

    /// Creates a location; `homeDirectory` is used only to shorten the path for messages.
    public init(file: String, line: Int, homeDirectory: String) {
        self.file = file
        self.line = line
        self.displayFile = SSHConfigLocation.abbreviate(file, homeDirectory: homeDirectory)
    }

    /// `~/.ssh/config line 12`
    public var description: String { "\(displayFile) line \(line)" }

    /// Replaces a leading home directory with `~` so messages match what the user typed.
    static func abbreviate(_ path: String, homeDirectory: String) -> String {
        var home = homeDirectory
        while home.count > 1 && home.hasSuffix("/") { home.removeLast() }
        guard !home.isEmpty, home != "/" else { return path }
        if path == home { return "~" }
        if path.hasPrefix(home + "/") { return "~" + path.dropFirst(home.count) }
        return path
    }
}

// MARK: - Error

/// A configuration error: a malformed value for a keyword muxsync uses, bad quoting, an
/// unreadable or cyclic `Include`, or a token that cannot be expanded.
///
/// The description names the file and line, the offending value and what is expected, e.g.
/// `~/.ssh/config line 12: Port 'abc' is not a number (expected 1-65535)`.
public struct SSHConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Where the problem is, when it comes from a file.
    public var location: SSHConfigLocation?
    /// What is wrong and what is expected, without the location prefix.
    public var message: String

    /// Creates an error at `location` (or without one).
    public init(_ message: String, at location: SSHConfigLocation?) {
        self.message = message
        self.location = location
    }

    /// `<file> line <n>: <message>` or just the message when there is no location.
    public var description: String {
        guard let location else { return message }
        return "\(location): \(message)"
    }
}

// MARK: - Warning

/// Something ignored while reading: an unknown keyword or an unsupported `Match` criterion.
/// Never fatal; the CLI may print these with `--verbose`.
public struct SSHConfigWarning: Sendable, Equatable, CustomStringConvertible {
    /// Where it was found.
    public var location: SSHConfigLocation
    /// What was ignored and why.
    public var message: String

    /// Creates a warning.
    public init(_ message: String, at location: SSHConfigLocation) {
        self.message = message
        self.location = location
    }

    /// `<file> line <n>: <message>`
    public var description: String { "\(location): \(message)" }
}
