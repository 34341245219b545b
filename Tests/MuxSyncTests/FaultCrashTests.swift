// muxsync itself killed (SIGKILL) in the middle of a push or a pull: the built CLI runs as a
// child process through a bandwidth-capped proxy (so the kill lands mid-transfer on any
// machine), is killed once it is visibly writing, and the state it leaves is checked: every
// remote file complete old or new, no partial local file under a real name; then the next
// run finishes the job, removes what the killed one left and (pull) resumes its partials.
//
// Default: 3 killed pushes; MUXSYNC_SOAK=1: 12. MUXSYNC_FAULT_SEED=N replays another seed.

import Foundation
import MuxSync
import MuxTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite(.serialized, .timeLimit(.minutes(20)))
struct FaultCrashTests {
    static let t0: Int64 = 1_700_070_000

    // MARK: kill -9 during a push

    @Test func killedPushLeavesOldOrNewAndTheNextPushCleansUp() async throws {
        let rounds = FaultEnvironment.count(3, soak: 12)
        let seed = FaultEnvironment.seed(0xC0FF_EE11)
        var random = SeededGenerator(seed: seed)
        let (lab, proxy, local, remote) = try SyncLab.faultsWithProxyAndTrees()
        defer { proxy.stop() }
        let destination = lab.proxied(remote, via: proxy)
        let push = ["push", "-F", lab.server.sshConfigPath, "--delete", local, destination]

        var tree = FaultTree.generate(count: 300, random: &random)
        try tree.write(to: local, mtime: Self.t0)
        let first = try lab.runCLI(push)
        #expect(first.succeeded, "first push: \(first.stderr)")

        var killed = 0
        var leftTotal = 0
        for round in 1...rounds {
            var next = tree.mutated(random: &random, fraction: 0.3, round: round)
            for index in 0..<3 { next.files["big/b\(index).bin"] = random.data(3 << 20) }  // keeps the push busy
            try next.write(to: local, over: tree, mtime: Self.t0 + Int64(round) * 10)

            // 8 MB/s: the ~12 MB of changes take over a second, so the kill lands mid-push.
            proxy.bandwidth = 8 << 20
            let log = lab.path("push-\(round).log")
            let child = try lab.spawnCLI(push, log: log)
            let writing = await eventually(60) { Disk.hasTemporary(under: remote) || !child.isRunning }
            try await Task.sleep(for: .milliseconds(Int(random.next() % 700)))
            child.signal(SIGKILL)
            let end = child.wait(timeout: 30)
            proxy.bandwidth = nil
            // The server still runs what reached it before the kill (renames included): look
            // only once its session has closed the connection.
            let drained = await eventually(60) { proxy.statistics.active == 0 }
            #expect(drained, "round \(round): the killed run's connection is still open")
            #expect(writing, "round \(round): no temporary ever appeared on the remote")
            if end == .signaled(SIGKILL) {
                killed += 1
            } else {
                print("FAULT kill -9 push round \(round): the push ended first (\(String(describing: end)))")
            }

            // Every remote file: absent (only if new or deleted), the old or the new version.
            try expectOldOrNew(under: remote, old: tree, new: next, context: "round \(round) (seed \(seed))")
            let left = try Disk.temporaries(under: remote)
            leftTotal += left.count

            // The next push (same state directory, no --force) finishes and removes them.
            let rerun = try lab.runCLI(push)
            #expect(rerun.succeeded, "round \(round): rerun after the kill: \(rerun.stderr)")
            #expect(!rerun.stderr.contains("conflict"), "round \(round): \(rerun.stderr)")
            #expect(try Disk.temporaries(under: remote).isEmpty, "round \(round): temporaries left after the rerun")
            #expect(try regularFiles(under: remote) == next.files, "round \(round): the rerun did not make the remote match")
            tree = next
        }
        print("FAULT kill -9 push: \(killed) of \(rounds) runs killed mid-push, \(leftTotal) temporaries left by them "
              + "(all removed by the next push), seed \(seed)")
        #expect(killed >= 1, "no push was killed while running")
        #expect(leftTotal > 0, "the kills left no temporary, so their cleanup was not exercised")
    }

    // MARK: kill -9 during a pull

    @Test func killedPullLeavesNoPartialUnderARealNameAndTheRerunResumes() async throws {
        var random = SeededGenerator(seed: FaultEnvironment.seed(0xC0FF_EE12))
        let (lab, proxy) = try SyncLab.faultsWithProxy()
        defer { proxy.stop() }
        let remote = try lab.makeDirectory("remote")
        let source = FaultTree.bigAndSmall(bigA: 48 << 20, bigB: 40 << 20, small: 30, random: &random)
        try source.write(to: remote, mtime: Self.t0)
        let (files, total) = (source.files, source.totalBytes)
        let local = lab.path("dest")

        // 24 MB/s: a resume marker (written per 32 MiB of complete prefix) appears after ~2 s.
        proxy.bandwidth = 24 << 20
        let child = try lab.spawnCLI(["pull", "-F", lab.server.sshConfigPath, lab.proxied(remote, via: proxy), local],
                                     log: lab.path("pull.log"))
        let marked = await eventually(90) { !Disk.names(under: local, endingWith: ".offset").isEmpty || !child.isRunning }
        child.signal(SIGKILL)
        let end = child.wait(timeout: 30)
        proxy.bandwidth = nil
        #expect(marked)
        try #require(end == .signaled(SIGKILL), "the pull ended before it could be killed: \(String(describing: end))")

        // Under a real name only complete files; count what the rerun may skip or resume.
        let (completeBytes, resumeOffsets, markers) = try pullLeftovers(in: local, expected: files, context: "after kill -9")
        #expect(markers >= 1, "the killed pull left no resume marker")

        let rerun = try await lab.pull(remote, into: local)
        #expect(rerun.failures.isEmpty, "\(rerun.failures)")
        #expect(rerun.filesResumed == markers, "resumed \(rerun.filesResumed), markers \(markers)")
        let owed = UInt64(total - completeBytes) - resumeOffsets
        #expect(rerun.bytesReceived == owed, "the rerun fetched \(rerun.bytesReceived) bytes; \(owed) were missing")
        #expect(try regularFiles(under: local) == files, "content differs after the rerun")
        #expect(try Disk.temporaries(under: local).isEmpty, "partial files left after the rerun")
        print("FAULT kill -9 pull: killed with \(completeBytes) bytes complete and \(resumeOffsets) resumable in \(markers) "
              + "partial(s); the rerun fetched \(rerun.bytesReceived) of \(total) bytes")
    }
}
