import Foundation
import MuxSSHConfig

// MARK: - From ssh_config to a connection target

extension SSHTarget {
    /// The target for a host resolved from ssh_config. `acceptNewHostKey`
    /// (the `--accept-new` flag) accepts an unknown host key, never a changed one.
    public init(resolved: ResolvedHost, acceptNewHostKey: Bool = false) throws {
        if let jump = resolved.proxyJump {
            throw TransportError(.connect, endpoint: "\(resolved.user)@\(resolved.hostName):\(resolved.port)",
                                 "ssh config sets ProxyJump \(jump) for \(resolved.alias), which muxsync does not support yet",
                                 hint: "forward a local port with `ssh -L PORT:\(resolved.hostName):\(resolved.port) \(jump)` "
                                     + "and point a Host entry at 127.0.0.1 and that port")
        }
        if resolved.proxyCommand != nil {
            throw TransportError(.connect, endpoint: "\(resolved.user)@\(resolved.hostName):\(resolved.port)",
                                 "ssh config sets ProxyCommand for \(resolved.alias), which muxsync does not support yet",
                                 hint: "use a forwarded local port (ssh -L) and a Host entry for it")
        }
        let policy: UnknownHostPolicy
        switch resolved.strictHostKeyChecking {
        case .no: policy = .acceptAny
        case .acceptNew: policy = .acceptNew
        default: policy = acceptNewHostKey ? .acceptNew : .refuse
        }
        // Default key files: the kinds libssh2 1.10 can sign with first (RSA last: it
        // can only sign ssh-rsa/SHA-1), security-key and XMSS kinds dropped.
        var identityFiles = resolved.identityFiles
        if !resolved.identityFilesExplicit {
            let rank: (String) -> Int = { path in
                let name = PathText.lastComponent(of: path)
                switch name {
                case "id_ed25519": return 0
                case "id_ecdsa": return 1
                case "id_rsa": return 2
                default: return 9
                }
            }
            identityFiles = identityFiles.filter { rank($0) < 9 }.sorted { rank($0) < rank($1) }
        }
        self.init(alias: resolved.alias, hostName: resolved.hostName, port: resolved.port, user: resolved.user,
                  identityFiles: identityFiles, identitiesOnly: resolved.identitiesOnly,
                  knownHostsFiles: resolved.userKnownHostsFiles, unknownHostPolicy: policy,
                  connectTimeout: .seconds(resolved.connectTimeout ?? 15),
                  keepaliveInterval: .seconds(resolved.serverAliveInterval > 0 ? resolved.serverAliveInterval : 15),
                  keepaliveCountMax: resolved.serverAliveCountMax, compression: resolved.compression)
        self.knownHostsAlias = resolved.hostKeyAlias
    }
}

// MARK: - From a destination to a target

extension SSHTarget {
    /// What `spec` means in ssh config (no network): `configFile` (-F) or the user's and the
    /// system's config. Also returns the config's warnings (for the caller's log).
    public static func resolve(_ spec: RemoteSpec, configFile: String?,
                               acceptNewHostKey: Bool) throws -> (target: SSHTarget, warnings: [String]) {
        let local = SSHLocalContext.current()
        let config: SSHConfig
        if let configFile {
            config = try SSHConfig.load(path: configFile, homeDirectory: local.homeDirectory, mustExist: true)
        } else {
            config = try SSHConfig.loadDefault(homeDirectory: local.homeDirectory)
        }
        let resolved = try config.resolve(host: spec.host, user: spec.user, port: spec.port, local: local)
        return (try SSHTarget(resolved: resolved, acceptNewHostKey: acceptNewHostKey), config.warnings.map { "\($0)" })
    }
}
