import Foundation
import MuxSSHConfig
import MuxTestSupport
@testable import MuxTransport

/// Targets for a lab sshd, the way the CLI builds them (through ssh_config).
enum TestTargets {
    /// The target for the lab's `muxsync-test` alias, resolved from its ssh_config.
    static func resolved(_ server: SSHDServer, acceptNew: Bool = false) throws -> SSHTarget {
        let config = try SSHConfig.load(path: server.sshConfigPath, homeDirectory: NSHomeDirectory(), mustExist: true)
        let host = try config.resolve(host: SSHDServer.hostAlias, local: .current())
        return try SSHTarget(resolved: host, acceptNewHostKey: acceptNew)
    }

    /// A target built directly, with a chosen key and known_hosts file.
    static func direct(_ server: SSHDServer, key: String? = nil, knownHosts: String? = nil,
                       policy: UnknownHostPolicy = .refuse) -> SSHTarget {
        SSHTarget(alias: "lab", hostName: server.host, port: Int(server.port), user: server.user,
                  identityFiles: [key ?? server.clientKeyPath], identitiesOnly: true,
                  knownHostsFiles: [knownHosts ?? server.knownHostsPath], unknownHostPolicy: policy)
    }

    /// Connects without any agent, so only the key files count.
    static func connect(_ target: SSHTarget, agent: String? = nil) async throws -> SSHSession {
        try await SSHSession.connect(to: target, options: ConnectOptions(agentSocket: agent, passphrase: nil))
    }

    /// A fresh empty directory under the test's temporary root.
    static func scratchDirectory(_ name: String = "remote") throws -> String {
        let path = NSTemporaryDirectory() + "muxsync-test-\(name)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
