import ArgumentParser
import Dispatch
import Foundation
import MuxTestSupport

// MARK: - muxsync-lab sshd

/// Runs the private sshd in the foreground.
struct SSHDCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sshd",
        abstract: "Run a private OpenSSH sshd on 127.0.0.1 with throwaway keys, in the foreground.",
        discussion: """
            Creates DIR if needed and writes into it: sshd_config; a fresh ed25519 host key; a fresh ed25519 client key id_ed25519 (no passphrase, authorized); known_hosts ("[127.0.0.1]:PORT ssh-ed25519 ..."); ssh_config with Host muxsync-test; sshd.log; and env, shell assignments to source with `. DIR/env`: LAB_PORT, LAB_SSH_CONFIG, LAB_KNOWN_HOSTS, LAB_KEY, LAB_USER, LAB_HOST, LAB_ALIAS, LAB_HOST_KEY_ALIAS, LAB_DIR, LAB_LOG, LAB_SSHD_PID and `export MUXSYNC_LAB_SSH_CONFIG=...`.

            Stays in the foreground until SIGINT, SIGTERM or SIGHUP, then stops sshd and its connection processes and removes DIR/env (the rest of DIR stays). Exits 1 if sshd dies on its own.

            Needs /usr/sbin/sshd (openssh-server), sftp-server (openssh-sftp-server) and ssh-keygen (openssh-client); as root it creates /run/sshd if missing.
            """
    )

    @Option(name: .long, help: ArgumentHelp("State directory (created).", valueName: "DIR"))
    var dir: String

    @Option(name: .long, help: "Port to listen on (default: a free port).")
    var port: UInt16?

    @Option(name: .long, help: ArgumentHelp(
        "Also write `Host NAME` on PORT to ssh_config and `[127.0.0.1]:PORT` to known_hosts, "
            + "for a proxy listening there (repeatable).",
        valueName: "NAME=PORT"))
    var alias: [String] = []

    @Option(name: .customLong("sshd-option"), help: ArgumentHelp(
        "An extra sshd_config line, placed before the defaults so it overrides them (repeatable).",
        valueName: "LINE"))
    var sshdOptions: [String] = []

    func validate() throws {
        for entry in alias {
            let parts = entry.split(separator: "=")
            guard parts.count == 2, !parts[0].isEmpty, UInt16(parts[1]) != nil else {
                throw ValidationError("--alias expects NAME=PORT, got \"\(entry)\"")
            }
        }
    }

    func run() throws {
        let waiter = SignalWaiter()
        let server: SSHDServer
        do {
            server = try SSHDServer.start(directory: dir, port: port, extraConfig: sshdOptions)
            for entry in alias {
                let parts = entry.split(separator: "=")
                if parts.count == 2, let aliasPort = UInt16(parts[1]) {
                    try server.addHostAlias(String(parts[0]), port: aliasPort)
                }
            }
            try writeAtomically(server.environmentText(), to: server.files.environment)
        } catch let error as LabError {
            throw ValidationError(error.description)
        }

        say("muxsync-lab sshd: listening on 127.0.0.1:\(server.port) (pid \(server.pid.map(String.init) ?? "?")), state in \(server.files.directory)")
        say("port: \(server.port)")
        say("export MUXSYNC_LAB_SSH_CONFIG=\(server.sshConfigPath)")
        say("host alias: \(SSHDServer.hostAlias)    try: ssh -F \(server.sshConfigPath) \(SSHDServer.hostAlias) true")
        say("env file: \(server.files.environment)    (. \(server.files.environment))")
        say("stop with Ctrl-C or SIGTERM")

        let watchdog = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "muxsync-lab.sshd-watch"))
        watchdog.schedule(deadline: .now() + 1, repeating: 1)
        watchdog.setEventHandler {
            if !server.isRunning { waiter.finish("sshd exited") }
        }
        watchdog.resume()

        let reason = waiter.wait()
        watchdog.cancel()
        let died = reason == "sshd exited"
        if died {
            complain("muxsync-lab sshd: sshd exited on its own; log tail:\n\(server.logTail(lines: 20))")
        }
        server.stop()
        try? FileManager.default.removeItem(atPath: server.files.environment)
        say("muxsync-lab sshd: stopped (\(reason))")
        if died { throw ExitCode.failure }
    }
}
