// Network faults through the DelayProxy: pushes and pulls cut at seeded random byte points
// (every remote file absent, complete-old or complete-new; never a partial file under a real
// name; reruns complete or resume), a watch through repeated cuts and a stall, and keepalive
// detection of a connection that went silent.
//
// Default: 8 push cuts, 4 pull cuts, 4 watch cuts. MUXSYNC_SOAK=1: 50, 25, 20.
// MUXSYNC_FAULT_SEED=N replays another seed.

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
struct FaultNetworkTests {
    static let t0: Int64 = 1_700_000_000

    // MARK: Push cut at random points

    /// `cuts` rounds of: change ~30% of a 500-file tree (some removed, some created), push
    /// with --delete through the proxy cut at a random byte point, check every remote file,
    /// rerun, check the remote equals the local tree. `force` turns conflict detection off.
    static func pushCuts(_ cuts: Int, seed: UInt64, force: Bool) async throws {
        var random = FaultRandom(seed: seed)
        let lab = try SyncLab.faults()
        let proxy = try lab.makeProxy()
        defer { proxy.stop() }
        let local = try lab.makeDirectory("local")
        let remote = lab.path("remote")
        var options = PushOptions()
        options.delete = true
        options.force = force

        var tree = FaultTree.generate(count: 500, random: &random)
        try tree.write(to: local, mtime: Self.t0)
        let first = try await lab.push(local, to: remote, options: options, port: proxy.port)
        #expect(first.failures.isEmpty, "\(first.failures)")
        #expect(try regularFiles(under: remote) == tree.files)

        var fired = 0
        var failedRuns = 0
        for round in 1...cuts {
            let next = tree.mutated(random: &random, fraction: 0.3, round: round)
            var changedBytes = 0
            for path in tree.files.keys where next.files[path] == nil { unlink(local + "/" + path) }
            for (path, data) in next.files where tree.files[path] != data {
                let full = local + "/" + path
                try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent,
                                                        withIntermediateDirectories: true)
                try Disk.file(full, data, mtime: Self.t0 + Int64(round) * 10)
                changedBytes += data.count
            }
            // Anywhere from the SSH handshake to a little past the end of the payload.
            let point = 1 + Int(random.next() % UInt64(changedBytes + changedBytes / 10 + 65_536))
            proxy.cutAfter(bytes: point, direction: .up)
            var cutError: Error?
            var cutReport: PushReport?
            do {
                cutReport = try await lab.push(local, to: remote, options: options, port: proxy.port)
            } catch {
                cutError = error
            }
            if proxy.isCutPending {
                proxy.cutAfter(bytes: Int.max, direction: .up)  // the push ended before the point: disarm
            } else {
                fired += 1
                #expect(cutError != nil || cutReport?.failures.isEmpty == false,
                        "round \(round): a push cut after \(point) bytes reported success")
            }
            if cutError != nil || cutReport?.failures.isEmpty == false { failedRuns += 1 }

            // Every remote file: absent (only if new or deleted), the old or the new version.
            let found = try regularFiles(under: remote)
            for path in Set(tree.files.keys).union(next.files.keys).sorted() {
                let old = tree.files[path]
                let new = next.files[path]
                guard let got = found[path] else {
                    #expect(old == nil || new == nil, "round \(round), cut at \(point): \(path) vanished")
                    continue
                }
                if got != old && got != new {
                    let message = "round \(round), cut at \(point) (seed \(seed)): \(path) holds \(got.count) bytes "
                        + "(\(fingerprint(got))), neither old (\(old?.count ?? -1)) nor new (\(new?.count ?? -1))"
                    Issue.record(Comment(rawValue: message))
                }
            }
            for path in found.keys where tree.files[path] == nil && next.files[path] == nil {
                Issue.record("round \(round): unexpected remote file \(path)")
            }

            let rerun = try await lab.push(local, to: remote, options: options, port: proxy.port)
            #expect(rerun.failures.isEmpty, "round \(round), rerun after a cut at \(point): \(rerun.failures)")
            #expect(rerun.conflicts == 0)
            #expect(try Disk.temporaries(under: remote).isEmpty, "round \(round): temporaries left after the rerun")
            let after = try regularFiles(under: remote)
            let presence = Set(after.keys).symmetricDifference(next.files.keys).count
            #expect(after == next.files, "round \(round): the rerun did not make the remote match (\(presence) paths differ in presence)")
            tree = next
        }
        print("FAULT push cuts (force \(force)): \(cuts) rounds, \(fired) cuts fired, \(failedRuns) runs failed, seed \(seed)")
        #expect(fired >= cuts / 2, "most cut points should fall inside the push (fired \(fired) of \(cuts))")
    }

    /// Atomicity under cuts. --force: conflict detection is off here, because of the bug
    /// that interruptedPushLeavesNoFalseConflicts shows.
    @Test func pushCutAtRandomPointsLeavesOldOrNewAndRerunCompletes() async throws {
        try await Self.pushCuts(FaultEnvironment.count(8, soak: 50), seed: FaultEnvironment.seed(0xC0FF_EE01), force: true)
    }

    @Test
    func interruptedPushLeavesNoFalseConflicts() async throws {
        try await Self.pushCuts(FaultEnvironment.count(4, soak: 20), seed: FaultEnvironment.seed(0xC0FF_EE01), force: false)
    }

    /// The same bug without a proxy: the remote already holds the local version (as after a
    /// lost rename reply), the push skips it, the next edit must not be a conflict.
    @Test
    func fileAlreadyInStepIsRecordedSoItsNextEditIsNoConflict() async throws {
        let lab = try SyncLab.faults()
        let local = try lab.makeDirectory("local")
        let remote = lab.path("remote")
        try Disk.file(local + "/w.bin", Disk.random(100_000), mtime: Self.t0)
        #expect(try await lab.push(local, to: remote).failures.isEmpty)
        let second = Disk.random(120_000)
        try Disk.file(local + "/w.bin", second, mtime: Self.t0 + 10)
        try Disk.file(remote + "/w.bin", second, mtime: Self.t0 + 10)  // landed, reply lost
        let skipped = try await lab.push(local, to: remote)
        #expect(skipped.failures.isEmpty && skipped.filesSent == 0)
        try Disk.file(local + "/w.bin", Disk.random(130_000), mtime: Self.t0 + 20)
        let edit = try await lab.push(local, to: remote)
        #expect(edit.conflicts == 0, "\(edit.failures)")
        #expect(try Disk.read(remote + "/w.bin") == Disk.read(local + "/w.bin"))
    }

    // MARK: Pull cut at random points

    /// The resume offset a partial download recorded, 0 when none.
    static func markerOffset(_ path: String) -> UInt64 {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let first = text.split(separator: " ").first, let offset = UInt64(first) else { return 0 }
        return offset
    }

    @Test func pullCutAtRandomPointsNeverShowsAPartialFileAndResumes() async throws {
        let cuts = FaultEnvironment.count(4, soak: 25)
        let seed = FaultEnvironment.seed(0xC0FF_EE02)
        var random = FaultRandom(seed: seed)
        let lab = try SyncLab.faults()
        let proxy = try lab.makeProxy()
        defer { proxy.stop() }
        let remote = try lab.makeDirectory("remote")
        var files: [String: Data] = ["big-a.bin": random.bytes(40 << 20), "big-b.bin": random.bytes(34 << 20)]
        for index in 0..<40 { files["small/s\(index).dat"] = random.bytes(1_000 + Int(random.next() % 60_000)) }
        try FaultTree(files: files).write(to: remote, mtime: Self.t0)
        let total = files.values.reduce(0) { $0 + $1.count }

        var resumedFiles = 0
        for round in 1...cuts {
            let local = lab.path("dest-\(round)")
            let point = 1 + Int(random.next() % UInt64(total + total / 20))
            proxy.cutAfter(bytes: point, direction: .down)
            var cutReport: PullReport?
            var cutError: Error?
            do {
                cutReport = try await lab.pull(remote, into: local, port: proxy.port)
            } catch {
                cutError = error
            }
            if proxy.isCutPending {
                proxy.cutAfter(bytes: Int.max, direction: .down)
                continue  // finished before the point: nothing to check about a cut
            }
            #expect(cutError != nil || cutReport?.failures.isEmpty == false, "round \(round): a cut pull reported success")

            // Under a real name only complete files; remember what the rerun may skip.
            var completeBytes = 0
            var resumeOffsets: UInt64 = 0
            var expectResumed = 0
            if Disk.exists(local) {
                for (key, node) in try TreeSnapshot(local).nodes where node.isFile {
                    let path = key.string
                    let name = path.split(separator: "/").last.map(String.init) ?? path
                    if name.hasPrefix(".muxsync.") {
                        if name.hasSuffix(".offset") {
                            let offset = Self.markerOffset(local + "/" + path)
                            resumeOffsets += offset
                            if offset > 0 { expectResumed += 1 }
                        }
                        continue
                    }
                    guard let expected = files[path] else {
                        Issue.record("round \(round): unexpected local file \(path)")
                        continue
                    }
                    if node.contents != expected {
                        let message = "round \(round), cut at \(point) (seed \(seed)): \(path) is under its real name "
                            + "with \(node.contents?.count ?? 0) of \(expected.count) bytes"
                        Issue.record(Comment(rawValue: message))
                    }
                    completeBytes += expected.count
                }
            }

            let rerun = try await lab.pull(remote, into: local)
            #expect(rerun.failures.isEmpty, "round \(round): \(rerun.failures)")
            #expect(rerun.filesResumed == expectResumed, "round \(round): resumed \(rerun.filesResumed), markers \(expectResumed)")
            let owed = UInt64(total - completeBytes) - resumeOffsets
            #expect(rerun.bytesReceived == owed,
                    "round \(round): the rerun fetched \(rerun.bytesReceived) bytes; \(owed) were missing")
            #expect(try regularFiles(under: local) == files, "round \(round): content differs after the rerun")
            #expect(try Disk.temporaries(under: local).isEmpty, "round \(round): partial files left")
            resumedFiles += rerun.filesResumed
            try Disk.remove(local)
        }
        print("FAULT pull cuts: \(cuts) rounds, \(resumedFiles) files resumed, seed \(seed)")
    }

    // MARK: Keepalive

    @Test func stalledConnectionIsDeclaredLostByKeepalive() async throws {
        let lab = try SyncLab.faults()
        let proxy = try lab.makeProxy()
        defer { proxy.stop() }
        let target = lab.fastKeepaliveTarget(port: proxy.port)
        let idle = try await lab.connect(target: target)
        let busy = try await lab.connect(target: target)
        _ = try await idle.primary.realpath(".")
        _ = try await busy.primary.realpath(".")

        // If keepalive never fires, the watchdog cuts the proxy after 45 s so the test ends.
        let watchdog = Task {
            try await Task.sleep(for: .seconds(45))
            proxy.stall = false
            proxy.cutAll()
        }
        defer { watchdog.cancel() }
        proxy.stall = true
        let start = ContinuousClock.now
        var failure: Error?
        do {
            _ = try await busy.primary.stat("/")  // in flight when the link went silent
        } catch {
            failure = error
        }
        let busyElapsed = ContinuousClock.now - start
        await idle.session.waitUntilEnded()
        let idleElapsed = ContinuousClock.now - start
        proxy.stall = false

        let lost = try #require(failure as? TransportError, "the request did not fail: \(String(describing: failure))")
        #expect(lost.stage == .connectionLost, "\(lost)")
        #expect(lost.description.contains("no answer from the server"), "\(lost)")
        #expect(busyElapsed < .seconds(30), "a request on a stalled link failed only after \(busyElapsed)")
        #expect(idleElapsed < .seconds(30), "an idle session on a stalled link ended only after \(idleElapsed)")
        #expect(busy.session.isClosed && idle.session.isClosed)
        print("FAULT keepalive (1 s x 2): busy session lost after \(busyElapsed), idle after \(idleElapsed)")
    }

    // MARK: Watch through cuts and a stall

    @Test func watchConvergesThroughRepeatedCutsAndAStall() async throws {
        let rounds = FaultEnvironment.count(4, soak: 20)
        var random = FaultRandom(seed: FaultEnvironment.seed(0xC0FF_EE03))
        let lab = try SyncLab.faults()
        let proxy = try lab.makeProxy()
        defer { proxy.stop() }
        let local = try lab.makeDirectory("local")
        let remote = lab.path("remote")
        var tree = FaultTree.generate(count: 60, random: &random)
        try tree.write(to: local, mtime: Self.t0)
        let target = lab.fastKeepaliveTarget(port: proxy.port)
        // force: a cut that loses a rename's reply leaves a stale record and a false conflict
        // (bug of interruptedPushLeavesNoFalseConflicts, which watch shares).
        let watch = FaultWatch(local: local, remote: remote, stateDirectory: lab.path("state"), force: true) {
            try await lab.connect(target: target)
        }
        #expect(await eventually(120) { try regularFiles(under: remote) == tree.files }, "initial sync")

        func edit(_ round: Int) throws {
            let next = tree.mutated(random: &random, fraction: 0.1, round: round, sameSizeEdits: false)
            for path in tree.files.keys where next.files[path] == nil { unlink(local + "/" + path) }
            for (path, data) in next.files where tree.files[path] != data {
                let full = local + "/" + path
                try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent,
                                                        withIntermediateDirectories: true)
                try Disk.file(full, data)
            }
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
            let caughtUp = await eventually(120) { try regularFiles(under: remote) == tree.files }
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

        let converged = await eventually(180) { try regularFiles(under: remote) == tree.files }
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
        var random = FaultRandom(seed: FaultEnvironment.seed(0xC0FF_EE05))
        let lab = try SyncLab.faults()
        let proxy = try lab.makeProxy()
        defer { proxy.stop() }
        let local = try lab.makeDirectory("local")
        let remote = lab.path("remote")
        let tree = FaultTree.generate(count: 200, random: &random)
        try tree.write(to: local, mtime: Self.t0)
        let target = lab.fastKeepaliveTarget(port: proxy.port)
        let watch = FaultWatch(local: local, remote: remote, stateDirectory: lab.path("state")) {
            try await lab.connect(target: target)
        }
        #expect(await eventually(120) { try regularFiles(under: remote) == tree.files }, "initial sync")

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
        var random = FaultRandom(seed: 3)
        let lab = try SyncLab.faults()
        let proxy = try lab.makeProxy()
        defer { proxy.stop() }
        let local = try lab.makeDirectory("local")
        let remote = lab.path("remote")
        var tree = FaultTree.generate(count: 60, random: &random)
        try tree.write(to: local, mtime: Self.t0)
        let target = lab.fastKeepaliveTarget(port: proxy.port)
        let watch = FaultWatch(local: local, remote: remote, stateDirectory: lab.path("state"), force: true) {
            try await lab.connect(target: target)
        }
        #expect(await eventually(120) { try regularFiles(under: remote) == tree.files })
        var counts: [Int] = []
        for round in 1...3 {
            let next = tree.mutated(random: &random, fraction: 0.1, round: round, sameSizeEdits: false)
            for (path, data) in next.files where tree.files[path] != data {
                let full = local + "/" + path
                try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent,
                                                        withIntermediateDirectories: true)
                try Disk.file(full, data)
            }
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
        let lab = try SyncLab.faults()
        let proxy = try lab.makeProxy()
        defer { proxy.stop() }
        let local = try lab.makeDirectory("local")
        let remote = lab.path("remote")
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
