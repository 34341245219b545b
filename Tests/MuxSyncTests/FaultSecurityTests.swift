// Security: a changed or unknown host key stops the connection before any credential is
// offered (checked in sshd's VERBOSE log, not only in muxsync's message); pull never writes
// outside its target through symlinks planted on the remote; push never follows a local
// symlink out of the tree; -vv output holds no key material.

import Foundation
import MuxSync
import MuxTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite(.serialized, .timeLimit(.minutes(10)))
struct FaultSecurityTests {
    static let t0: Int64 = 1_700_400_000

    /// sshd's log from byte `offset` on.
    static func log(_ lab: SyncLab, from offset: Int) throws -> String {
        let data = try Disk.read(lab.server.logPath)
        return String(decoding: data.dropFirst(offset), as: UTF8.self)
    }

    static func logSize(_ lab: SyncLab) -> Int { (try? Disk.read(lab.server.logPath).count) ?? 0 }

    /// Lines that show a public key (or any credential) reached sshd's authentication.
    static func credentialLines(_ log: String) -> [String] {
        log.split(separator: "\n").map(String.init).filter { line in
            ["Accepted publickey", "Failed publickey", "Postponed publickey", "Accepted key", "userauth_pubkey",
             "Failed password", "Accepted password", "Failed none"].contains { line.contains($0) }
        }
    }

    static func localTree(_ lab: SyncLab) throws -> String {
        let local = try lab.makeDirectory("local")
        try Disk.file(local + "/a.txt", "a", mtime: t0)
        return local
    }

    // MARK: Host keys

    @Test func changedHostKeyIsRefusedBeforeAnyCredentialIsSent() throws {
        let lab = try SyncLab.faults()
        let local = try Self.localTree(lab)
        // First a normal push, to prove the log shows credentials when they are sent.
        let start = Self.logSize(lab)
        let ok = try lab.runCLI(["push", "-F", lab.server.sshConfigPath, local, SSHDServer.hostAlias + ":" + lab.path("r1")])
        #expect(ok.termination == .exited(0), "stderr: \(ok.stderr)")
        #expect(!Self.credentialLines(try Self.log(lab, from: start)).isEmpty, "sshd's log shows no authentication at all; the check below would prove nothing")

        try lab.server.replaceHostKey()
        let before = Self.logSize(lab)
        let refused = try lab.runCLI(["push", "-F", lab.server.sshConfigPath, local, SSHDServer.hostAlias + ":" + lab.path("r2")])
        #expect(refused.termination != .exited(0))
        #expect(refused.stderr.contains("HAS CHANGED"), "stderr: \(refused.stderr)")
        let log = try Self.log(lab, from: before)
        #expect(log.contains("Connection from") || log.contains("connection from"), "sshd did not log the attempt:\n\(log)")
        #expect(Self.credentialLines(log).isEmpty, "a credential reached sshd after a host key change:\n\(log)")
        #expect(!Disk.exists(lab.path("r2")))

        // --accept-new does not override a changed key either.
        let forced = try lab.runCLI(["push", "--accept-new", "-F", lab.server.sshConfigPath, local,
                                     SSHDServer.hostAlias + ":" + lab.path("r2")])
        #expect(forced.termination != .exited(0))
        #expect(Self.credentialLines(try Self.log(lab, from: before)).isEmpty)
    }

    @Test func unknownHostIsRefusedBeforeAnyCredentialIsSent() throws {
        let lab = try SyncLab.faults()
        let local = try Self.localTree(lab)
        let emptyKnownHosts = lab.path("empty_known_hosts")
        try Disk.file(emptyKnownHosts, "")
        let config = lab.path("ssh_config_unknown")
        try Disk.file(config, try String(contentsOfFile: lab.server.sshConfigPath, encoding: .utf8)
            .replacingOccurrences(of: lab.server.knownHostsPath, with: emptyKnownHosts)
            .replacingOccurrences(of: "StrictHostKeyChecking yes", with: "StrictHostKeyChecking ask"))
        let before = Self.logSize(lab)
        let result = try lab.runCLI(["push", "-F", config, local, SSHDServer.hostAlias + ":" + lab.path("remote")])
        #expect(result.termination != .exited(0))
        #expect(result.stderr.contains("not a known host"), "stderr: \(result.stderr)")
        #expect(Self.credentialLines(try Self.log(lab, from: before)).isEmpty)
        #expect(try Disk.read(emptyKnownHosts).isEmpty, "the unknown key was recorded")
    }

    // MARK: Pull never writes outside

    @Test func pullThroughPlantedRemoteSymlinksStaysInside() async throws {
        let lab = try SyncLab.faults()
        let remote = try lab.makeDirectory("remote")
        let outside = try lab.makeDirectory("outside")
        try Disk.file(outside + "/victim.txt", "untouched", mtime: Self.t0)
        // The remote plants: a directory symlink to the outside, and a real directory of the
        // same name on a second run (so the local symlink from run 1 would be written through).
        try Disk.symlink(remote + "/trap", to: outside)
        try Disk.symlink(remote + "/abs", to: "/etc")
        try Disk.symlink(remote + "/rel", to: "../../../../../../../../tmp")
        try Disk.file(remote + "/plain.txt", "plain", mtime: Self.t0)
        let local = lab.path("dest")
        let first = try await lab.pull(remote, into: local)
        #expect(first.failures.isEmpty, "\(first.failures)")
        #expect(try TreeSnapshot(local)["trap"]?.kind == .symlink(outside))

        try Disk.remove(remote + "/trap")
        try Disk.directory(remote + "/trap")
        try Disk.file(remote + "/trap/victim.txt", "OVERWRITTEN", mtime: Self.t0 + 1)
        try Disk.file(remote + "/trap/new.txt", "planted", mtime: Self.t0 + 1)
        var thrown: Error?
        var second: PullReport?
        do { second = try await lab.pull(remote, into: local) } catch { thrown = error }
        let problem = thrown.map { "\($0)" } ?? (second?.failures.joined(separator: "\n") ?? "")
        #expect(problem.contains("symlink"), "the pull must refuse to write through the local symlink: \(problem)")
        #expect(try Disk.read(outside + "/victim.txt") == Data("untouched".utf8))
        #expect(try Disk.names(in: outside) == ["victim.txt"])
        #expect(try Disk.read(local + "/plain.txt") == Data("plain".utf8))
    }

    @Test(arguments: ["..", "../x", "a/../../x", "/etc/passwd", "a//b", "./a", "a/.", "", "a\u{0}b", "../../../../etc/cron.d/x"])
    func hostileRemoteRelativePathsAreRefused(path: String) {
        #expect(throws: SafePathError.self) { _ = try SafePath.join(root: "/tmp/target", relative: path) }
    }

    @Test(arguments: ["..", ".", "", "a/b", "x\u{0}"])
    func hostileRemoteNamesAreRefused(name: String) {
        #expect(throws: SafePathError.self) { try SafePath.validateName(name) }
    }

    // MARK: Push never follows a local symlink out of the tree

    @Test func pushSendsLocalSymlinksAsLinksNeverTheirTargets() async throws {
        let lab = try SyncLab.faults()
        let outside = try lab.makeDirectory("outside")
        try Disk.file(outside + "/secret.txt", "outside secret", mtime: Self.t0)
        let local = try lab.makeDirectory("local")
        try Disk.file(local + "/a.txt", "a", mtime: Self.t0)
        try Disk.symlink(local + "/out-dir", to: outside)
        try Disk.symlink(local + "/out-file", to: outside + "/secret.txt")
        try Disk.symlink(local + "/etc", to: "/etc")
        try Disk.symlink(local + "/up", to: "../outside")
        // The root itself may be a symlink to a directory (that one is followed, nothing below it).
        let linkedRoot = lab.path("linked-root")
        try Disk.symlink(linkedRoot, to: local)
        let remote = lab.path("remote")
        let report = try await lab.push(linkedRoot, to: remote)
        #expect(report.failures.isEmpty, "\(report.failures)")
        let got = try TreeSnapshot(remote)
        #expect(got["out-dir"]?.kind == .symlink(outside))
        #expect(got["out-file"]?.kind == .symlink(outside + "/secret.txt"))
        #expect(got["etc"]?.kind == .symlink("/etc"))
        #expect(got["up"]?.kind == .symlink("../outside"))
        #expect(!got.nodes.values.contains { $0.contents == Data("outside secret".utf8) }, "a target's content was copied")
        #expect(got.nodes.count == 5, "\(got.paths)")
    }

    // MARK: No key material in logs

    @Test func verboseOutputHoldsNoKeyMaterial() throws {
        let lab = try SyncLab.faults()
        let local = try Self.localTree(lab)
        let keyText = try String(contentsOfFile: lab.server.clientKeyPath, encoding: .utf8)
        let bodyLines = keyText.split(separator: "\n").filter { !$0.hasPrefix("-----") }.map(String.init)
        #expect(!bodyLines.isEmpty)
        let body = bodyLines.joined()

        func check(_ result: ProcessResult, _ what: String) {
            let output = result.stdout + result.stderr
            #expect(!output.contains("PRIVATE KEY"), "\(what): private key header in the output")
            for line in bodyLines where line.count >= 16 {
                #expect(!output.contains(line), "\(what): a line of the private key appears in the output")
            }
            #expect(!output.replacingOccurrences(of: "\n", with: "").contains(body.prefix(40)), "\(what): key bytes in the output")
        }

        let push = try lab.runCLI(["push", "-vv", "-F", lab.server.sshConfigPath, local, SSHDServer.hostAlias + ":" + lab.path("remote")])
        #expect(push.termination == .exited(0), "stderr: \(push.stderr)")
        #expect(push.stderr.contains("debug") || push.stderr.contains("connected"), "-vv printed nothing: \(push.stderr)")
        check(push, "push -vv")

        // An encrypted key with no terminal to ask on: a clear error, still no key bytes or passphrase.
        let passphrase = "correct horse battery staple 42"
        let encrypted = try lab.server.makeClientKey(passphrase: passphrase)
        let config = lab.path("ssh_config_encrypted")
        try Disk.file(config, try String(contentsOfFile: lab.server.sshConfigPath, encoding: .utf8)
            .replacingOccurrences(of: lab.server.clientKeyPath, with: encrypted))
        let locked = try lab.runCLI(["push", "-vv", "-F", config, local, SSHDServer.hostAlias + ":" + lab.path("remote2")])
        #expect(locked.termination != .exited(0), "an encrypted key without a passphrase must not log in")
        #expect(locked.stderr.contains(encrypted) || locked.stderr.contains("passphrase") || locked.stderr.contains("encrypted"),
                "the error must say which key needs a passphrase: \(locked.stderr)")
        #expect(!(locked.stdout + locked.stderr).contains(passphrase))
        check(locked, "push -vv with an encrypted key")
        let encryptedBody = try String(contentsOfFile: encrypted, encoding: .utf8).split(separator: "\n")
            .filter { !$0.hasPrefix("-----") && $0.count >= 16 }
        for line in encryptedBody { #expect(!locked.stderr.contains(line)) }
    }
}
