// Remote faults: a full disk (a 1 MiB tmpfs mounted as the remote directory), writes refused
// (three ways, because the lab's sshd runs as root and root ignores mode bits: `chattr +i`,
// a tmpfs remounted read-only, and sftp-server dropped to user nobody with setpriv in front
// of a mode-555 directory), a missing remote path, files where directories are expected, and
// sshd restarted under a running watch.

import Foundation
import MuxSync
import MuxTestSupport
import MuxTransport
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension FaultMounts {
    /// True when this process may mount a tmpfs (root, mount(8) allowed here); tried once.
    static let canMount: Bool = {
        guard let probe = try? TemporaryDirectory.make(prefix: "muxsync-mountprobe-") else { return false }
        defer { TemporaryDirectory.remove(probe) }
        guard tmpfs(at: probe, kibibytes: 64) else { return false }
        unmount(probe)
        return true
    }()

    /// True when `chattr +i` works on the scratch file system.
    static let canChattr: Bool = {
        guard geteuid() == 0, let probe = try? TemporaryDirectory.make(prefix: "muxsync-chattrprobe-") else { return false }
        defer { TemporaryDirectory.remove(probe) }
        guard immutable(probe, true) else { return false }
        _ = immutable(probe, false)
        return true
    }()
}

@Suite(.serialized, .timeLimit(.minutes(10)))
struct FaultRemoteTests {
    static let t0: Int64 = 1_700_100_000

    /// `muxsync push -F CONFIG LOCAL muxsync-test:REMOTE`.
    static func cliPush(_ lab: SyncLab, _ local: String, _ remote: String, _ extra: [String] = []) throws -> ProcessResult {
        try lab.runCLI(["push", "-F", lab.server.sshConfigPath] + extra + [local, SSHDServer.hostAlias + ":" + remote])
    }

    // MARK: Disk full

    @Test(.enabled(if: FaultMounts.canMount, "needs root and mount(8) for a 1 MiB tmpfs"))
    func diskFullFailsThatFileKeepsTheOldOneAndLeavesNoTemporary() async throws {
        let lab = try SyncLab.faults()
        let remote = try lab.makeDirectory("remote-full")
        try #require(FaultMounts.tmpfs(at: remote, kibibytes: 1024))
        defer { FaultMounts.unmount(remote) }
        let local = try lab.makeDirectory("local")
        let old = Disk.random(200_000)
        try Disk.file(local + "/big.bin", old, mtime: Self.t0)
        try Disk.file(local + "/small.txt", "small", mtime: Self.t0)
        let first = try await lab.push(local, to: remote)
        #expect(first.failures.isEmpty, "\(first.failures)")

        try Disk.file(local + "/big.bin", Disk.random(3 << 20), mtime: Self.t0 + 10)
        try Disk.file(local + "/small.txt", "small, second version", mtime: Self.t0 + 10)
        let sink = LineSink()
        let report = try await lab.push(local, to: remote, sink: sink)
        let failure = report.failures.joined(separator: "\n")
        #expect(report.failures.count == 1, "\(report.failures)")
        #expect(failure.contains("big.bin"), "the failure must name the file: \(failure)")
        #expect(try Disk.read(remote + "/big.bin") == old, "the old remote file must stay intact")
        #expect(try Disk.read(remote + "/small.txt") == Data("small, second version".utf8))
        #expect(try Disk.temporaries(under: remote).isEmpty, "temporaries left on the full disk")

        let cli = try Self.cliPush(lab, local, remote)
        #expect(cli.termination != .exited(0), "stderr: \(cli.stderr)")
        #expect(cli.stderr.contains("big.bin"), "stderr: \(cli.stderr)")
        #expect(try Disk.temporaries(under: remote).isEmpty)
        print("FAULT disk full: \(failure)")
    }

    @Test(.enabled(if: FaultMounts.canMount, "needs root and mount(8) for a 1 MiB tmpfs"))
    func diskFullErrorNamesTheCause() async throws {
        let lab = try SyncLab.faults()
        let remote = try lab.makeDirectory("remote-full")
        try #require(FaultMounts.tmpfs(at: remote, kibibytes: 1024))
        defer { FaultMounts.unmount(remote) }
        let local = try lab.makeDirectory("local")
        try Disk.file(local + "/big.bin", Disk.random(3 << 20), mtime: Self.t0)
        let cli = try Self.cliPush(lab, local, remote)
        #expect(cli.termination != .exited(0))
        #expect(cli.stderr.lowercased().contains("space"), "stderr: \(cli.stderr)")
    }

    // MARK: Writes refused

    /// A remote tree with `locked/` that the test then makes unwritable, and a local tree
    /// that changes a file in it, adds one to it, and changes files elsewhere.
    static func lockedScenario(_ lab: SyncLab, remote: String) async throws -> (local: String, old: Data) {
        let local = try lab.makeDirectory("local")
        try Disk.directory(local + "/locked")
        let old = Data("locked, version 1".utf8)
        try Disk.file(local + "/locked/a.txt", old, mtime: Self.t0)
        try Disk.file(local + "/free.txt", "free 1", mtime: Self.t0)
        let first = try await lab.push(local, to: remote)
        #expect(first.failures.isEmpty, "\(first.failures)")
        try Disk.file(local + "/locked/a.txt", "locked, version 2 (refused)", mtime: Self.t0 + 10)
        try Disk.file(local + "/locked/new.txt", "new in locked", mtime: Self.t0 + 10)
        try Disk.file(local + "/free.txt", "free 2", mtime: Self.t0 + 10)
        return (local, old)
    }

    /// What every refused-write variant must show.
    static func checkRefused(_ lab: SyncLab, local: String, remote: String, old: Data, cause: String) async throws {
        let report = try await lab.push(local, to: remote)
        let failures = report.failures.joined(separator: "\n")
        #expect(failures.contains("locked/a.txt"), "\(failures)")
        #expect(failures.contains("locked/new.txt"), "\(failures)")
        #expect(failures.contains(cause), "the failure must say why (\(cause)): \(failures)")
        #expect(try Disk.read(remote + "/locked/a.txt") == old)
        #expect(!Disk.exists(remote + "/locked/new.txt"))
        #expect(try Disk.read(remote + "/free.txt") == Data("free 2".utf8), "other files still go")
        #expect(try Disk.temporaries(under: remote).isEmpty)

        let cli = try cliPush(lab, local, remote)
        #expect(cli.termination != .exited(0), "stderr: \(cli.stderr)")
        #expect(cli.stderr.contains("locked/a.txt") && cli.stderr.contains(cause), "stderr: \(cli.stderr)")
        print("FAULT refused (\(cause)): \(report.failures)")
    }

    @Test(.enabled(if: FaultMounts.canChattr, "needs root and chattr on the scratch file system"))
    func immutableRemoteDirectoryRefusesWritesClearly() async throws {
        let lab = try SyncLab.faults()
        let remote = lab.path("remote")
        let (local, old) = try await Self.lockedScenario(lab, remote: remote)
        #expect(FaultMounts.immutable(remote + "/locked", true))
        defer { _ = FaultMounts.immutable(remote + "/locked", false) }
        try await Self.checkRefused(lab, local: local, remote: remote, old: old, cause: "Permission denied")
    }

    @Test(.enabled(if: FaultUsers.canRunAsNobody, "needs root and setpriv"))
    func mode555DirectoryRefusesANonRootRemoteUser() async throws {
        // sftp-server runs as nobody, so mode bits count as for any remote user.
        let sftpServer = try #require(SSHDServer.sftpServerCandidates.first { access($0, X_OK) == 0 })
        let lab = try SyncLab.faults(extraConfig: ["ForceCommand /usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups \(sftpServer)"])
        #expect(chmod(lab.root, 0o755) == 0)
        let remote = try lab.makeDirectory("remote")
        try FaultUsers.giveToNobody(remote)
        let (local, old) = try await Self.lockedScenario(lab, remote: remote)
        try ProcessRunner.run("/bin/chown", ["-R", "0:0", remote + "/locked"]).check()
        #expect(chmod(remote + "/locked", 0o555) == 0)
        try await Self.checkRefused(lab, local: local, remote: remote, old: old, cause: "Permission denied")
    }

    @Test(.enabled(if: FaultMounts.canMount, "needs root and mount(8)"))
    func readOnlyRemoteFileSystemRefusesWritesAndKeepsFiles() async throws {
        let lab = try SyncLab.faults()
        let remote = try lab.makeDirectory("remote-ro")
        try #require(FaultMounts.tmpfs(at: remote, kibibytes: 4096))
        defer { FaultMounts.unmount(remote) }
        let local = try lab.makeDirectory("local")
        try Disk.file(local + "/a.txt", "version 1", mtime: Self.t0)
        #expect(try await lab.push(local, to: remote).failures.isEmpty)
        #expect(FaultMounts.remount(remote, readOnly: true))
        try Disk.file(local + "/a.txt", "version 2", mtime: Self.t0 + 10)
        try Disk.file(local + "/b.txt", "new", mtime: Self.t0 + 10)
        let report = try await lab.push(local, to: remote)
        #expect(report.failures.contains { $0.hasPrefix("a.txt") }, "\(report.failures)")
        #expect(report.failures.contains { $0.hasPrefix("b.txt") }, "\(report.failures)")
        #expect(report.failures.allSatisfy { $0.contains("read-only") }, "the cause must be named: \(report.failures)")
        #expect(try Disk.read(remote + "/a.txt") == Data("version 1".utf8))
        let cli = try Self.cliPush(lab, local, remote)
        #expect(cli.termination != .exited(0), "stderr: \(cli.stderr)")
        print("FAULT read-only remote: \(report.failures)")
    }

    // MARK: Missing remote path, files where directories are expected

    @Test func missingRemotePathIsCreatedByPushAndReportedByPull() async throws {
        let lab = try SyncLab.faults()
        let local = try lab.makeDirectory("local")
        try Disk.file(local + "/a.txt", "a", mtime: Self.t0)
        let deep = lab.path("not/yet/there")
        let report = try await lab.push(local, to: deep)
        #expect(report.failures.isEmpty)
        #expect(try Disk.read(deep + "/a.txt") == Data("a".utf8))

        let missing = lab.path("never-made")
        let dest = lab.path("dest")
        await #expect(throws: SyncError.self) { _ = try await lab.pull(missing, into: dest) }
        let cli = try lab.runCLI(["pull", "-F", lab.server.sshConfigPath, SSHDServer.hostAlias + ":" + missing, dest])
        #expect(cli.termination != .exited(0))
        #expect(cli.stderr.contains(missing) && cli.stderr.contains("does not exist"), "stderr: \(cli.stderr)")
        #expect(!Disk.exists(dest), "a failed pull must not create the local directory")
    }

    @Test func remotePathBelowAFileIsAClearError() throws {
        let lab = try SyncLab.faults()
        let local = try lab.makeDirectory("local")
        try Disk.file(local + "/a.txt", "a", mtime: Self.t0)
        let file = lab.path("plain-file")
        try Disk.file(file, "I am a file")
        let cli = try Self.cliPush(lab, local, file + "/sub")
        #expect(cli.termination != .exited(0), "stderr: \(cli.stderr)")
        #expect(cli.stderr.contains("muxsync: error:") && cli.stderr.contains(file), "stderr: \(cli.stderr)")
        #expect(try Disk.read(file) == Data("I am a file".utf8))
        print("FAULT remote path below a file: \(cli.stderr)")
    }

    @Test(arguments: [false, true])
    func remoteFileWhereLocalHasADirectory(delete: Bool) async throws {
        let lab = try SyncLab.faults()
        let local = try lab.makeDirectory("local")
        try Disk.directory(local + "/sub")
        try Disk.file(local + "/sub/inner.txt", "inner", mtime: Self.t0)
        try Disk.file(local + "/top.txt", "top", mtime: Self.t0)
        let remote = try lab.makeDirectory("remote")
        try Disk.file(remote + "/sub", "a remote file named like the local directory", mtime: Self.t0)
        var options = PushOptions()
        options.delete = delete
        let report = try await lab.push(local, to: remote, options: options)
        #expect(try Disk.read(remote + "/top.txt") == Data("top".utf8), "other files still go")
        // As rsync does, a remote file in the way of a directory is replaced, with or without
        // --delete (muxsync also overwrites remote files it did not write: no record, no conflict).
        #expect(report.failures.isEmpty, "\(report.failures)")
        #expect(try Disk.read(remote + "/sub/inner.txt") == Data("inner".utf8))
        #expect(try Disk.temporaries(under: remote).isEmpty)
        print("FAULT remote file vs local dir (delete \(delete)): \(report.failures)")
    }

    @Test func localFileWhereRemoteHasADirectoryStopsThePullClearly() async throws {
        let lab = try SyncLab.faults()
        let remote = try lab.makeDirectory("remote")
        try Disk.directory(remote + "/sub")
        try Disk.file(remote + "/sub/inner.txt", "inner", mtime: Self.t0)
        let local = try lab.makeDirectory("dest")
        try Disk.file(local + "/sub", "my local file")
        var thrown: Error?
        var report: PullReport?
        do { report = try await lab.pull(remote, into: local) } catch { thrown = error }
        let text = thrown.map { "\($0)" } ?? (report?.failures.joined(separator: "\n") ?? "")
        #expect(!text.isEmpty, "a pull over a local file must fail")
        #expect(text.contains("sub") && text.contains("not a directory"), "\(text)")
        #expect(try Disk.read(local + "/sub") == Data("my local file".utf8))
    }

    // MARK: sshd restarted under a watch

    @Test func watchReconnectsAfterSSHDRestarts() async throws {
        let lab = try SyncLab.faults()
        let local = try lab.makeDirectory("local")
        let remote = lab.path("remote")
        try Disk.file(local + "/a.txt", "before")
        let target = lab.fastKeepaliveTarget()
        let watch = FaultWatch(local: local, remote: remote, stateDirectory: lab.path("state")) {
            try await lab.connect(target: target)
        }
        #expect(await eventually(60) { (try? Disk.read(remote + "/a.txt")) == Data("before".utf8) })

        for round in 1...2 {
            try lab.server.restart()
            // Each version has another size: a same-size edit within the same second is the
            // separate bug of watchKeepsASameSizeEditMadeWithinTheSameSecondWhileDisconnected.
            let text = "after restart \(round)" + String(repeating: "!", count: round)
            try Disk.file(local + "/a.txt", text)
            try Disk.file(local + "/r\(round).txt", "new after restart \(round)")
            let arrived = await eventually(90) {
                (try? Disk.read(remote + "/a.txt")) == Data(text.utf8)
                    && (try? Disk.read(remote + "/r\(round).txt")) == Data("new after restart \(round)".utf8)
            }
            let said = watch.events.lines.suffix(15).joined(separator: "\n")
            #expect(arrived, "round \(round): changes after the restart did not arrive\n\(said)")
        }
        #expect(watch.count("connection lost") >= 2, "\(watch.events.lines)")
        #expect(watch.count("connected to") >= 3)
        await watch.stop()
        // Spare temp files of the killed sessions may remain (watchLeavesNoSpareFilesAfterReconnects);
        // the next push must remove them.
        _ = try await lab.push(local, to: remote)
        #expect(try Disk.temporaries(under: remote).isEmpty)
    }
}
