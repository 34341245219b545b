import Foundation
import MuxTransport

// MARK: - exec: a remote command whose Ctrl-C reaches it

/// Runs argv on the remote through the login shell (POSIX sh or fish), in `directory`,
/// with arguments quoted so they arrive exactly as given. libssh2 1.10 cannot send
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

    /// The command line a login shell of `shell`'s kind runs. The command is the list's
    /// last word, not `exec`'d: the shell runs it as `ssh HOST CMD` would (a builtin such
    /// as `true` or `echo` stays a builtin; bash replaces itself with any other command,
    /// dash forks it into the same process group). `exec` would force an external program
    /// and cost a process start (0.45 ms of a 7 ms `exec -- true`; docs/benchmarks.md).
    func commandLine(for shell: RemoteShell) -> String {
        var line = "echo \"\(Self.marker)\(shell.pidVariable)\" >&2; "
        if let directory { line += "cd \(ShellQuote.quote(directory)) || exit; " }
        return line + ShellQuote.join(arguments)
    }

    /// Runs to completion, streaming output to the handlers. A login shell that turns out
    /// to be fish refuses the POSIX line before running anything (fish parses it whole and
    /// has no `$$`): the line is sent again in fish's words, and the session remembers it.
    public func run(stdout: @escaping @Sendable ([UInt8]) -> Void,
                    stderr: @escaping @Sendable ([UInt8]) -> Void) async throws -> RemoteExit {
        let shell = session.remoteShell
        let first = try await attempt(as: shell, stdout: stdout, stderr: stderr)
        guard first.refusedByFish, shell == .posix else { return first.exit }
        session.remoteShell = .fish
        return try await attempt(as: .fish, stdout: stdout, stderr: stderr).exit
    }

    /// One run of the command line in `shell`'s words. The first stderr line (the process
    /// id) is kept from the caller; if it is fish's complaint about the POSIX line instead,
    /// nothing of this attempt is passed on.
    private func attempt(as shell: RemoteShell, stdout: @escaping @Sendable ([UInt8]) -> Void,
                         stderr: @escaping @Sendable ([UInt8]) -> Void) async throws -> (exit: RemoteExit, refusedByFish: Bool) {
        let header = Locked((done: false, refused: false, buffer: [UInt8]()))
        let process = self.process
        let exit = try await session.execute(commandLine(for: shell), stdout: stdout, stderr: { bytes in
            let rest = header.withLock { state -> [UInt8] in
                if state.refused { return [] }
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
                if shell == .posix && line.hasPrefix("fish: ") {
                    state.refused = true
                    return []
                }
                return state.buffer
            }
            if !rest.isEmpty { stderr(rest) }
        })
        // A first line that never ended (a shell that failed without a newline) is still shown.
        let (refused, unfinished) = header.withLock { state in
            (state.refused, state.done ? [] : state.buffer)
        }
        if !unfinished.isEmpty { stderr(unfinished) }
        return (exit, refused)
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
