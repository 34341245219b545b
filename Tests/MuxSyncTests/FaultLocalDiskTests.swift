// The local disk fills up during a pull: a small tmpfs mounted as LOCAL_DIR (root only; as
// another user the test is reported as skipped). The failure names the file and says "no
// space", nothing partial appears under a real name, and once space is freed (the tmpfs made
// larger) the next pull resumes the partial download instead of starting it again.

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
struct FaultLocalDiskTests {
    static let t0: Int64 = 1_700_080_000

    @Test(.enabled(if: geteuid() == 0, "mounting a tmpfs needs root"))
    func fullLocalDiskDuringPullNamesTheFileKeepsThePartialAndResumes() async throws {
        var random = SeededGenerator(seed: FaultEnvironment.seed(0xC0FF_EE21))
        let lab = try SyncLab.faults()
        let remote = try lab.makeDirectory("remote")
        var files: [String: Data] = ["big.bin": random.data(24 << 20)]
        for index in 0..<20 { files["small/s\(index).txt"] = random.data(20_000) }
        try FaultTree(files: files).write(to: remote, mtime: Self.t0)
        let total = files.values.reduce(0) { $0 + $1.count }

        let local = try lab.makeDirectory("dest")
        try #require(FaultMounts.tmpfs(at: local, kibibytes: 8 << 10), "cannot mount a tmpfs at \(local)")
        defer { FaultMounts.unmount(local) }

        let full = try lab.runCLI(["pull", "-F", lab.server.sshConfigPath, SSHDServer.hostAlias + ":" + remote, local])
        #expect(full.termination == .exited(1), "\(full.termination): \(full.stderr)")
        let line = full.stderr.split(separator: "\n").first { $0.contains("big.bin") && $0.contains("no space left") }
        #expect(line != nil, "no line names big.bin and the cause: \(full.stderr)")
        #expect(!Disk.exists(local + "/big.bin"), "big.bin cannot fit, yet it is under its real name")

        var completeBytes = 0
        var kept: UInt64 = 0
        for (key, node) in try TreeSnapshot(local).nodes where node.isFile {
            let path = key.string
            let name = path.split(separator: "/").last.map(String.init) ?? path
            if name.hasPrefix(".muxsync.") {
                if name.hasSuffix(".offset") { kept += FaultNetworkTests.markerOffset(local + "/" + path) }
                continue
            }
            #expect(node.contents == files[path], "\(path) is under its real name but incomplete")
            completeBytes += node.contents?.count ?? 0
        }
        #expect(kept > 0, "nothing of big.bin was kept for a resume")

        // Free space, pull again: big.bin resumes where the marker says.
        try #require(FaultMounts.resize(local, kibibytes: 64 << 10), "cannot grow the tmpfs")
        let rerun = try await lab.pull(remote, into: local)
        #expect(rerun.failures.isEmpty, "\(rerun.failures)")
        #expect(rerun.filesResumed == (kept > 0 ? 1 : 0))
        let owed = UInt64(total - completeBytes) - kept
        #expect(rerun.bytesReceived == owed, "the rerun fetched \(rerun.bytesReceived) bytes; \(owed) were missing")
        #expect(try regularFiles(under: local) == files)
        #expect(try Disk.temporaries(under: local).isEmpty, "partial files left after the rerun")
        print("FAULT local disk full: \(String(line ?? "(no line)")); kept \(kept) bytes, the rerun fetched \(rerun.bytesReceived)")
    }
}
