import Foundation
import MuxTestSupport
import MuxTransport
import Testing
@testable import MuxSync

/// `muxsync exec` where the remote login shell is fish (sshd runs every command line as
/// `fish -c LINE`, as it does for a user whose shell is fish): the command still runs with its
/// arguments exactly as given, in its directory, with its status, and Ctrl-C still reaches it.
/// POSIX shells (bash, dash) are covered by SharedSessionTests and ExecCLITests.
@Suite(.serialized) struct RemoteShellTests {
    static let fish = "/usr/bin/fish"

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: RemoteShellTests.fish),
                   "needs fish (scripts/install-deps.sh installs it)"))
    func execWorksUnderAFishLoginShell() async throws {
        // ForceCommand runs through the login shell (bash here): it hands fish the client's line.
        let lab = try SyncLab(extraConfig: ["ForceCommand \(Self.fish) -c \"$SSH_ORIGINAL_COMMAND\""])
        let session = try await SSHSession.connect(to: lab.target(), options: ConnectOptions(agentSocket: nil, passphrase: nil))
        defer { Task { await session.close() } }

        func run(_ argv: [String], in directory: String? = nil,
                 interruptAfter: Double? = nil) async throws -> (exit: RemoteExit, out: String, err: String) {
            let out = Locked([UInt8]()), err = Locked([UInt8]())
            let remote = RemoteRun(session: session, arguments: argv, directory: directory)
            if let interruptAfter {
                Task {
                    try await Task.sleep(for: .seconds(interruptAfter))
                    await remote.interrupt()
                }
            }
            let exit = try await remote.run(stdout: { bytes in out.withLock { $0 += bytes } },
                                            stderr: { bytes in err.withLock { $0 += bytes } })
            return (exit, String(decoding: out.withLock { $0 }, as: UTF8.self), String(decoding: err.withLock { $0 }, as: UTF8.self))
        }

        #expect(session.remoteShell == .posix, "nothing known before the first command")
        let tricky = ["it's", "back\\slash", "two\\\\slashes", "end\\", "\\'", "$HOME", "line\nbreak", "*", "", "tab\there"]
        let first = try await run(["printf", "%s|"] + tricky)
        #expect(first.exit.status == 0, "\(first.err)")
        #expect(first.out == tricky.map { $0 + "|" }.joined(), "\(first.out)")
        #expect(first.err.isEmpty, "fish's complaint about the POSIX line is not shown: \(first.err)")
        #expect(session.remoteShell == .fish, "the session now speaks fish")

        let status = try await run(["sh", "-c", "echo err >&2; exit 7"])
        #expect(status.exit.status == 7 && status.err == "err\n", "\(status)")

        let directory = try lab.makeDirectory("fish dir")
        let inside = try await run(["pwd"], in: directory)
        #expect(inside.exit.status == 0 && inside.out == directory + "\n", "\(inside)")
        let missing = try await run(["echo", "ran"], in: lab.path("no such dir"))
        #expect(missing.exit.status != 0 && missing.out.isEmpty, "\(missing)")

        // Ctrl-C reaches the command: it ends by the signal, not after its 30 s with status 0.
        let stopped = try await run(["sleep", "30"], interruptAfter: 1)
        #expect(stopped.exit.status != 0, "\(stopped)")
    }

    /// Quoting that both shells read the same way: no backslash or quote inside single quotes.
    @Test func quotedArgumentsHoldNoBackslashInsideQuotes() {
        #expect(ShellQuote.quote("plain") == "plain")
        #expect(ShellQuote.quote("it's") == "'it'\\''s'")
        #expect(ShellQuote.quote("a\\b") == "'a'\\\\'b'")
        #expect(ShellQuote.quote("") == "''")
    }
}
