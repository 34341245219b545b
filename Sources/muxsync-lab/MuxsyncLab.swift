import ArgumentParser
import Foundation

// MARK: - muxsync-lab

/// `muxsync-lab`: a private sshd and a delaying TCP proxy, for demos and benchmarks.
@main
struct MuxsyncLab: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "muxsync-lab",
        abstract: "A private OpenSSH sshd and a delaying TCP proxy for muxsync demos and benchmarks.",
        discussion: """
            Typical session, in two terminals:

              muxsync-lab sshd --dir /tmp/lab
              . /tmp/lab/env; muxsync-lab proxy --target 127.0.0.1:$LAB_PORT --port-file /tmp/lab/proxy.port

            `ssh -F $LAB_SSH_CONFIG muxsync-test true` then reaches the sshd directly, and adding `-o Port=$(cat /tmp/lab/proxy.port) -o HostKeyAlias=$LAB_HOST_KEY_ALIAS` reaches it through the proxy (25 ms each way by default). Both commands stay in the foreground until SIGINT or SIGTERM.
            """,
        subcommands: [SSHDCommand.self, ProxyCommand.self]
    )
}

// MARK: - Output

/// Writes one line to stdout at once (unbuffered, so scripts reading a pipe see it).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Writes one line to stderr.
func complain(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// Writes `text` to `path` atomically (temp file + rename).
func writeAtomically(_ text: String, to path: String) throws {
    do {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    } catch {
        throw ValidationError("cannot write \(path): \(error.localizedDescription)")
    }
}
