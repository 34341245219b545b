// Round trips against a real sshd: push a tree full of awkward names and kinds, check the
// remote on disk, pull it back into a fresh directory and compare byte-exactly (contents,
// permission bits, mtimes in seconds, symlink targets). Then a second push must be a no-op.

import Foundation
import MuxSync
import MuxTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - The awkward tree

/// A local tree with everything a sync can trip over.
enum SampleTree {
    static let baseTime: Int64 = 1_600_000_000
    static let nfc = "caf\u{E9}"
    static let nfd = "cafe\u{301}"
    static let depth = 60
    /// Names of the longest length a file system allows (255 bytes).
    static let longASCIIName = String(repeating: "L", count: 251) + ".txt"
    static let longUTF8Name = String(repeating: "\u{65E5}", count: 85)

    /// Path of the deepest file.
    static var deepLeaf: String {
        (0..<depth).map { String(format: "level-%02d", $0) }.joined(separator: "/") + "/leaf.txt"
    }

    /// Builds the tree in the (existing, empty) directory `root`. `outside` is an existing
    /// directory outside the tree that one symlink points to.
    static func build(at root: String, outside: String) throws {
        var clock = baseTime
        func tick() -> Int64 { clock += 17; return clock }
        func file(_ path: String, _ text: String, mode: mode_t = 0o644) throws {
            try Disk.file(root + "/" + path, text, mode: mode, mtime: tick())
        }
        func directory(_ path: String, mode: mode_t = 0o755) throws {
            try Disk.directory(root + "/" + path, mode: mode)
        }

        try file("README.txt", "hello\n")
        try file("empty.txt", "")
        try file("run.sh", "#!/bin/sh\necho hi\n", mode: 0o755)
        try file("secret.key", "k", mode: 0o600)
        try file("readonly.txt", "ro", mode: 0o444)
        try file("with space.txt", "spaces")
        try file("line\nbreak.txt", "newline in the name")
        try file("tab\tname", "tab in the name")
        try file(nfc + ".txt", "NFC spelling")
        try file(nfd + ".txt", "NFD spelling, different bytes")
        try file("emoji \u{1F389}.txt", "party")
        try file(longASCIIName, "255 bytes of name")
        try file(longUTF8Name, "85 three-byte characters")
        try Disk.file(root + "/big.bin", Disk.random(3 << 20 + 12345), mode: 0o640, mtime: tick())

        try directory(nfc)
        try file(nfc + "/inside-nfc.txt", "in the NFC directory")
        try directory(nfd)
        try file(nfd + "/inside-nfd.txt", "in the NFD directory")
        try directory("\u{65E5}\u{672C}\u{8A9E}")
        try file("\u{65E5}\u{672C}\u{8A9E}/\u{30D5}\u{30A1}\u{30A4}\u{30EB}.txt", "japanese")
        try directory("empty-dir")
        try directory("private-dir", mode: 0o700)
        try file("private-dir/p.txt", "private", mode: 0o640)
        try directory("readonly-dir", mode: 0o555)
        try file("readonly-dir/r.txt", "inside a read-only directory")
        try directory("exec-dir", mode: 0o711)

        var path = ""
        for level in 0..<depth {
            path += (path.isEmpty ? "" : "/") + String(format: "level-%02d", level)
            try directory(path)
        }
        try file(deepLeaf, "sixty levels down")

        try directory("links")
        try Disk.symlink(root + "/links/relative", to: "../README.txt")
        try Disk.symlink(root + "/links/dangling", to: "does/not/exist")
        try Disk.symlink(root + "/links/outside-absolute", to: outside)
        try Disk.symlink(root + "/links/outside-relative", to: "../../../../../../etc/passwd")
        try Disk.symlink(root + "/links/to-directory", to: "../level-00")
        try Disk.symlink(root + "/links/nfd-target", to: nfd + ".txt")
        try Disk.symlink(root + "/links/with space", to: "with space.txt")

        try Disk.fifo(root + "/pipe")

        try setDirectoryTimes(root)
    }

    /// Gives every directory below `root` a distinct old mtime, deepest first.
    static func setDirectoryTimes(_ root: String) throws {
        let snapshot = try TreeSnapshot(root)
        var time = baseTime - 100_000
        for path in snapshot.paths.reversed() where snapshot[path]?.isDirectory == true {
            time -= 3
            try Disk.setMtime(root + "/" + path, time)
        }
    }
}

// MARK: - Suite

@Suite(.serialized, .timeLimit(.minutes(10)))
struct RoundTripIntegrationTests {
    @Test func pushThenPullReproducesTheTreeExactly() async throws {
        let lab = try SyncLab()
        let local = try lab.makeDirectory("local")
        let outside = try lab.makeDirectory("outside")
        try Disk.file(outside + "/outside-secret.txt", "must never be copied")
        try SampleTree.build(at: local, outside: outside)
        let remote = lab.path("remote/project")

        let pushed = try await lab.push(local, to: remote, useDefaults: false)
        #expect(pushed.failures.isEmpty, "push failures: \(pushed.failures)")
        #expect(pushed.plan.skippedSpecial == ["pipe"])
        #expect(pushed.warnings.contains { $0.contains("FIFO") && $0.contains("pipe") }, "warnings: \(pushed.warnings)")

        let expected = try TreeSnapshot(local).removing(["pipe"])
        let onRemote = try TreeSnapshot(remote)
        let pushDiff = expected.differences(from: onRemote)
        #expect(pushDiff.isEmpty, "local vs remote after push:\n\(pushDiff.joined(separator: "\n"))")
        // Symlinks go as links: nothing of what they point to is copied.
        #expect(onRemote["links/outside-absolute"]?.isSymlink == true)
        #expect(onRemote["links/outside-relative"]?.kind == .symlink("../../../../../../etc/passwd"))
        #expect(onRemote["pipe"] == nil)
        #expect(onRemote[SampleTree.nfc + ".txt"]?.contents == Data("NFC spelling".utf8))
        #expect(onRemote[SampleTree.nfd + ".txt"]?.contents == Data("NFD spelling, different bytes".utf8))
        #expect(onRemote[SampleTree.deepLeaf]?.contents == Data("sixty levels down".utf8))
        #expect(try Disk.temporaries(under: remote).isEmpty)

        let back = lab.path("back")
        // One file at a time: concurrent fetches of "café.txt" in NFC and NFD delete each
        // other's partial download (see PullIntegrationTests.nfcAndNfdFilesInOneDirectoryBothArrive).
        var pullOptions = PullOptions()
        pullOptions.filesInFlight = 1
        let pulled = try await lab.pull(remote, into: back, options: pullOptions)
        #expect(pulled.failures.isEmpty, "pull failures: \(pulled.failures)")
        #expect(pulled.filesReceived == expected.nodes.values.filter(\.isFile).count)
        let pullDiff = expected.differences(from: try TreeSnapshot(back))
        #expect(pullDiff.isEmpty, "local vs pulled:\n\(pullDiff.joined(separator: "\n"))")
        #expect(try Disk.temporaries(under: back).isEmpty)
        #expect(try Disk.names(in: outside) == ["outside-secret.txt"])
    }

    @Test func unicodeSpellingsStaySeparateEntries() async throws {
        let lab = try SyncLab()
        let local = try lab.makeDirectory("local")
        // Same name in NFC and NFD, at the top and inside both directory spellings.
        for name in [SampleTree.nfc, SampleTree.nfd] {
            try Disk.directory(local + "/" + name)
            try Disk.file(local + "/" + name + "/" + SampleTree.nfc, "nfc in " + name, mtime: SampleTree.baseTime)
            try Disk.file(local + "/" + name + "/" + SampleTree.nfd, "nfd in " + name, mtime: SampleTree.baseTime)
        }
        try SampleTree.setDirectoryTimes(local)
        let remote = lab.path("remote")
        let pushed = try await lab.push(local, to: remote)
        #expect(pushed.failures.isEmpty)
        #expect(pushed.filesSent == 4)
        let onRemote = try TreeSnapshot(remote)
        #expect(onRemote.nodes.count == 6)
        #expect(try TreeSnapshot(local).differences(from: onRemote).isEmpty)

        // A pull with an include filter goes through the directory-selection path.
        var options = PullOptions()
        options.include = [SampleTree.nfd]
        let back = lab.path("back")
        let pulled = try await lab.pull(remote, into: back, options: options)
        #expect(pulled.failures.isEmpty, "\(pulled.failures)")
        let got = try TreeSnapshot(back)
        #expect(got[SampleTree.nfc + "/" + SampleTree.nfd]?.contents == Data("nfd in \(SampleTree.nfc)".utf8))
        #expect(got[SampleTree.nfd + "/" + SampleTree.nfd]?.contents == Data("nfd in \(SampleTree.nfd)".utf8))
        #expect(got[SampleTree.nfc + "/" + SampleTree.nfc] == nil)
        #expect(got[SampleTree.nfd + "/" + SampleTree.nfc] == nil)
    }

    // MARK: Idempotence

    @Test func secondPushIsANoOp() async throws {
        let lab = try SyncLab()
        let local = try lab.makeDirectory("local")
        let outside = try lab.makeDirectory("outside")
        try SampleTree.build(at: local, outside: outside)
        let remote = lab.path("remote")

        let first = try await lab.push(local, to: remote, useDefaults: false)
        #expect(first.failures.isEmpty, "\(first.failures)")
        #expect(first.filesSent > 10)
        let before = try TreeSnapshot(remote)
        let rootBefore = try #require(Disk.lstatIfExists(remote))

        let second = try await lab.push(local, to: remote, useDefaults: false)
        #expect(second.failures.isEmpty, "\(second.failures)")
        #expect(second.filesSent == 0)
        #expect(second.bytesSent == 0)
        #expect(second.deleted == 0)
        #expect(second.plan.isEmpty, "second plan: \(second.plan.allActions.map(\.description))")

        let after = try TreeSnapshot(remote)
        let changed = before.differences(from: after, includeCtime: true)
        #expect(changed.isEmpty, "remote touched by a no-op push:\n\(changed.joined(separator: "\n"))")
        let rootAfter = try #require(Disk.lstatIfExists(remote))
        #if canImport(Glibc)
        #expect(rootAfter.st_mtim.tv_sec == rootBefore.st_mtim.tv_sec && rootAfter.st_mtim.tv_nsec == rootBefore.st_mtim.tv_nsec)
        #endif
        #expect(try Disk.temporaries(under: remote).isEmpty)
        #expect(try Disk.temporaries(under: local).isEmpty)
    }
}
