// MARK: - StrictHostKeyChecking

/// The `StrictHostKeyChecking` policy. OpenSSH's `off`/`false` map to ``no``, `true` to ``yes``.
public enum StrictHostKeyChecking: String, Sendable, Equatable, CaseIterable {
    /// Never add keys automatically; refuse unknown and changed keys.
    case yes
    /// Accept unknown keys (and add them) and connect despite a changed key (OpenSSH then
    /// disables password authentication). muxsync should still warn loudly.
    case no
    /// Ask the user about unknown keys. muxsync is non-interactive, so it treats this as
    /// refusing unknown keys (like ``yes``). This is the default.
    case ask
    /// Add unknown keys automatically, refuse changed keys (`accept-new`).
    case acceptNew = "accept-new"

    /// Whether a host whose key is not in any known_hosts file may be connected to
    /// (its key then being recorded).
    public var acceptsUnknownHostKey: Bool { self == .no || self == .acceptNew }

    /// Whether a host whose key differs from the recorded one may be connected to.
    public var acceptsChangedHostKey: Bool { self == .no }

    /// Parses a configuration value case-insensitively: yes, true, no, false, off, ask, accept-new.
    public init?(configValue: String) {
        switch ConfigLineTokenizer.asciiLowercased(configValue) {
        case "yes", "true": self = .yes
        case "no", "false", "off": self = .no
        case "ask": self = .ask
        case "accept-new": self = .acceptNew
        default: return nil
        }
    }
}

// MARK: - ResolvedHost

/// The effective settings for one destination, as `ssh -G` would compute them from the
/// configuration, with defaults filled in and `~`, `%` tokens and `${VAR}` expanded.
public struct ResolvedHost: Sendable, Equatable {
    /// The name given on the command line (what `Host` patterns were matched against).
    public var alias: String
    /// The host to connect to: `HostName` with `%h` expanded, or the alias; lowercased unless it
    /// is an IPv6 address (as OpenSSH does).
    public var hostName: String
    /// The remote user: command line, then `User`, then the local user.
    public var user: String
    /// The remote port: command line, then `Port`, then 22.
    public var port: Int
    /// Identity files to try, in order, with `~` and tokens expanded. Files need not exist.
    /// `IdentityFile none` entries are dropped.
    public var identityFiles: [String]
    /// True when the list came from `IdentityFile` lines, false when it is the default list.
    public var identityFilesExplicit: Bool
    /// `IdentitiesOnly`: use only the listed files, not every agent key.
    public var identitiesOnly: Bool
    /// Known-hosts files to check (and append to), expanded; empty for `UserKnownHostsFile none`.
    public var userKnownHostsFiles: [String]
    /// The host-key policy (default ``StrictHostKeyChecking/ask``).
    public var strictHostKeyChecking: StrictHostKeyChecking
    /// `HostKeyAlias`: the name to look up in known_hosts instead of the host name.
    public var hostKeyAlias: String?
    /// `ConnectTimeout` in seconds; nil when unset or 0 (no timeout beyond the system's).
    public var connectTimeout: Int?
    /// `ServerAliveInterval` in seconds; 0 disables keepalives.
    public var serverAliveInterval: Int
    /// `ServerAliveCountMax` (default 3).
    public var serverAliveCountMax: Int
    /// `Compression` (default false).
    public var compression: Bool
    /// `ProxyJump` as written (unsupported by muxsync for now); nil when unset or `none`.
    public var proxyJump: String?
    /// `ProxyCommand` as written, tokens not expanded (unsupported by muxsync for now);
    /// nil when unset or `none`.
    public var proxyCommand: String?

    /// Memberwise initializer.
    public init(alias: String, hostName: String, user: String, port: Int, identityFiles: [String],
                identityFilesExplicit: Bool, identitiesOnly: Bool, userKnownHostsFiles: [String],
                strictHostKeyChecking: StrictHostKeyChecking, hostKeyAlias: String? = nil,
                connectTimeout: Int?, serverAliveInterval: Int, serverAliveCountMax: Int,
                compression: Bool, proxyJump: String?, proxyCommand: String?) {
        self.alias = alias
        self.hostName = hostName
        self.user = user
        self.port = port
        self.identityFiles = identityFiles
        self.identityFilesExplicit = identityFilesExplicit
        self.identitiesOnly = identitiesOnly
        self.userKnownHostsFiles = userKnownHostsFiles
        self.strictHostKeyChecking = strictHostKeyChecking
        self.hostKeyAlias = hostKeyAlias
        self.connectTimeout = connectTimeout
        self.serverAliveInterval = serverAliveInterval
        self.serverAliveCountMax = serverAliveCountMax
        self.compression = compression
        self.proxyJump = proxyJump
        self.proxyCommand = proxyCommand
    }

    /// True when the destination needs a jump host or proxy command, which muxsync does not
    /// support yet.
    public var usesProxy: Bool { proxyJump != nil || proxyCommand != nil }

    /// The name to look up in known_hosts files: `HostKeyAlias`, else `[host]:port` for a
    /// non-22 port, else the host name (OpenSSH's known_hosts convention).
    public var knownHostsName: String {
        if let hostKeyAlias { return hostKeyAlias }
        return port == 22 ? hostName : "[\(hostName)]:\(port)"
    }

    // MARK: Defaults

    /// OpenSSH's default identity files (9.x order), relative to `~`.
    public static let defaultIdentityFiles: [String] = [
        "~/.ssh/id_rsa", "~/.ssh/id_ecdsa", "~/.ssh/id_ecdsa_sk", "~/.ssh/id_ed25519",
        "~/.ssh/id_ed25519_sk", "~/.ssh/id_xmss", "~/.ssh/id_dsa",
    ]

    /// OpenSSH's default user known-hosts files.
    public static let defaultUserKnownHostsFiles: [String] = [
        "~/.ssh/known_hosts", "~/.ssh/known_hosts2",
    ]
}
