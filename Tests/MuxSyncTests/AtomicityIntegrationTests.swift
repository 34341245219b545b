// A push lands file by file atomically: after success no temporary is left; a push cut in
// the middle by the proxy leaves each remote file absent, complete-old or complete-new (never
// a mix), and the next push completes the job and cleans up the leftovers.

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
struct AtomicityIntegrationTests {
    static let t0: Int64 = 1_690_000_000

    /// File name -> (old content, new content); nil old = created by the second push.
    struct Versions {
        var old: [String: Data] = [:]
        var new: [String: Data] = [:]
    }

    /// Writes the old version of every file into `local` and returns both versions. The mix
    /// covers the small-file batch path, the striped path (>= 1 MiB) and the delta path
    /// (a big file whose new version shares most blocks with the old one).
    static func makeVersions(_ local: String) throws -> Versions {
        var versions = Versions()
        for i in 0..<12 {
            let name = "small-\(i).bin"
            versions.old[name] = Disk.random(200_000 + i * 1_000)
            versions.new[name] = Disk.random(210_000 + i * 1_000)
        }
        for i in 0..<3 {
            let name = "large-\(i).bin"
            versions.old[name] = Disk.random(2 << 20)
            versions.new[name] = Disk.random((2 << 20) + 4096 * i + 1)
        }
        let base = Disk.random(3 << 20)
        versions.old["delta.bin"] = base
        var edited = base
        edited.replaceSubrange(1_000_000..<1_000_100, with: Disk.random(100))
        edited.append(Disk.random(500_000))
        versions.new["delta.bin"] = edited
        for i in 0..<3 { versions.new["created-\(i).bin"] = Disk.random(300_000) }

        for (name, data) in versions.old { try Disk.file(local + "/" + name, data, mtime: t0) }
        return versions
    }

    static func writeNewVersions(_ versions: Versions, into local: String) throws {
        for (name, data) in versions.new { try Disk.file(local + "/" + name, data, mode: 0o640, mtime: t0 + 3600) }
    }

    // MARK: Tests

    @Test func successfulPushLeavesNoTemporaries() async throws {
        let lab = try SyncLab()
        let local = try lab.makeDirectory("local")
        let versions = try Self.makeVersions(local)
        let remote = lab.path("remote")
        let first = try await lab.push(local, to: remote)
        #expect(first.failures.isEmpty)
        #expect(try Disk.temporaries(under: remote).isEmpty)

        try Self.writeNewVersions(versions, into: local)
        let second = try await lab.push(local, to: remote)
        #expect(second.failures.isEmpty, "\(second.failures)")
        #expect(second.filesSent == versions.new.count)
        #expect(second.deltaFiles >= 1, "delta.bin should have gone as a delta")
        #expect(try Disk.temporaries(under: remote).isEmpty)
        #expect(try TreeSnapshot(local).differences(from: TreeSnapshot(remote)).isEmpty)
    }

    @Test func cutPushLeavesOldOrNewAndRerunCompletes() async throws {
        let lab = try SyncLab()
        let local = try lab.makeDirectory("local")
        let versions = try Self.makeVersions(local)
        let remote = lab.path("remote")
        // Every push goes through the proxy: one endpoint, so one sync state (records, delta
        // signatures) across the cut, as for a user on a flaky link.
        let proxy = try lab.makeProxy()
        defer { proxy.stop() }
        let first = try await lab.push(local, to: remote, port: proxy.port)
        #expect(first.failures.isEmpty)
        try Self.writeNewVersions(versions, into: local)

        // Cut the second push about halfway through its payload.
        let payload = versions.new.values.reduce(0) { $0 + $1.count }
        proxy.cutAfter(bytes: payload / 2, direction: .up)
        var cutReport: PushReport?
        var cutError: Error?
        do {
            cutReport = try await lab.push(local, to: remote, port: proxy.port)
        } catch {
            cutError = error
        }
        #expect(!proxy.isCutPending, "the proxy never cut the push")
        #expect(cutError != nil || cutReport?.failures.isEmpty == false, "a cut push must not report success")

        // Every file is absent, the complete old version or the complete new one.
        var oldCount = 0, newCount = 0
        let cut = try TreeSnapshot(remote)
        for name in Set(versions.old.keys).union(versions.new.keys).sorted() {
            let found = cut[name]?.contents
            if found == nil {
                #expect(versions.old[name] == nil, "\(name) vanished")
            } else if found == versions.old[name] {
                oldCount += 1
            } else if found == versions.new[name] {
                newCount += 1
            } else {
                Issue.record("\(name) is neither the old nor the new version (\(found?.count ?? 0) bytes)")
            }
        }
        #expect(oldCount + newCount > 0)
        let leftovers = try Disk.temporaries(under: remote)
        for name in cut.paths where !versions.new.keys.contains(name) {
            #expect(leftovers.contains(name), "unexpected remote entry \(name.debugDescription)")
        }

        // The rerun completes the job and removes the leftovers.
        let rerun = try await lab.push(local, to: remote, port: proxy.port)
        #expect(rerun.failures.isEmpty, "\(rerun.failures)")
        #expect(try Disk.temporaries(under: remote).isEmpty)
        let diff = try TreeSnapshot(local).differences(from: TreeSnapshot(remote))
        #expect(diff.isEmpty, "after the rerun:\n\(diff.joined(separator: "\n"))")

        // The interrupted run left no false record behind: the next change goes through
        // without a conflict for any file.
        for name in versions.new.keys.sorted() {
            try Disk.file(local + "/" + name, Disk.random(1000 + name.utf8.count), mtime: Self.t0 + 7200)
        }
        let next = try await lab.push(local, to: remote, port: proxy.port)
        #expect(next.failures.isEmpty, "\(next.failures)")
        #expect(next.conflicts == 0)
        #expect(try TreeSnapshot(local).differences(from: TreeSnapshot(remote)).isEmpty)
    }

    @Test func staleTemporaryFromAnotherRunIsRemoved() async throws {
        let lab = try SyncLab()
        let local = try lab.makeDirectory("local")
        try Disk.file(local + "/a.txt", "a", mtime: Self.t0)
        try Disk.directory(local + "/sub")
        try Disk.file(local + "/sub/b.txt", "b", mtime: Self.t0)
        let remote = lab.path("remote")
        _ = try await lab.push(local, to: remote)
        // What a killed run leaves: half-written temporaries beside the real names.
        try Disk.file(remote + "/.muxsync.a.txt.k3j4.tmp", "half")
        try Disk.file(remote + "/sub/.muxsync.b.txt.zz9.tmp", "half")
        // A user file that merely starts with the prefix is not ours.
        try Disk.file(local + "/.muxsync.notes", "mine", mtime: Self.t0)

        try Disk.file(local + "/a.txt", "a2", mtime: Self.t0 + 1)
        let report = try await lab.push(local, to: remote)
        #expect(report.failures.isEmpty, "\(report.failures)")
        #expect(try Disk.temporaries(under: remote) == [".muxsync.notes"])
        #expect(try Disk.read(remote + "/a.txt") == Data("a2".utf8))
        #expect(try Disk.read(remote + "/.muxsync.notes") == Data("mine".utf8))
    }
}
