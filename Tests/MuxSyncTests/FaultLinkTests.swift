// A poor link instead of a broken one: the proxy delivers in bursts with random pauses
// (`jitter`, what TCP makes of packet loss and queueing) or caps the bandwidth. A push of a
// tree and a watch through them must converge with nothing lost. (The kernel here has no
// netem, so this is the stand-in for `tc qdisc ... netem loss`.)

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
struct FaultLinkTests {
    static let t0: Int64 = 1_700_090_000

    // MARK: Push

    @Test func pushThroughAJitteryLinkConverges() async throws {
        var random = SeededGenerator(seed: FaultEnvironment.seed(0xC0FF_EE31))
        let (lab, proxy, local, remote) = try SyncLab.faultsWithProxyAndTrees()
        defer { proxy.stop() }
        proxy.jitter = 0.2
        var options = PushOptions()
        options.delete = true

        var tree = FaultTree.generate(count: 150, random: &random)
        try tree.write(to: local, mtime: Self.t0)
        let first = try await lab.push(local, to: remote, options: options, port: proxy.port)
        #expect(first.failures.isEmpty, "\(first.failures)")
        #expect(try regularFiles(under: remote) == tree.files)

        // Changed, removed and new files; the large same-size ones go through the delta path.
        let next = tree.mutated(random: &random, fraction: 0.3, round: 1)
        try next.write(to: local, over: tree, mtime: Self.t0 + 10)
        tree = next
        let second = try await lab.push(local, to: remote, options: options, port: proxy.port)
        #expect(second.failures.isEmpty, "\(second.failures)")
        #expect(try regularFiles(under: remote) == tree.files)
        #expect(try Disk.temporaries(under: remote).isEmpty)
        print("FAULT jitter 0-200 ms: \(tree.files.count) files, first push \(String(format: "%.1f", first.seconds)) s, "
              + "second \(String(format: "%.1f", second.seconds)) s (\(second.filesSent) sent)")
    }

    @Test func pushThroughABandwidthCapConverges() async throws {
        var random = SeededGenerator(seed: FaultEnvironment.seed(0xC0FF_EE32))
        let (lab, proxy, local, remote) = try SyncLab.faultsWithProxyAndTrees()
        defer { proxy.stop() }
        let cap = 2 << 20
        proxy.bandwidth = cap
        let tree = FaultTree.generate(count: 100, random: &random)  // two 1-2 MiB files, ~4 MB in all
        try tree.write(to: local, mtime: Self.t0)
        proxy.resetCounters()
        let started = ContinuousClock.now
        let report = try await lab.push(local, to: remote, port: proxy.port)
        let elapsed = (ContinuousClock.now - started).seconds
        #expect(report.failures.isEmpty, "\(report.failures)")
        #expect(try regularFiles(under: remote) == tree.files)
        // The cap really held: the bytes that went up cannot have passed faster than it allows
        // (a lower bound: a slow machine only makes it longer).
        let floor = Double(proxy.bytesUp) / Double(cap) * 0.8
        #expect(elapsed >= floor, "\(proxy.bytesUp) bytes went up in \(elapsed) s through a \(cap) B/s cap")
        print("FAULT bandwidth cap \(cap >> 20) MiB/s: \(proxy.bytesUp) bytes up in \(String(format: "%.1f", elapsed)) s")
    }

    // MARK: Watch

    @Test func watchThroughJitterAndACapConverges() async throws {
        let rounds = FaultEnvironment.count(4, soak: 15)
        var random = SeededGenerator(seed: FaultEnvironment.seed(0xC0FF_EE33))
        let (lab, proxy, local, remote) = try SyncLab.faultsWithProxyAndTrees()
        defer { proxy.stop() }
        proxy.jitter = 0.15
        proxy.bandwidth = 4 << 20
        var tree = FaultTree.generate(count: 60, random: &random)
        try tree.write(to: local, mtime: Self.t0)
        let watch = lab.fastKeepaliveWatch(local, onto: remote, through: proxy)
        #expect(await eventuallyHolds(remote, tree.files, within: 120), "initial sync")

        for round in 1...rounds {
            let next = tree.mutated(random: &random, fraction: 0.1, round: round, sameSizeEdits: false)
            try next.write(to: local, over: tree)
            tree = next
            let caughtUp = await eventuallyHolds(remote, tree.files, within: 120)
            #expect(caughtUp, "round \(round): the remote did not catch up; watch ended: \(watch.ended ?? "no")")
            if !caughtUp {
                Issue.record("watch said:\n\(watch.events.lines.suffix(30).joined(separator: "\n"))")
                break
            }
        }
        #expect(watch.ended == nil, "the watch stopped: \(watch.ended ?? "")")
        #expect(watch.count("error") == 0, "errors: \(watch.events.lines.filter { $0.contains("error") }.prefix(5))")
        await watch.stop()
        print("FAULT watch through jitter 0-150 ms and 4 MiB/s: \(rounds) rounds converged, "
              + "\(watch.count("connection lost")) connection losses")
    }
}
