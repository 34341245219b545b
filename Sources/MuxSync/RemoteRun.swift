import Foundation
import MuxTransport

// MARK: - exec: a remote command whose Ctrl-C reaches it

/// Runs argv on the remote through the login shell, in `directory`, with
/// arguments quoted so they arrive exactly as given. libssh2 1.10 cannot send
/// SSH signal requests, so the command first reports its process id (it leads
/// its own process group under sshd) and `interrupt` signals that group over a
/// second exec channel.
public final class RemoteRun: Sendable {
    public let session: SSHSession
    public let arguments: [String]
    public let directory: String?
    /// The remote process id once reported, and interrupts asked for before that.
    private let process = Locked((pid: Int?.none, early: 0))
    private let signalsSent = Locked(0)
    static let marker = "muxsync-pid "

    public init(session: SSHSession, arguments: [String], directory: String?) {
        self.session = session
        self.arguments = arguments
        self.directory = directory
    }

    /// The command line the remote shell runs. The command is the list's last
    /// word, not `exec`'d: the shell runs it as `ssh HOST CMD` would (a builtin
    /// such as `true` or `echo` stays a builtin; bash replaces itself with any
    /// other command, dash forks it into the same process group). `exec` would
    /// force an external program and cost a process start (0.45 ms of a 7 ms
    /// `exec -- true`; docs/benchmarks.md).
    public var commandLine: String {
        var line = "echo \"\(Self.marker)$$\" >&2; "
        if let directory { line += "cd \(ShellQuote.quote(directory)) || exit; " }
        return line + ShellQuote.join(arguments)
    }

    /// Runs to completion, streaming output to the handlers.
    public func run(stdout: @escaping @Sendable ([UInt8]) -> Void,
                    stderr: @escaping @Sendable ([UInt8]) -> Void) async throws -> RemoteExit {
        let header = Locked((done: false, buffer: [UInt8]()))
        let process = self.process
        return try await session.execute(commandLine, stdout: stdout, stderr: { bytes in
            // Strip the first stderr line (the process id) and pass the rest on.
            let rest = header.withLock { state -> [UInt8] in
                if state.done { return bytes }
                state.buffer += bytes
                guard let newline = state.buffer.firstIndex(of: 10) else { return [] }
                let line = String(decoding: state.buffer[..<newline], as: UTF8.self)
                state.done = true
                if line.hasPrefix(Self.marker), let value = Int(line.dropFirst(Self.marker.count)) {
                    // A Ctrl-C that came before the command started is delivered now.
                    let deliver = process.withLock { s -> Bool in
                        s.pid = value
                        defer { s.early = 0 }
                        return s.early > 0
                    }
                    if deliver { Task { await self.interrupt() } }
                    return Array(state.buffer[(newline + 1)...])
                }
                return state.buffer
            }
            if !rest.isEmpty { stderr(rest) }
        })
    }

    /// Forwards a Ctrl-C: INT first, then TERM, then KILL on repeats.
    public func interrupt() async {
        let known = process.withLock { s -> Int? in
            if s.pid == nil { s.early += 1 }
            return s.pid
        }
        guard let pid = known else { return }
        let count = signalsSent.withLock { value -> Int in
            value += 1
            return value
        }
        let signal = count == 1 ? "INT" : count == 2 ? "TERM" : "KILL"
        _ = try? await session.execute("kill -\(signal) -- -\(pid) 2>/dev/null || kill -\(signal) \(pid)",
                                       stdout: { _ in }, stderr: { _ in })
    }
}
