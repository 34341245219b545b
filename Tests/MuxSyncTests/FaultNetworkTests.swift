// Network faults through the DelayProxy: pushes and pulls cut at seeded random byte points
// (every remote file absent, complete-old or complete-new; never a partial file under a real
// name; reruns complete or resume), and keepalive detection of a connection that went
// silent. The watch under the same faults: FaultWatchTests.
//
// Default: 8 push cuts, 4 pull cuts. MUXSYNC_SOAK=1: 50, 25.
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
        var random = SeededGenerator(seed: seed)
        let (lab, proxy, local, remote) = try SyncLab.faultsWithProxyAndTrees()
        defer { proxy.stop() }
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
            let changedBytes = try next.write(to: local, over: tree, mtime: Self.t0 + Int64(round) * 10)
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
            let found = try expectOldOrNew(under: remote, old: tree, new: next,
                                           context: "round \(round), cut at \(point) (seed \(seed))")
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
        var random = SeededGenerator(seed: seed)
        let (lab, proxy) = try SyncLab.faultsWithProxy()
        defer { proxy.stop() }
        let remote = try lab.makeDirectory("remote")
        let source = FaultTree.bigAndSmall(bigA: 40 << 20, bigB: 34 << 20, small: 40, random: &random)
        try source.write(to: remote, mtime: Self.t0)
        let (files, total) = (source.files, source.totalBytes)

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
            let left = try pullLeftovers(in: local, expected: files, context: "round \(round), cut at \(point) (seed \(seed))")
            let (completeBytes, resumeOffsets, expectResumed) = (left.completeBytes, left.resumeOffsets, left.markers)

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
        let (lab, proxy) = try SyncLab.faultsWithProxy()
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
}

// MARK: - A refused connection

extension FaultNetworkTests {
    /// The proxy accepts and resets at once (as a server at MaxStartups, or a firewall, does):
    /// the error must say the connection was closed, not blame the server's ciphers.
    @Test func connectionRefusedDuringTheHandshakeIsNotBlamedOnCiphers() async throws {
        let (lab, proxy) = try SyncLab.faultsWithProxy()
        defer { proxy.stop() }
        proxy.refuseNew = true
        var failure: Error?
        do {
            let client = try await lab.connect(port: proxy.port)
            await client.session.close()
        } catch {
            failure = error
        }
        let error = try #require(failure as? TransportError, "connecting through a refusing proxy: \(String(describing: failure))")
        #expect(error.stage == .handshake || error.stage == .connect, "\(error)")
        #expect(!error.description.contains("is this an SSH server"), "\(error)")
        // The reset lands in the TCP connect check or in the handshake, as the scheduler has it:
        // either way the message says what happened to the connection.
        let said = error.description.lowercased()
        #expect(said.contains("closed") || said.contains("reset") || said.contains("refused"), "\(error)")
        print("FAULT refused at the banner: \(error.description.replacingOccurrences(of: "\n", with: " | "))")
    }
}
