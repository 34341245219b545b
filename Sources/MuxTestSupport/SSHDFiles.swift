import Foundation

// MARK: - SSHDFiles

/// The files of one private sshd, all inside its directory, and the text that goes into them.
/// Pure: nothing here touches the disk.
public struct SSHDFiles: Sendable, Equatable {
    /// The directory holding everything.
    public let directory: String

    /// Wraps a state directory.
    public init(directory: String) {
        self.directory = directory
    }

    // MARK: Paths

    /// The environment variable every session of the server carries (value: the directory).
    public static let sessionMarker = "MUXSYNC_LAB_SSHD"

    /// The HOME of the lab's sessions: an empty directory inside the lab.
    public var sessionHome: String { directory + "/session-home" }

    /// sshd's own configuration (`-f`).
    public var sshdConfig: String { directory + "/sshd_config" }
    /// The host's private key (ed25519); the public key is at `hostKey + ".pub"`.
    public var hostKey: String { directory + "/ssh_host_ed25519_key" }
    /// The default client key (ed25519, no passphrase); public key at `clientKey + ".pub"`.
    public var clientKey: String { directory + "/id_ed25519" }
    /// Public keys that may log in.
    public var authorizedKeys: String { directory + "/authorized_keys" }
    /// Client-side known_hosts holding the host key under `[127.0.0.1]:PORT`.
    public var knownHosts: String { directory + "/known_hosts" }
    /// Client-side ssh_config with `Host muxsync-test`.
    public var sshConfig: String { directory + "/ssh_config" }
    /// sshd's PidFile.
    public var pidFile: String { directory + "/sshd.pid" }
    /// sshd's log (`-E`), also its stdout/stderr.
    public var log: String { directory + "/sshd.log" }
    /// Shell-sourceable LAB_* variables (written by `muxsync-lab sshd`).
    public var environment: String { directory + "/env" }

    // MARK: sshd_config

    /// The server configuration.
    /// - Parameters:
    ///   - extra: further lines, put BEFORE the defaults: in sshd_config the first value of an
    ///     option wins, so these override them (a second `Subsystem sftp` is an error, though).
    ///   - markSessions: add `SetEnv MUXSYNC_LAB_SSHD=<directory>` (OpenSSH >= 8.7), so that
    ///     programs a session left running can be found and ended when the server stops.
    ///   - perSourcePenaltiesSupported: add `PerSourcePenalties no` (OpenSSH >= 9.8).
    public func sshdConfigText(port: UInt16, sftpServer: String, extra: [String] = [],
                               markSessions: Bool = false, perSourcePenaltiesSupported: Bool = false) -> String {
        var lines = [
            "# muxsync-lab private sshd: generated, throwaway",
            "ListenAddress 127.0.0.1:\(port)",
            "HostKey \(hostKey)",
            "AuthorizedKeysFile \(authorizedKeys)",
            "PidFile \(pidFile)",
            "StrictModes no",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password",
            "UsePAM no",
            "Subsystem sftp \(sftpServer)",
            "MaxSessions 64",
            "MaxStartups 100",
            "MaxAuthTries 20",
            "LoginGraceTime 30",
            "UseDNS no",
            "PrintMotd no",
            "PrintLastLog no",
            "X11Forwarding no",
            "AllowTcpForwarding yes",
            "LogLevel VERBOSE",
        ]
        if markSessions {
            // Sessions also get an empty HOME: the login shell sshd starts for every channel
            // then sources no rc files, so the user's ~/.bashrc (a slow `pyenv init`, a stale
            // lock, a banner) cannot slow or break the tests. sshd keeps the first SetEnv only.
            lines.append("SetEnv \"\(Self.sessionMarker)=\(directory)\" \"HOME=\(sessionHome)\"")
        }
        if perSourcePenaltiesSupported {
            // OpenSSH >= 9.8 would otherwise slow down fault tests that fail on purpose.
            lines.append("PerSourcePenalties no")
        }
        return (extra + lines).joined(separator: "\n") + "\n"
    }

    // MARK: Client side

    /// The known_hosts line for the host key reached at `port`.
    public static func knownHostsLine(port: UInt16, hostPublicKeyLine: String) -> String {
        "[127.0.0.1]:\(port) \(hostPublicKeyLine)"
    }

    /// known_hosts text: the sshd's own port first, then extra ports (proxies in front of it).
    public static func knownHostsText(ports: [UInt16], hostPublicKeyLine: String) -> String {
        ports.map { knownHostsLine(port: $0, hostPublicKeyLine: hostPublicKeyLine) }.joined(separator: "\n") + "\n"
    }

    /// One `Host` block of the client ssh_config.
    public func hostBlock(alias: String, port: UInt16, user: String) -> String {
        """
        Host \(alias)
          HostName 127.0.0.1
          Port \(port)
          User \(user)
          IdentityFile \(clientKey)
          IdentitiesOnly yes
          UserKnownHostsFile \(knownHosts)
          StrictHostKeyChecking yes

        """
    }

    /// The client ssh_config: one block per (alias, port).
    public func sshConfigText(aliases: [(name: String, port: UInt16)], user: String) -> String {
        "# muxsync-lab private sshd: generated, throwaway\n"
            + aliases.map { hostBlock(alias: $0.name, port: $0.port, user: user) }.joined(separator: "\n")
    }

    // MARK: Environment file

    /// Shell-sourceable assignments (values single-quoted).
    public func environmentText(port: UInt16, user: String, alias: String, sshdPID: Int32?) -> String {
        var pairs: [(String, String)] = [
            ("LAB_DIR", directory),
            ("LAB_HOST", "127.0.0.1"),
            ("LAB_PORT", String(port)),
            ("LAB_USER", user),
            ("LAB_ALIAS", alias),
            ("LAB_SSH_CONFIG", sshConfig),
            ("LAB_KNOWN_HOSTS", knownHosts),
            ("LAB_KEY", clientKey),
            ("LAB_HOST_KEY_ALIAS", "[127.0.0.1]:\(port)"),
            ("LAB_LOG", log),
        ]
        if let sshdPID { pairs.append(("LAB_SSHD_PID", String(sshdPID))) }
        var text = pairs.map { "\($0.0)=\(Self.shellQuoted($0.1))" }.joined(separator: "\n")
        text += "\nexport MUXSYNC_LAB_SSH_CONFIG=\(Self.shellQuoted(sshConfig))\n"
        return text
    }

    /// `value` in single quotes, safe for sh.
    public static func shellQuoted(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
