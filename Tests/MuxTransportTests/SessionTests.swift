import Foundation
import MuxTestSupport
import Testing
@testable import MuxTransport

/// Connection, host keys and authentication against a real OpenSSH sshd.
@Suite(.serialized) struct SessionTests {
    @Test func connectsWithKeyFileThroughSSHConfig() async throws {
        let server = try SSHDServer.start()
        let session = try await TestTargets.connect(try TestTargets.resolved(server))
        #expect(session.endpoint == "\(server.user)@127.0.0.1:\(server.port)")
        let client = try await SFTPClient.open(on: session, channels: 1)
        let home = try await client.primary.realpath(".")
        #expect(home.hasPrefix("/"))
        #expect(session.wireStats.bytesReceived > 0)
        await session.close()
        #expect(session.isClosed)
    }

    @Test func connectsWithAgentKey() async throws {
        let server = try SSHDServer.start()
        let agent = try SSHAgentProcess.start()
        defer { agent.stop() }
        let agentKey = try server.makeClientKey(type: "ed25519", authorize: true)
        try agent.add(keyPath: agentKey)
        // The only key file offered is not authorized: success proves the agent was used.
        let stranger = try server.makeClientKey(type: "ed25519", authorize: false)
        var target = TestTargets.direct(server, key: stranger)
        target.identitiesOnly = false
        let session = try await TestTargets.connect(target, agent: agent.socketPath)
        let client = try await SFTPClient.open(on: session, channels: 1)
        _ = try await client.primary.stat("/")
        await session.close()
    }

    @Test func unknownHostIsRefusedWithFingerprint() async throws {
        let server = try SSHDServer.start()
        let empty = try TestTargets.scratchDirectory("kh") + "/known_hosts"
        let error = await #expect(throws: TransportError.self) {
            _ = try await TestTargets.connect(TestTargets.direct(server, knownHosts: empty))
        }
        #expect(error?.stage == .hostKey)
        #expect(error?.description.contains("SHA256:") == true)
        #expect(error?.description.contains("--accept-new") == true)
        #expect(!FileManager.default.fileExists(atPath: empty))
    }

    @Test func acceptNewRecordsTheKeyThenMatches() async throws {
        let server = try SSHDServer.start()
        let file = try TestTargets.scratchDirectory("kh") + "/known_hosts"
        let first = try await TestTargets.connect(TestTargets.direct(server, knownHosts: file, policy: .acceptNew))
        await first.close()
        let recorded = try String(contentsOfFile: file, encoding: .utf8)
        #expect(recorded.hasPrefix("[127.0.0.1]:\(server.port) ssh-ed25519 "))
        // Now known: the strict policy connects.
        let second = try await TestTargets.connect(TestTargets.direct(server, knownHosts: file, policy: .refuse))
        await second.close()
    }

    @Test func changedHostKeyIsRefusedEvenWithAcceptNew() async throws {
        let server = try SSHDServer.start()
        try server.replaceHostKey()
        for policy in [UnknownHostPolicy.refuse, .acceptNew] {
            let error = await #expect(throws: TransportError.self) {
                _ = try await TestTargets.connect(TestTargets.direct(server, policy: policy))
            }
            #expect(error?.stage == .hostKey)
            #expect(error?.description.contains("HAS CHANGED") == true)
            #expect(error?.description.contains("ssh-keygen -R") == true)
        }
    }

    @Test func hashedKnownHostsEntryMatches() async throws {
        let server = try SSHDServer.start()
        let directory = try TestTargets.scratchDirectory("kh")
        let file = directory + "/known_hosts"
        try FileManager.default.copyItem(atPath: server.knownHostsPath, toPath: file)
        let hashed = try ProcessRunner.run("ssh-keygen", ["-H", "-f", file])
        #expect(hashed.succeeded)
        let text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(text.hasPrefix("|1|"))
        let session = try await TestTargets.connect(TestTargets.direct(server, knownHosts: file))
        await session.close()
    }

    @Test func wrongKeyIsRefusedNamingTheKey() async throws {
        let server = try SSHDServer.start()
        let stranger = try server.makeClientKey(type: "ed25519", authorize: false)
        let error = await #expect(throws: TransportError.self) {
            _ = try await TestTargets.connect(TestTargets.direct(server, key: stranger))
        }
        #expect(error?.stage == .authentication)
        #expect(error?.description.contains(stranger) == true)
        #expect(error?.description.contains("authorized_keys") == true)
    }

    @Test func rsaKeyGetsTheLibssh2Explanation() async throws {
        let server = try SSHDServer.start()
        let rsa = try server.makeClientKey(type: "rsa", authorize: true)
        let error = await #expect(throws: TransportError.self) {
            _ = try await TestTargets.connect(TestTargets.direct(server, key: rsa))
        }
        #expect(error?.stage == .authentication)
        #expect(error?.description.contains("rsa-sha2") == true || error?.description.contains("SHA-1") == true)
        #expect(error?.description.contains("ed25519") == true)
    }

    @Test func encryptedKeyWithoutTerminalSaysUseAgent() async throws {
        let server = try SSHDServer.start()
        let locked = try server.makeClientKey(type: "ed25519", passphrase: "correct horse", authorize: true)
        let error = await #expect(throws: TransportError.self) {
            _ = try await TestTargets.connect(TestTargets.direct(server, key: locked))
        }
        #expect(error?.description.contains("ssh-add") == true)
        #expect(error?.description.contains("correct horse") == false)
    }

    @Test func encryptedKeyWithPassphraseProvider() async throws {
        let server = try SSHDServer.start()
        let locked = try server.makeClientKey(type: "ed25519", passphrase: "correct horse", authorize: true)
        let session = try await SSHSession.connect(
            to: TestTargets.direct(server, key: locked),
            options: ConnectOptions(agentSocket: nil, passphrase: { _ in "correct horse" }))
        await session.close()
    }

    @Test func connectionRefusedNamesHostAndPort() async throws {
        let server = try SSHDServer.start()
        let port = server.port
        server.stop()
        let error = await #expect(throws: TransportError.self) {
            _ = try await TestTargets.connect(TestTargets.direct(server))
        }
        #expect(error?.stage == .connect)
        #expect(error?.description.contains(":\(port)") == true)
    }

    @Test func requestsFailCleanlyAfterTheServerGoesAway() async throws {
        let server = try SSHDServer.start()
        let session = try await TestTargets.connect(TestTargets.direct(server))
        let client = try await SFTPClient.open(on: session, channels: 1)
        _ = try await client.primary.stat("/")
        server.stop()  // kills sshd and its session processes
        await #expect(throws: (any Error).self) {
            for _ in 0..<50 {
                _ = try await client.primary.stat("/")
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        await session.waitUntilEnded()
        #expect(session.isClosed)
    }
}
