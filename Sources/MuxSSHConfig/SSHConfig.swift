import Foundation

// MARK: - SSHConfig

/// A parsed set of OpenSSH client configuration files (ssh_config(5)): the user's file and
/// optionally the system file, with their `Include`s already read.
///
/// Values of the keywords muxsync uses are validated at load time (like OpenSSH, even in blocks
/// that do not apply to the current host); which blocks apply is decided by ``resolve(host:user:port:local:)``.
///
/// ```swift
/// let local = SSHLocalContext.current()
/// let config = try SSHConfig.loadDefault(homeDirectory: local.homeDirectory)
/// let target = try config.resolve(host: "pytorch-server", local: local)
/// // target.hostName, target.port, target.identityFiles, ...
/// ```
public struct SSHConfig: Sendable {
    /// One top-level file: its entries and whether it is the system configuration.
    struct Source: Sendable {
        var path: String
        var entries: [ConfigEntry]
    }

    var sources: [Source]
    /// Some file has `Match final`: resolution makes OpenSSH's second pass.
    var wantsFinalPass = false

    /// Things that were ignored: unknown keywords, unsupported `Match` criteria, directories
    /// named by `Include`. Never fatal.
    public private(set) var warnings: [SSHConfigWarning]

    /// An empty configuration: resolving gives OpenSSH's defaults.
    public init() {
        sources = []
        warnings = []
    }

    /// An empty configuration.
    public static let empty = SSHConfig()

    /// True when no file contributed any entry.
    public var isEmpty: Bool { sources.allSatisfy { $0.entries.isEmpty } }

    /// The top-level files read, in precedence order.
    public var files: [String] { sources.map(\.path) }

    // MARK: Loading

    /// Parses configuration text as a user configuration: relative `Include` paths are
    /// under `homeDirectory/.ssh`. `path` is used for messages and Include loop detection.
    public static func parse(_ text: String, path: String, homeDirectory: String) throws -> SSHConfig {
        try parse(text, path: path, homeDirectory: homeDirectory, isSystem: false)
    }

    /// Parses text as a user (`isSystem == false`) or system configuration (relative
    /// `Include`s under `/etc/ssh`, no `~`).
    public static func parse(_ text: String, path: String, homeDirectory: String, isSystem: Bool) throws -> SSHConfig {
        var parser = ConfigParser(homeDirectory: homeDirectory, isSystem: isSystem)
        let entries = try parser.parse(text: text, path: path)
        var config = SSHConfig()
        config.sources = [Source(path: path, entries: entries)]
        config.warnings = parser.warnings
        config.wantsFinalPass = parser.wantsFinalPass
        return config
    }

    /// Reads and parses a user configuration file. A missing file gives an empty configuration
    /// unless `mustExist` (use that for an explicit `-F FILE`).
    public static func load(path: String, homeDirectory: String, mustExist: Bool = false) throws -> SSHConfig {
        try load(path: path, homeDirectory: homeDirectory, mustExist: mustExist, isSystem: false)
    }

    /// Reads the user's `~/.ssh/config` and then, unless `systemConfigPath` is nil, the
    /// system configuration (OpenSSH's order: user values win). Missing files are skipped.
    public static func loadDefault(homeDirectory: String,
                                   systemConfigPath: String? = "/etc/ssh/ssh_config") throws -> SSHConfig {
        var config = try load(path: IncludeGlob.join(homeDirectory, ".ssh/config"),
                              homeDirectory: homeDirectory, mustExist: false, isSystem: false)
        if let systemConfigPath {
            config = config.appending(try load(path: systemConfigPath, homeDirectory: homeDirectory,
                                               mustExist: false, isSystem: true))
        }
        return config
    }

    private static func load(path: String, homeDirectory: String, mustExist: Bool, isSystem: Bool) throws -> SSHConfig {
        let display = SSHConfigLocation.abbreviate(path, homeDirectory: homeDirectory)
        guard let kind = PlainFile.kind(of: path) else {
            if mustExist {
                throw SSHConfigError("configuration file '\(display)' does not exist", at: nil)
            }
            return SSHConfig()
        }
        guard kind != .directory else {
            throw SSHConfigError("configuration file '\(display)' is a directory, not a file", at: nil)
        }
        guard let data = PlainFile.contents(of: path) else {
            throw SSHConfigError("cannot read configuration file '\(display)' (check its permissions)", at: nil)
        }
        return try parse(String(decoding: data, as: UTF8.self), path: path,
                         homeDirectory: homeDirectory, isSystem: isSystem)
    }

    /// This configuration followed by `other` (whose values only fill what is still unset).
    public func appending(_ other: SSHConfig) -> SSHConfig {
        var result = self
        result.sources += other.sources
        result.warnings += other.warnings
        result.wantsFinalPass = wantsFinalPass || other.wantsFinalPass
        return result
    }

    // MARK: Resolving

    /// Resolves the settings for `host` (the alias as typed) like `ssh -G`.
    ///
    /// - Parameters:
    ///   - user: a user from the destination (`user@host`); it wins over `User`.
    ///   - port: a port from the destination or command line; it wins over `Port`.
    ///   - local: local user, home directory and other facts used by defaults and tokens.
    /// - Throws: ``SSHConfigError`` when a token or `~user` cannot be expanded, or the host is
    ///   empty.
    public func resolve(host: String, user: String? = nil, port: Int? = nil, local: SSHLocalContext) throws -> ResolvedHost {
        guard !host.isEmpty else {
            throw SSHConfigError("empty host name (expected [user@]host)", at: nil)
        }
        if let port, !(1...65535).contains(port) {
            throw SSHConfigError("port \(port) is out of range (expected 1-65535)", at: nil)
        }
        var resolver = HostResolver(alias: host, user: user, port: port, local: local)
        for source in sources {
            try resolver.applyFile(source.entries)
        }
        if wantsFinalPass {
            try resolver.beginFinalPass()
            for source in sources {
                try resolver.applyFile(source.entries)
            }
        }
        return try resolver.finish()
    }

    /// Convenience form of ``resolve(host:user:port:local:)`` with just the local user and home.
    public func resolve(host: String, user: String?, port: Int?, localUser: String,
                        homeDirectory: String) throws -> ResolvedHost {
        try resolve(host: host, user: user, port: port,
                    local: SSHLocalContext(user: localUser, homeDirectory: homeDirectory))
    }

    /// Resolves a parsed destination (`user@host:path`), using its user and port.
    public func resolve(_ destination: RemoteSpec, local: SSHLocalContext) throws -> ResolvedHost {
        try resolve(host: destination.host, user: destination.user, port: destination.port, local: local)
    }
}
