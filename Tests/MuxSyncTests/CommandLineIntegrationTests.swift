// The muxsync binary end to end against the lab sshd: exit codes and the messages a user
// sees (success, per-file failures, fatal errors, an unknown host key, --dry-run).

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
struct CommandLineIntegrationTests {
    static let t0: Int64 = 1_710_000_000

    /// A small local tree: a.txt, sub/b.txt.
    static func localTree(_ lab: SyncLab) throws -> String {
        let local = try lab.makeDirectory("local")
        try Disk.file(local + "/a.txt", "alpha", mtime: t0)
        try Disk.directory(local + "/sub")
        try Disk.file(local + "/sub/b.txt", "bravo", mode: 0o755, mtime: t0)
        try SampleTree.setDirectoryTimes(local)
        return local
    }

    /// `muxsync push -F CONFIG [extra] LOCAL muxsync-test:REMOTE`.
    static func push(_ lab: SyncLab, _ local: String, _ remote: String, extra: [String] = [],
                     config: String? = nil) throws -> ProcessResult {
        try lab.runCLI(["push", "-F", config ?? lab.server.sshConfigPath] + extra
                       + [local, SSHDServer.hostAlias + ":" + remote])
    }

    static func binaryExists() -> Bool { access(SyncLab.muxsyncBinary, X_OK) == 0 }

    // MARK: Success and failure

    @Test func pushSucceedsWithExitZero() throws {
        try #require(Self.binaryExists(), "muxsync binary not found at \(SyncLab.muxsyncBinary)")
        let lab = try SyncLab()
        let local = try Self.localTree(lab)
        let remote = lab.path("remote")
        let result = try Self.push(lab, local, remote)
        #expect(result.termination == .exited(0), "stderr: \(result.stderr)")
        #expect(result.stderr.contains("sent 2 files"), "stderr: \(result.stderr)")
        #expect(try TreeSnapshot(local).differences(from: TreeSnapshot(remote)).isEmpty)

        let again = try Self.push(lab, local, remote)
        #expect(again.termination == .exited(0))
        #expect(again.stderr.contains("sent 0 files"), "stderr: \(again.stderr)")
    }

    @Test func perFileFailuresAreListedWithNonZeroExit() throws {
        try #require(Self.binaryExists(), "muxsync binary not found at \(SyncLab.muxsyncBinary)")
        // A read-only SFTP server: listing works, every write is refused.
        let lab = try SyncLab(extraConfig: ["ForceCommand internal-sftp -R"])
        let local = try Self.localTree(lab)
        let remote = try lab.makeDirectory("remote")
        try Disk.file(remote + "/a.txt", "old alpha", mtime: Self.t0 - 10)
        let before = try TreeSnapshot(remote)

        let result = try Self.push(lab, local, remote)
        #expect(result.termination != .exited(0), "a push that wrote nothing must fail; stderr: \(result.stderr)")
        #expect(result.stderr.contains("muxsync: failed: a.txt"), "stderr: \(result.stderr)")
        #expect(result.stderr.contains("muxsync: failed: sub"), "stderr: \(result.stderr)")
        #expect(before.differences(from: try TreeSnapshot(remote), includeCtime: true).isEmpty)
    }

    @Test func fatalErrorsExitNonZeroWithAMessage() throws {
        try #require(Self.binaryExists(), "muxsync binary not found at \(SyncLab.muxsyncBinary)")
        let lab = try SyncLab()
        let local = try Self.localTree(lab)
        let notADirectory = lab.path("remote-file")
        try Disk.file(notADirectory, "I am a file")

        let result = try Self.push(lab, local, notADirectory)
        #expect(result.termination != .exited(0))
        #expect(result.stderr.contains("muxsync: error:"), "stderr: \(result.stderr)")
        #expect(result.stderr.contains("not a directory"), "stderr: \(result.stderr)")
        #expect(try Disk.read(notADirectory) == Data("I am a file".utf8))

        // --delete with an empty LOCAL_DIR, and --max-delete exceeded, name the cause.
        let remote = lab.path("remote")
        #expect(try Self.push(lab, local, remote).termination == .exited(0))
        let empty = try lab.makeDirectory("empty")
        let wipe = try Self.push(lab, empty, remote, extra: ["--delete"])
        #expect(wipe.termination != .exited(0))
        #expect(wipe.stderr.contains("refusing --delete"), "stderr: \(wipe.stderr)")
        try Disk.remove(local + "/sub")
        let tooMany = try Self.push(lab, local, remote, extra: ["--delete", "--max-delete", "1"])
        #expect(tooMany.termination != .exited(0))
        #expect(tooMany.stderr.contains("refusing to delete 2 remote entries"), "stderr: \(tooMany.stderr)")
        #expect(tooMany.stderr.contains("--max-delete 2"), "stderr: \(tooMany.stderr)")
        #expect(Disk.exists(remote + "/sub/b.txt"))
    }

    // MARK: Host keys

    @Test func unknownHostKeyIsRefusedWithItsFingerprint() throws {
        try #require(Self.binaryExists(), "muxsync binary not found at \(SyncLab.muxsyncBinary)")
        let lab = try SyncLab()
        let local = try Self.localTree(lab)
        let emptyKnownHosts = lab.path("empty_known_hosts")
        try Disk.file(emptyKnownHosts, "")
        let config = lab.path("ssh_config_unknown")
        let text = try String(contentsOfFile: lab.server.sshConfigPath, encoding: .utf8)
            .replacingOccurrences(of: lab.server.knownHostsPath, with: emptyKnownHosts)
        try Disk.file(config, text)
        let remote = lab.path("remote")

        let result = try Self.push(lab, local, remote, config: config)
        #expect(result.termination != .exited(0))
        let expected = try ProcessRunner.run("ssh-keygen", ["-l", "-E", "sha256", "-f", lab.server.files.hostKey + ".pub"])
        let fingerprint = try #require(expected.stdout.split(separator: " ").first { $0.hasPrefix("SHA256:") })
        #expect(result.stderr.contains(String(fingerprint)), "stderr: \(result.stderr)")
        #expect(result.stderr.contains("not a known host"), "stderr: \(result.stderr)")
        #expect(!Disk.exists(remote))
        #expect(try String(contentsOfFile: emptyKnownHosts, encoding: .utf8).isEmpty)
    }

    // MARK: --dry-run

    @Test func dryRunPrintsWouldAndChangesNothing() throws {
        try #require(Self.binaryExists(), "muxsync binary not found at \(SyncLab.muxsyncBinary)")
        let lab = try SyncLab()
        let local = try Self.localTree(lab)
        let remote = lab.path("remote")

        let result = try Self.push(lab, local, remote, extra: ["--dry-run"])
        #expect(result.termination == .exited(0), "stderr: \(result.stderr)")
        let output = result.stdout + result.stderr
        #expect(output.contains("would create \(remote)"), "output: \(output)")
        #expect(output.contains("would upload a.txt"), "output: \(output)")
        #expect(output.contains("would upload sub/b.txt"), "output: \(output)")
        #expect(!Disk.exists(remote))
    }
}
