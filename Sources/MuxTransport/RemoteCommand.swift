import CLibSSH2
import Foundation

// MARK: - Running a command on the remote over an exec channel

/// How a remote command ended.
public struct RemoteExit: Sendable, Equatable {
    /// The exit status, or nil when a signal ended the command.
    public var status: Int32?
    /// The signal's name ("INT", "KILL"...) when one ended it.
    public var signal: String?

    /// The status a local shell would report: the status, or 128 + signal number.
    public var shellStatus: Int32 {
        if let status { return status }
        let numbers: [String: Int32] = ["HUP": 1, "INT": 2, "QUIT": 3, "KILL": 9, "SEGV": 11, "PIPE": 13, "TERM": 15]
        return 128 + (signal.flatMap { numbers[$0] } ?? 1)
    }
}

/// The language of the remote login shell, which runs every exec request's command line.
/// bash, dash, zsh and ksh speak POSIX sh; fish (a common login shell of developers) reads
/// quotes the same way once backslashes stand outside them (`ShellQuote`), but has no `$$`.
public enum RemoteShell: Sendable, Equatable {
    case posix, fish

    /// The variable holding the shell's own process id.
    public var pidVariable: String { self == .fish ? "$fish_pid" : "$$" }
}

extension SSHSession {
    /// What this server's login shell speaks, as far as an exec has shown (POSIX until then).
    public var remoteShell: RemoteShell {
        get { shellDialect.withLock { $0 } }
        set { shellDialect.withLock { $0 = newValue } }
    }

    /// Runs `command` (a shell command line) on the remote over a new exec
    /// channel of this session: output is handed to `stdout`/`stderr` as it
    /// arrives (on the session thread: keep the handlers quick), standard input
    /// is closed at once, and the exit status comes back when the remote closes
    /// the channel.
    public func execute(_ command: String,
                        stdout: @escaping @Sendable ([UInt8]) -> Void,
                        stderr: @escaping @Sendable ([UInt8]) -> Void) async throws -> RemoteExit {
        try await onThread { loop, done in
            Self.start(command, on: loop, spareAllowed: true, stdout: stdout, stderr: stderr, done)
        }
    }

    /// Keeps a session channel open ahead for the next `execute` (one round trip
    /// less per command). For processes that serve commands: watch, `muxsync connect`.
    public func keepSpareCommandChannel() {
        inbox.submit({ loop in loop.keepSpareCommandChannel() }, onFailure: { _ in })
    }

    /// Whether a channel kept ahead is open now (for tests and status).
    public var hasSpareCommandChannel: Bool {
        get async { (try? await onThread { loop, done in done(.success(loop.hasSpareCommandChannel)) }) ?? false }
    }

    private static func start(_ command: String, on loop: SessionLoop, spareAllowed: Bool,
                              stdout: @escaping @Sendable ([UInt8]) -> Void,
                              stderr: @escaping @Sendable ([UInt8]) -> Void,
                              _ done: @escaping @Sendable (Result<RemoteExit, TransportError>) -> Void) {
        loop.enqueueSetup(SessionLoop.SetupOp(attempt: { loop in
            let spare = spareAllowed ? loop.takeSpareCommandChannel() : nil
            guard let raw = spare ?? muxsync_channel_open(loop.session, RemoteCommandChannel.window, RemoteCommandChannel.packet) else {
                if libssh2_session_last_errno(loop.session) == LIBSSH2_ERROR_EAGAIN { return .again }
                done(.failure(loop.error(.channel, "opening an exec channel")))
                return .finished
            }
            var started = false
            var eofSent = false
            loop.enqueueParallel(SessionLoop.SetupOp(attempt: { loop in
                if !started {
                    let rc = command.withCString { libssh2_channel_process_startup(raw, "exec", 4, $0, UInt32(strlen($0))) }
                    if rc == LIBSSH2_ERROR_EAGAIN { return .again }
                    if rc != 0 {
                        loop.releaseChannel(raw)
                        if spare != nil {
                            // The server may have closed the channel kept ahead: a fresh one.
                            start(command, on: loop, spareAllowed: false, stdout: stdout, stderr: stderr, done)
                        } else {
                            done(.failure(loop.error(.channel, "starting the remote command")))
                        }
                        return .finished
                    }
                    started = true
                    let channel = ChannelCore(raw: raw, label: "exec")
                    channel.onData = { stdout(Array($0)) }
                    channel.onStderr = { stderr(Array($0)) }
                    channel.onEnd = { error in if let error { done(.failure(error)) } }
                    channel.onRemoteEOF = { [unowned channel] in
                        loop.enqueueParallel(Self.awaitExit(channel, done))
                    }
                    loop.attach(channel)
                }
                if !eofSent {  // no standard input: tell the command at once
                    if libssh2_channel_send_eof(raw) == LIBSSH2_ERROR_EAGAIN { return .again }
                    eofSent = true
                }
                return .finished
            }, abort: { done(.failure($0)) }))
            return .finished
        }, abort: { done(.failure($0)) }))
    }

    /// Waits for the remote's CLOSE (the exit status comes just before it),
    /// reads the status or signal, then ends the channel.
    private static func awaitExit(_ channel: ChannelCore,
                                  _ done: @escaping @Sendable (Result<RemoteExit, TransportError>) -> Void) -> SessionLoop.SetupOp {
        SessionLoop.SetupOp(attempt: { loop in
            let rc = libssh2_channel_wait_closed(channel.raw)
            if rc == LIBSSH2_ERROR_EAGAIN { return .again }
            var name: UnsafeMutablePointer<CChar>?
            var length = 0
            _ = libssh2_channel_get_exit_signal(channel.raw, &name, &length, nil, nil, nil, nil)
            var exit = RemoteExit(status: nil, signal: nil)
            if let name {
                exit.signal = String(cString: name)
                libssh2_free(loop.session, name)
            } else {
                exit.status = libssh2_channel_get_exit_status(channel.raw)
            }
            channel.onEnd = { _ in }
            channel.finish(nil)
            done(.success(exit))
            return .finished
        }, abort: { done(.failure($0)) })
    }
}

/// Window and packet size of a command's channel.
enum RemoteCommandChannel {
    static let window: UInt32 = 2 << 20
    static let packet: UInt32 = 32768
}

// MARK: - Quoting for the remote shell

public enum ShellQuote {
    /// Quotes one argument for a POSIX shell (and fish) so it arrives exactly as given
    /// (spaces, quotes, `$`, newlines, globs included). Quotes and backslashes stand outside
    /// the single quotes (`'\''`, `\\`): fish, unlike sh, reads `\\` and `\'` inside them.
    public static func quote(_ argument: String) -> String {
        if !argument.isEmpty, argument.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_./=:,+@%".contains($0)) }) {
            return argument
        }
        var quoted = "'"
        for character in argument {
            switch character {
            case "'": quoted += "'\\''"
            case "\\": quoted += "'\\\\'"
            default: quoted.append(character)
            }
        }
        return quoted + "'"
    }

    /// A command line from argv.
    public static func join(_ arguments: [String]) -> String {
        arguments.map(quote).joined(separator: " ")
    }
}
