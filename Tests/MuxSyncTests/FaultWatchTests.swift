// watch under network faults: repeated cuts and a stall (keepalive), a second loss right
// after reconnecting, spare temp files across reconnects, and a same-size edit made within
// the same second while disconnected. Default: 4 cuts; MUXSYNC_SOAK=1: 20.

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

@Suite(.serialized, .timeLimit(.minutes(20)))
struct FaultWatchTests {
    static let t0: Int64 = 1_700_050_000

    // MARK: Watch through cuts and a stall

    @Test func watchConvergesThroughRepeatedCutsAndAStall() async throws {
        let rounds = FaultEnvironment.count(4, soak: 20)
        var random = SeededGenerator(seed: FaultEnvironment.seed(0xC0FF_EE03))
        let (lab, proxy, local, remote) = try SyncLab.faultsWithProxyAndTrees()
        defer { proxy.stop() }
        var tree = FaultTree.generate(count: 60, random: &random)
        try tree.write(to: local, mtime: Self.t0)
        // force: a cut that loses a rename's reply leaves a stale record and a false conflict
        // (bug of interruptedPushLeavesNoFalseConflicts, which watch shares).
        let watch = lab.fastKeepaliveWatch(local, onto: remote, through: proxy, force: true)
        #expect(await eventuallyHolds(remote, tree.files, within: 120), "initial sync")

        func edit(_ round: Int) throws {
            let next = tree.mutated(random: &random, fraction: 0.1, round: round, sameSizeEdits: false)
            try next.write(to: local, over: tree)
            tree = next
        }

        // Cuts while busy: edits, a reset of every connection, more edits; then wait until the
        // remote caught up (a loss during the reconcile after reconnecting kills the watch:
        // that is watchSurvivesALossDuringTheReconcileAfterReconnecting).
        for round in 1...rounds {
            try edit(round * 2)
            try await Task.sleep(for: .milliseconds(Int(random.next() % 400)))
            proxy.cutAll()
            try edit(round * 2 + 1)
            let caughtUp = await eventuallyHolds(remote, tree.files, within: 120)
            #expect(caughtUp, "round \(round): the remote did not catch up; watch ended: \(watch.ended ?? "no")")
        }
        let lostBefore = watch.count("connection lost")

        // A stall: nothing passes, nothing is reset; keepalive must notice.
        proxy.stall = true
        try edit(1000)
        let noticed = await eventually(45) { watch.count("connection lost") > lostBefore }
        #expect(noticed, "the watch never noticed the stalled link")
        proxy.stall = false
        #expect(watch.ended == nil, "the watch stopped: \(watch.ended ?? "")")

        let converged = await eventuallyHolds(remote, tree.files, within: 180)
        #expect(converged, "the remote did not converge to the local tree")
        if !converged {
            let got = (try? regularFiles(under: remote)) ?? [:]
            let wrong = Set(got.keys).union(tree.files.keys).filter { got[$0] != tree.files[$0] }.sorted()
            Issue.record("differing paths: \(wrong.prefix(20))\nwatch said:\n\(watch.events.lines.suffix(30).joined(separator: "\n"))")
        }
        await watch.stop()
        // Spare temp files (.muxsync.save.*.tmp) can outlive the stall: requests queued in the
        // stalled link reach the server after it resumes, when the client has long given up on
        // that session. The next run removes them.
        let leftovers = try Disk.temporaries(under: remote)
        var options = PushOptions()
        options.force = true
        options.stateDirectory = lab.path("state")
        let cleanup = try await lab.push(local, to: remote, options: options, port: proxy.port)
        #expect(cleanup.failures.isEmpty, "\(cleanup.failures)")
        #expect(try Disk.temporaries(under: remote).isEmpty, "the next push must remove leftover temporaries")
        print("FAULT watch: \(watch.count("connection lost")) connection losses, \(watch.count("connected to")) connects, "
              + "\(leftovers.count) temporaries left after stop (removed by the next push)")
    }

    // MARK: A loss during the reconcile after reconnecting

    /// Failed on commit 0674254 (the reconciling push ran inside run()'s connection-loss catch
    /// block and a second loss there ended the watch); passes with the reconnect rework that
    /// settles only the pending paths (smaller window; a loss inside settle() still escapes).
    @Test
    func watchSurvivesALossDuringTheReconcileAfterReconnecting() async throws {
        var random = SeededGenerator(seed: FaultEnvironment.seed(0xC0FF_EE05))
        let (lab, proxy, local, remote) = try SyncLab.faultsWithProxyAndTrees()
        defer { proxy.stop() }
        let tree = FaultTree.generate(count: 200, random: &random)
        try tree.write(to: local, mtime: Self.t0)
        let watch = lab.fastKeepaliveWatch(local, onto: remote, through: proxy)
        #expect(await eventuallyHolds(remote, tree.files, within: 120), "initial sync")

        // Lose the link, and stall the new one as soon as it is up: the reconciling push hangs,
        // keepalive ends that session too.
        proxy.refuseNew = true
        proxy.cutAll()
        try Disk.file(local + "/after-cut.txt", "written while disconnected")
        #expect(await eventually(30) { watch.count("connection lost") >= 1 })
        let connectsBefore = watch.count("connected to")
        proxy.refuseNew = false
        #expect(await eventually(30) { watch.count("connected to") > connectsBefore })
        proxy.stall = true
        try await Task.sleep(for: .seconds(6))  // keepalive: 1 s x 2
        proxy.stall = false
        try Disk.file(local + "/after-stall.txt", "written after the stall")
        let arrived = await eventually(90) {
            (try? Disk.read(remote + "/after-cut.txt")) == Data("written while disconnected".utf8)
                && (try? Disk.read(remote + "/after-stall.txt")) == Data("written after the stall".utf8)
        }
        #expect(watch.ended == nil, "the watch stopped: \(watch.ended ?? "")")
        #expect(arrived, "watch said:\n\(watch.events.lines.suffix(20).joined(separator: "\n"))")
        await watch.stop()
    }

    // MARK: Spare temp files across reconnects

    @Test
    func watchLeavesNoSpareFilesAfterReconnects() async throws {
        var random = SeededGenerator(seed: 3)
        let (lab, proxy, local, remote) = try SyncLab.faultsWithProxyAndTrees()
        defer { proxy.stop() }
        var tree = FaultTree.generate(count: 60, random: &random)
        try tree.write(to: local, mtime: Self.t0)
        let watch = lab.fastKeepaliveWatch(local, onto: remote, through: proxy, force: true)
        #expect(await eventuallyHolds(remote, tree.files, within: 120))
        var counts: [Int] = []
        for round in 1...3 {
            let next = tree.mutated(random: &random, fraction: 0.1, round: round, sameSizeEdits: false)
            try next.write(to: local, over: tree, removing: false)
            tree = next
            #expect(await eventually(60) { try regularFiles(under: remote).filter { tree.files[$0.key] != nil } == tree.files })
            proxy.cutAll()
            try Disk.file(local + "/poke\(round).txt", "poke")  // the next send finds the link dead
            #expect(await eventually(60) { Disk.exists(remote + "/poke\(round).txt") })
            counts.append(try Disk.temporaries(under: remote).count)
        }
        await watch.stop()
        let left = try Disk.temporaries(under: remote)
        #expect(left.isEmpty, "after 3 reconnects (temporaries per round \(counts)) the stopped watch left \(left.count): \(left.prefix(5))")
    }

    // MARK: A same-size edit within the same second, made while disconnected

    /// Failed on commit 0674254 (the reconciling push skipped the edit: same size and mtime
    /// second; afterReconcile then dropped the queued change); passes with the reconnect rework.
    @Test
    func watchKeepsASameSizeEditMadeWithinTheSameSecondWhileDisconnected() async throws {
        let (lab, proxy, local, remote) = try SyncLab.faultsWithProxyAndTrees()
        defer { proxy.stop() }
        let path = local + "/config.py"
        try Disk.file(path, "lr = 0.001\n")
        let watch = FaultWatch(local: local, remote: remote, stateDirectory: lab.path("state")) {
            try await lab.connect(port: proxy.port, channels: 2)
        }
        #expect(await eventually(60) { (try? Disk.read(remote + "/config.py")) == Data("lr = 0.001\n".utf8) })
        let seconds = Int64(Date().timeIntervalSince1970)
        try Self.setMtime(path, seconds: seconds, nanoseconds: 100_000_000)
        #expect(await eventually(60) { try TreeSnapshot(remote)["config.py"]?.mtime == seconds })

        proxy.refuseNew = true
        proxy.cutAll()
        try Disk.file(path, "lr = 0.003\n")  // same size
        try Self.setMtime(path, seconds: seconds, nanoseconds: 900_000_000)  // same second
        // The watch finds the link dead when it tries to send the change, and queues it.
        #expect(await eventually(30) { watch.count("connection lost") > 0 })
        try await Task.sleep(for: .milliseconds(300))
        proxy.refuseNew = false
        let arrived = await eventually(60) { (try? Disk.read(remote + "/config.py")) == Data("lr = 0.003\n".utf8) }
        #expect(arrived, "the edit made while disconnected never reached the remote:\n\(watch.events.lines.joined(separator: "\n"))")
        await watch.stop()
    }

    static func setMtime(_ path: String, seconds: Int64, nanoseconds: Int) throws {
        var times = [timespec(tv_sec: time_t(seconds), tv_nsec: nanoseconds), timespec(tv_sec: time_t(seconds), tv_nsec: nanoseconds)]
        guard utimensat(AT_FDCWD, path, &times, 0) == 0 else { throw DiskError(path: path, what: "utimensat", code: errno) }
    }
}
