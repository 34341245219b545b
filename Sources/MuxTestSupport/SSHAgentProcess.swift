import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - SSHAgentProcess

/// A private OpenSSH `ssh-agent -D -a SOCKET`, its socket in a 0700 temporary directory.
/// Keys are added with `ssh-add` (a passphrase is supplied through SSH_ASKPASS, no terminal).
/// `stop()` (also run by deinit) kills and reaps the agent and removes the directory.
public final class SSHAgentProcess: Sendable {
    /// The agent's socket: put it in SSH_AUTH_SOCK.
    public let socketPath: String
    /// The private directory holding the socket.
    public let directory: String
    private let process: LabLock<ChildProcess?>

    /// `["SSH_AUTH_SOCK": socketPath]`.
    public var environment: [String: String] { ["SSH_AUTH_SOCK": socketPath] }

    /// The agent's pid while it runs.
    public var pid: Int32? { process.withLock { $0?.pid } }

    private init(socketPath: String, directory: String, process: ChildProcess) {
        self.socketPath = socketPath
        self.directory = directory
        self.process = LabLock(process)
    }

    deinit {
        stop()
    }

    // MARK: Lifecycle

    /// Starts the agent and waits (up to `timeout` seconds) until its socket exists.
    public static func start(timeout: TimeInterval = 10) throws -> SSHAgentProcess {
        let directory = try TemporaryDirectory.make(prefix: "muxsync-agent-")
        let socket = directory + "/agent.sock"
        let log = directory + "/agent.log"
        let child: ChildProcess
        do {
            child = try ChildProcess.spawn("ssh-agent", ["-D", "-a", socket],
                                           stdout: .file(path: log, append: true), stderr: .file(path: log, append: true),
                                           newProcessGroup: true)
        } catch {
            TemporaryDirectory.remove(directory)
            throw error
        }
        let end = deadline(after: timeout)
        while !FileManager.default.fileExists(atPath: socket) {
            let problem: String?
            if let ended = child.termination {
                problem = "it exited (\(ended)): " + ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
            } else if monotonicNanoseconds() >= end {
                problem = "its socket \(socket) did not appear within \(timeout) s"
            } else {
                problem = nil
            }
            if let problem {
                child.terminate(grace: 1)
                TemporaryDirectory.remove(directory)
                throw LabError.agentDidNotStart(reason: problem)
            }
            sleepSeconds(0.01)
        }
        return SSHAgentProcess(socketPath: socket, directory: directory, process: child)
    }

    /// Kills and reaps the agent, removes its directory. Safe to call twice.
    public func stop() {
        let child = process.withLock { current -> ChildProcess? in
            defer { current = nil }
            return current
        }
        guard let child else { return }
        child.terminate(grace: 2)
        TemporaryDirectory.remove(directory)
    }

    // MARK: Keys

    /// Adds a private key to the agent.
    /// - Parameter passphrase: for an encrypted key; handed to ssh-add through an SSH_ASKPASS
    ///   helper script (0700, in the agent's private directory), never on a command line.
    public func add(keyPath: String, passphrase: String? = nil) throws {
        var environment = ProcessRunner.environment(adding: self.environment)
        if let passphrase {
            let helper = directory + "/askpass.sh"
            try SSHDServer.write("#!/bin/sh\nprintf '%s\\n' \"$MUXSYNC_LAB_ASKPASS_SECRET\"\n", to: helper)
            chmod(helper, 0o700)
            environment["SSH_ASKPASS"] = helper
            environment["SSH_ASKPASS_REQUIRE"] = "force"
            environment["DISPLAY"] = environment["DISPLAY"] ?? ":0"
            environment["MUXSYNC_LAB_ASKPASS_SECRET"] = passphrase
        }
        try ProcessRunner.run("ssh-add", [keyPath], environment: environment, timeout: 30).check()
    }

    /// `ssh-add -l` lines (one per key; empty when the agent holds none).
    public func listKeys() throws -> [String] {
        let result = try ProcessRunner.run("ssh-add", ["-l"], environment: ProcessRunner.environment(adding: environment),
                                           timeout: 30)
        // Exit status 1 means "no identities".
        guard result.succeeded else { return [] }
        return result.stdout.split(separator: "\n").map(String.init)
    }

    /// Removes every key from the agent.
    public func removeAllKeys() throws {
        try ProcessRunner.run("ssh-add", ["-D"], environment: ProcessRunner.environment(adding: environment),
                              timeout: 30).check()
    }
}
