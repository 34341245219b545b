import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - SSHDServer

/// A real OpenSSH sshd on 127.0.0.1, private to one test or bench: its own config, throwaway
/// ed25519 host and client keys, and client files (`known_hosts`, `ssh_config` with
/// `Host muxsync-test`) in a directory of its own.
///
/// sshd runs in the foreground (`-D`), in a process group of its own, logging to `logPath`.
/// `stop()` (also run by deinit) ends its connection processes first, then sshd itself, and
/// reaps it. All state is behind a lock, so the server may be shared between tasks.
public final class SSHDServer: Sendable {
    // MARK: Constants

    /// The `Host` alias written to `ssh_config`.
    public static let hostAlias = "muxsync-test"
    /// Where sshd must be: it re-executes itself and refuses a relative path.
    public static let sshdPath = "/usr/sbin/sshd"
    /// Where sftp-server is looked for (Debian, Fedora, macOS).
    public static let sftpServerCandidates = [
        "/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server", "/usr/libexec/sftp-server",
    ]

    // MARK: Properties

    /// The port sshd listens on (kept across `restart()`).
    public let port: UInt16
    /// Always "127.0.0.1".
    public let host = "127.0.0.1"
    /// The login user (the current user).
    public let user: String
    /// The state directory.
    public let directory: URL
    /// Every file's path.
    public let files: SSHDFiles

    /// The default client key (ed25519, no passphrase, authorized).
    public var clientKeyPath: String { files.clientKey }
    /// known_hosts with `[127.0.0.1]:PORT ssh-ed25519 ...`.
    public var knownHostsPath: String { files.knownHosts }
    /// ssh_config with `Host muxsync-test`.
    public var sshConfigPath: String { files.sshConfig }
    /// sshd's log.
    public var logPath: String { files.log }
    /// The CURRENT host key as "ssh-ed25519 BASE64" (after `replaceHostKey()`, no longer the
    /// one in known_hosts).
    public var hostPublicKeyLine: String { state.withLock { $0.hostKeyLine } }
    /// sshd's pid while it runs.
    public var pid: Int32? { state.withLock { $0.process?.pid } }
    /// True while sshd runs.
    public var isRunning: Bool { state.withLock { $0.process?.isRunning ?? false } }

    private struct State {
        var process: ChildProcess?
        var hostKeyLine: String
        var trustedHostKeyLine: String
        var aliases: [(name: String, port: UInt16)]
        var keyCounter = 0
    }

    private let state: LabLock<State>
    private let ownsDirectory: Bool
    private let startTimeout: TimeInterval

    private init(port: UInt16, user: String, files: SSHDFiles, ownsDirectory: Bool,
                 process: ChildProcess, hostKeyLine: String, startTimeout: TimeInterval) {
        self.port = port
        self.user = user
        self.files = files
        self.directory = URL(fileURLWithPath: files.directory, isDirectory: true)
        self.ownsDirectory = ownsDirectory
        self.startTimeout = startTimeout
        state = LabLock(State(process: process, hostKeyLine: hostKeyLine, trustedHostKeyLine: hostKeyLine,
                              aliases: [(Self.hostAlias, port)]))
    }

    deinit {
        stop()
        if ownsDirectory { TemporaryDirectory.remove(files.directory) }
    }

    // MARK: Starting

    /// Creates keys and config, starts sshd and waits until its port accepts connections.
    /// - Parameters:
    ///   - directory: where to keep state (created; its old key files are replaced). nil: a new
    ///     temporary directory, removed when the server is deallocated.
    ///   - port: a fixed port; nil picks a free one (retrying if another process takes it first).
    ///   - extraConfig: sshd_config lines placed before the defaults (so they override them).
    ///   - sftpServerArguments: appended to the sftp-server command (e.g. `-P copy-data` to
    ///     refuse an extension, as an older or locked-down server would).
    ///   - timeout: seconds to wait for the port.
    public static func start(directory: String? = nil, port: UInt16? = nil, extraConfig: [String] = [],
                             sftpServerArguments: [String] = [],
                             timeout: TimeInterval = 15) throws -> SSHDServer {
        _ = try ChildProcess.resolveExecutable(sshdPath)
        guard let sftpServer = sftpServerCandidates.first(where: { access($0, X_OK) == 0 }) else {
            throw LabError.executableNotFound(name: "sftp-server",
                                              hint: "Install it: apt-get install openssh-sftp-server.")
        }
        try ensurePrivilegeSeparationDirectory()
        let path: String
        if let directory {
            path = URL(fileURLWithPath: directory).standardizedFileURL.path
            try TemporaryDirectory.ensure(path)
        } else {
            path = try TemporaryDirectory.make(prefix: "muxsync-sshd-")
        }
        let files = SSHDFiles(directory: path)
        try? FileManager.default.createDirectory(atPath: files.sessionHome, withIntermediateDirectories: true)
        do {
            for stale in [files.pidFile, files.log] { try? FileManager.default.removeItem(atPath: stale) }
            try SSHKeyTool.generate(type: "ed25519", path: files.hostKey, comment: "muxsync-lab-host")
            try SSHKeyTool.generate(type: "ed25519", path: files.clientKey, comment: "muxsync-lab-client")
            let hostKeyLine = try SSHKeyTool.publicKeyLine(publicKeyPath: files.hostKey + ".pub")
            let clientLine = try SSHKeyTool.publicKeyLine(publicKeyPath: files.clientKey + ".pub")
            try write(clientLine + " muxsync-lab-client\n", to: files.authorizedKeys)
            var attempt = 0
            while true {
                let chosen = try port ?? LabSocket.freePort()
                let config = files.sshdConfigText(port: chosen, sftpServer: ([sftpServer] + sftpServerArguments).joined(separator: " "), extra: extraConfig,
                                                  markSessions: versionAtLeast(8, 7),
                                                  perSourcePenaltiesSupported: versionAtLeast(9, 8))
                try write(config, to: files.sshdConfig)
                do {
                    let process = try launch(files: files, port: chosen, timeout: timeout)
                    let server = SSHDServer(port: chosen, user: currentUser(), files: files,
                                            ownsDirectory: directory == nil, process: process,
                                            hostKeyLine: hostKeyLine, startTimeout: timeout)
                    try server.writeClientFiles()
                    return server
                } catch StartFailure.addressInUse(let tail) {
                    attempt += 1
                    guard port == nil, attempt < 5 else {
                        throw LabError.sshdDidNotStart(reason: "port \(chosen) is already in use", logTail: tail)
                    }
                }
            }
        } catch {
            if directory == nil { TemporaryDirectory.remove(path) }
            throw error
        }
    }

    private enum StartFailure: Error {
        case addressInUse(String)
    }

    /// Spawns sshd and waits until it wrote its pid file and its port accepts a connection.
    private static func launch(files: SSHDFiles, port: UInt16, timeout: TimeInterval) throws -> ChildProcess {
        let process = try ChildProcess.spawn(
            sshdPath, ["-D", "-E", files.log, "-f", files.sshdConfig],
            environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"],
            stdout: .file(path: files.log, append: true), stderr: .file(path: files.log, append: true),
            newProcessGroup: true)
        let end = deadline(after: timeout)
        while true {
            if let ended = process.termination {
                let tail = logTail(path: files.log, lines: 20)
                if tail.contains("Address already in use") { throw StartFailure.addressInUse(tail) }
                throw LabError.sshdDidNotStart(reason: "sshd exited during start-up (\(ended))", logTail: tail)
            }
            let pidText = (try? String(contentsOfFile: files.pidFile, encoding: .utf8)) ?? ""
            if Int32(pidText.trimmingCharacters(in: .whitespacesAndNewlines)) == process.pid,
               LabSocket.canConnect(port: port, timeout: 0.5) {
                return process
            }
            if monotonicNanoseconds() >= end {
                process.terminate(grace: 1)
                throw LabError.sshdDidNotStart(reason: "port \(port) did not accept connections within \(timeout) s",
                                               logTail: logTail(path: files.log, lines: 20))
            }
            sleepSeconds(0.02)
        }
    }

    // MARK: Stopping and restarting

    /// Stops sshd: its connection processes (monitors, sessions, sftp-server) and whatever a
    /// session left running (found by the MUXSYNC_LAB_SSHD variable sshd set for it) first, then
    /// the listener, which is reaped. Safe to call twice; `restart()` starts it again.
    public func stop() {
        guard let process = state.withLock({ state -> ChildProcess? in
            defer { state.process = nil }
            return state.process
        }) else { return }
        var children = ProcessTree.descendants(of: process.pid)
        for pid in ProcessTree.processes(withEnvironment: SSHDFiles.sessionMarker, value: files.directory)
        where !children.contains(pid) {
            children.append(pid)
        }
        ProcessTree.terminate(children, grace: 1)
        process.terminate(grace: 3)
        for pid in children where ProcessTree.isAlive(pid) { kill(pid, SIGKILL) }
    }

    /// Stops sshd and starts it again on the same port with the same keys and config.
    public func restart() throws {
        stop()
        var attempt = 0
        while true {
            do {
                let process = try Self.launch(files: files, port: port, timeout: startTimeout)
                state.withLock { $0.process = process }
                return
            } catch StartFailure.addressInUse(let tail) {
                attempt += 1
                guard attempt < 20 else {
                    throw LabError.sshdDidNotStart(reason: "port \(port) is still in use after a restart", logTail: tail)
                }
                sleepSeconds(0.1)
            }
        }
    }

    // MARK: Keys

    /// Makes a new client key in the state directory.
    /// - Parameters:
    ///   - type: "ed25519", "ecdsa" or "rsa".
    ///   - passphrase: nil for an unencrypted key.
    ///   - authorize: add its public key to authorized_keys.
    /// - Returns: the private key's path (the public key is at path + ".pub").
    public func makeClientKey(type: String = "ed25519", passphrase: String? = nil, authorize: Bool = true) throws -> String {
        let number = state.withLock { state -> Int in
            state.keyCounter += 1
            return state.keyCounter
        }
        let path = files.directory + "/id_\(type)_\(number)"
        try SSHKeyTool.generate(type: type, path: path, passphrase: passphrase, comment: "muxsync-lab-\(type)-\(number)")
        if authorize { try self.authorize(publicKeyPath: path + ".pub") }
        return path
    }

    /// Appends a public key to authorized_keys (sshd reads it at each login: no restart).
    public func authorize(publicKeyPath: String) throws {
        let line = try SSHKeyTool.publicKeyLine(publicKeyPath: publicKeyPath)
        try state.withLock { _ in
            let existing = (try? String(contentsOfFile: files.authorizedKeys, encoding: .utf8)) ?? ""
            try Self.write(existing + line + " muxsync-lab\n", to: files.authorizedKeys)
        }
    }

    /// Gives sshd a NEW host key and restarts it. known_hosts keeps the OLD key on purpose: a
    /// client now sees a changed host key. `trustCurrentHostKey()` accepts the new one.
    public func replaceHostKey() throws {
        try SSHKeyTool.generate(type: "ed25519", path: files.hostKey, comment: "muxsync-lab-host")
        let line = try SSHKeyTool.publicKeyLine(publicKeyPath: files.hostKey + ".pub")
        state.withLock { $0.hostKeyLine = line }
        try restart()
    }

    /// Rewrites known_hosts with the current host key.
    public func trustCurrentHostKey() throws {
        state.withLock { $0.trustedHostKeyLine = $0.hostKeyLine }
        try writeClientFiles()
    }

    /// Adds `Host NAME` on `port` (a proxy in front of this sshd) to ssh_config, and
    /// `[127.0.0.1]:port` with the trusted host key to known_hosts.
    public func addHostAlias(_ name: String, port aliasPort: UInt16) throws {
        state.withLock { $0.aliases.append((name, aliasPort)) }
        try writeClientFiles()
    }

    // MARK: Commands for OpenSSH's own clients

    /// argv for OpenSSH `ssh` to this server (BatchMode=yes), running `remoteCommand`.
    /// - Parameter viaPort: connect to this port (a `DelayProxy`) instead, checking the host key
    ///   as `[127.0.0.1]:PORT` of the sshd itself.
    public func sshCommand(_ remoteCommand: [String] = [], viaPort: UInt16? = nil, options: [String] = []) -> [String] {
        [Self.clientPath("ssh")] + clientOptions(viaPort: viaPort) + options + [Self.hostAlias] + remoteCommand
    }

    /// argv for OpenSSH `sftp` to this server; `batchFile` ("-" for stdin) is passed as `-b`.
    public func sftpCommand(batchFile: String? = nil, viaPort: UInt16? = nil, options: [String] = []) -> [String] {
        [Self.clientPath("sftp")] + clientOptions(viaPort: viaPort) + options
            + (batchFile.map { ["-b", $0] } ?? []) + [Self.hostAlias]
    }

    private func clientOptions(viaPort: UInt16?) -> [String] {
        var options = ["-F", sshConfigPath, "-o", "BatchMode=yes"]
        if let viaPort {
            options += ["-o", "Port=\(viaPort)", "-o", "HostKeyAlias=[127.0.0.1]:\(port)"]
        }
        return options
    }

    private static func clientPath(_ name: String) -> String {
        (try? ChildProcess.resolveExecutable(name)) ?? name
    }

    // MARK: Files and logs

    /// The last `lines` lines of sshd's log.
    public func logTail(lines: Int = 30) -> String {
        Self.logTail(path: files.log, lines: lines)
    }

    /// The LAB_* shell assignments (see `SSHDFiles.environmentText`).
    public func environmentText() -> String {
        files.environmentText(port: port, user: user, alias: Self.hostAlias, sshdPID: pid)
    }

    private func writeClientFiles() throws {
        let (aliases, trusted) = state.withLock { ($0.aliases, $0.trustedHostKeyLine) }
        var ports: [UInt16] = []
        for alias in aliases where !ports.contains(alias.port) { ports.append(alias.port) }
        try Self.write(SSHDFiles.knownHostsText(ports: ports, hostPublicKeyLine: trusted), to: files.knownHosts)
        try Self.write(files.sshConfigText(aliases: aliases, user: user), to: files.sshConfig)
    }

    static func logTail(path: String, lines: Int) -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return "" }
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    static func write(_ text: String, to path: String) throws {
        do {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw LabError.file(path: path, reason: "cannot write: \(error.localizedDescription)")
        }
    }

    // MARK: Environment checks

    /// sshd's privilege-separation directory must exist (Debian: /run/sshd).
    private static func ensurePrivilegeSeparationDirectory() throws {
        #if os(Linux)
        let path = "/run/sshd"
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue { return }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o755])
        } catch {
            throw LabError.sshdDidNotStart(reason: "\(path) is missing and cannot be created (\(error.localizedDescription)); "
                                           + "create it as root: mkdir -p \(path)", logTail: "")
        }
        #endif
    }

    /// The login name of the effective user.
    static func currentUser() -> String {
        if let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name {
            return String(cString: name)
        }
        return ProcessInfo.processInfo.environment["USER"] ?? "root"
    }

    /// The installed OpenSSH version, asked once per process.
    private static let installedVersion: (Int, Int)? = openSSHVersion()

    /// True when OpenSSH is at least major.minor (false when unknown).
    private static func versionAtLeast(_ major: Int, _ minor: Int) -> Bool {
        installedVersion.map { $0 >= (major, minor) } ?? false
    }

    /// (major, minor) of OpenSSH, from `ssh -V`.
    static func openSSHVersion() -> (Int, Int)? {
        guard let result = try? ProcessRunner.run("ssh", ["-V"], timeout: 10) else { return nil }
        let text = result.stderr + result.stdout
        guard let range = text.range(of: "OpenSSH_") else { return nil }
        let digits = text[range.upperBound...].prefix { $0.isNumber || $0 == "." }.split(separator: ".")
        guard digits.count >= 2, let major = Int(digits[0]), let minor = Int(digits[1]) else { return nil }
        return (major, minor)
    }
}
