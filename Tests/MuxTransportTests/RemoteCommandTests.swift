import Foundation
import MuxTestSupport
import Testing
@testable import MuxTransport

/// Exec channels against a real sshd: output, exit status, signals, quoting.
@Suite(.serialized) struct RemoteCommandTests {
    final class Capture: Sendable {
        let out = Locked([UInt8]())
        let err = Locked([UInt8]())
        var stdout: String { String(decoding: out.withLock { $0 }, as: UTF8.self) }
        var stderr: String { String(decoding: err.withLock { $0 }, as: UTF8.self) }
    }

    func run(_ session: SSHSession, _ command: String) async throws -> (RemoteExit, Capture) {
        let capture = Capture()
        let exit = try await session.execute(command, stdout: { bytes in capture.out.withLock { $0 += bytes } },
                                             stderr: { bytes in capture.err.withLock { $0 += bytes } })
        return (exit, capture)
    }

    @Test func streamsOutputAndReturnsTheExitStatus() async throws {
        let server = try SSHDServer.start()
        let session = try await TestTargets.connect(TestTargets.direct(server))
        let (ok, okOutput) = try await run(session, "echo out; echo err >&2; exit 0")
        #expect(ok == RemoteExit(status: 0, signal: nil))
        #expect(okOutput.stdout == "out\n")
        #expect(okOutput.stderr == "err\n")
        let (failed, _) = try await run(session, "exit 42")
        #expect(failed.status == 42 && failed.shellStatus == 42)
        let (killed, _) = try await run(session, "kill -TERM $$")
        #expect(killed.signal == "TERM" && killed.shellStatus == 143)
        // Large output arrives complete and in order.
        let (big, bigOutput) = try await run(session, "seq 1 200000")
        #expect(big.status == 0)
        #expect(bigOutput.stdout.split(separator: "\n").count == 200_000)
        #expect(bigOutput.stdout.hasSuffix("199999\n200000\n"))
        await session.close()
    }

    @Test func severalCommandsShareOneSessionWithSFTP() async throws {
        let server = try SSHDServer.start()
        let session = try await TestTargets.connect(TestTargets.direct(server))
        let client = try await SFTPClient.open(on: session, channels: 2)
        async let a = run(session, "sleep 0.2; echo a")
        async let b = run(session, "echo b")
        let attributes = try await client.primary.stat("/")
        let (resultA, outputA) = try await a
        let (resultB, outputB) = try await b
        #expect(attributes.isDirectory)
        #expect(resultA.status == 0 && outputA.stdout == "a\n")
        #expect(resultB.status == 0 && outputB.stdout == "b\n")
        await session.close()
    }

    /// A session that serves commands keeps a channel open ahead: each command takes it
    /// (one round trip instead of two) and a new one is opened behind it, also when
    /// several commands run at once and SFTP shares the session.
    @Test func aSpareChannelIsKeptAheadAndRefilled() async throws {
        let server = try SSHDServer.start()
        let session = try await TestTargets.connect(TestTargets.direct(server))
        let client = try await SFTPClient.open(on: session, channels: 2)
        #expect(await session.hasSpareCommandChannel == false)
        session.keepSpareCommandChannel()
        #expect(try await eventually { await session.hasSpareCommandChannel })
        for round in 0..<4 {
            let (exit, output) = try await run(session, "echo round \(round)")
            #expect(exit.status == 0 && output.stdout == "round \(round)\n")
            #expect(try await eventually { await session.hasSpareCommandChannel }, "refilled after round \(round)")
        }
        async let a = run(session, "sleep 0.1; echo a")
        async let b = run(session, "echo b; exit 3")
        async let c = run(session, "echo c >&2")
        let (resultA, outputA) = try await a
        let (resultB, outputB) = try await b
        let (resultC, outputC) = try await c
        #expect(resultA.status == 0 && outputA.stdout == "a\n")
        #expect(resultB.status == 3 && outputB.stdout == "b\n")
        #expect(resultC.status == 0 && outputC.stderr == "c\n")
        #expect(try await client.primary.stat("/").isDirectory)
        #expect(try await eventually { await session.hasSpareCommandChannel })
        await session.close()
    }

    private func eventually(_ condition: () async -> Bool) async throws -> Bool {
        for _ in 0..<100 {
            if await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return await condition()
    }

    @Test(arguments: [
        ["plain"], ["two words"], ["it's"], ["$HOME", "`id`", "$(id)"], ["line\nbreak"], ["*", "?", "[a]"],
        ["back\\slash", "\"double\""], [""], ["-n"], ["ünïcode", "tab\there"],
    ])
    func argumentsArriveExactlyAsGiven(arguments: [String]) async throws {
        let server = try SSHDServer.start()
        let session = try await TestTargets.connect(TestTargets.direct(server))
        // printf '%s\0' prints each argument NUL-terminated: compare byte-exact.
        let (exit, output) = try await run(session, "printf '%s\\0' " + ShellQuote.join(arguments))
        #expect(exit.status == 0)
        let received = output.out.withLock { $0 }.split(separator: 0, omittingEmptySubsequences: false).dropLast()
            .map { String(decoding: $0, as: UTF8.self) }
        #expect(received == arguments)
        await session.close()
    }
}
