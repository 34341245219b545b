// Changes between two pushes reach the remote: new content, a mode-only change, a file
// that became a directory and back, a re-pointed symlink; with --delete removed entries
// vanish, without it they stay.

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
struct PushChangesIntegrationTests {
    // MARK: Fixture

    static let t0: Int64 = 1_650_000_000

    /// The first version of the local tree.
    static func buildFirstVersion(_ local: String) throws {
        try Disk.file(local + "/same.txt", "unchanged", mtime: t0)
        try Disk.file(local + "/edit-same-size.txt", "aaaa", mtime: t0)
        try Disk.file(local + "/edit-grow.txt", "short", mtime: t0)
        try Disk.file(local + "/mode-only.sh", "#!/bin/sh\n", mode: 0o644, mtime: t0)
        try Disk.file(local + "/becomes-dir", "I am a file for now", mtime: t0)
        try Disk.directory(local + "/becomes-file")
        try Disk.directory(local + "/becomes-file/nested")
        try Disk.file(local + "/becomes-file/nested/child.txt", "child", mtime: t0)
        try Disk.file(local + "/becomes-file/top.txt", "top", mtime: t0)
        try Disk.file(local + "/target-a.txt", "A", mtime: t0)
        try Disk.file(local + "/target-b.txt", "B", mtime: t0)
        try Disk.symlink(local + "/pointer", to: "target-a.txt")
        try Disk.file(local + "/removed.txt", "bye", mtime: t0)
        try Disk.directory(local + "/removed-dir")
        try Disk.directory(local + "/removed-dir/inner")
        try Disk.file(local + "/removed-dir/inner/deep.txt", "deep bye", mtime: t0)
        try Disk.symlink(local + "/removed-link", to: "same.txt")
        try SampleTree.setDirectoryTimes(local)
    }

    /// Turns the first version into the second one.
    static func applyChanges(_ local: String) throws {
        try Disk.file(local + "/edit-same-size.txt", "bbbb", mtime: t0 + 60)
        try Disk.file(local + "/edit-grow.txt", "much longer than before", mtime: t0 + 60)
        guard chmod(local + "/mode-only.sh", 0o755) == 0 else { throw DiskError(path: local, what: "chmod", code: errno) }
        try Disk.remove(local + "/becomes-dir")
        try Disk.directory(local + "/becomes-dir", mode: 0o750)
        try Disk.file(local + "/becomes-dir/now-inside.txt", "inside the new directory", mtime: t0 + 60)
        try Disk.remove(local + "/becomes-file")
        try Disk.file(local + "/becomes-file", "a file where a tree was", mtime: t0 + 60)
        try Disk.remove(local + "/pointer")
        try Disk.symlink(local + "/pointer", to: "target-b.txt")
        try Disk.remove(local + "/removed.txt")
        try Disk.remove(local + "/removed-dir")
        try Disk.remove(local + "/removed-link")
        try Disk.file(local + "/brand-new.txt", "new", mtime: t0 + 60)
        try SampleTree.setDirectoryTimes(local)
    }

    static let removedPaths = ["removed.txt", "removed-dir", "removed-link"]

    // MARK: Tests

    @Test func changesPropagateWithDelete() async throws {
        let lab = try SyncLab()
        let local = try lab.makeDirectory("local")
        let remote = lab.path("remote")
        try Self.buildFirstVersion(local)
        let first = try await lab.push(local, to: remote)
        #expect(first.failures.isEmpty)
        #expect(try TreeSnapshot(local).differences(from: TreeSnapshot(remote)).isEmpty)
        let sameBefore = try #require(try TreeSnapshot(remote)["same.txt"])

        try Self.applyChanges(local)
        var options = PushOptions()
        options.delete = true
        let second = try await lab.push(local, to: remote, options: options)
        #expect(second.failures.isEmpty, "\(second.failures)")
        // edit-same-size, edit-grow, becomes-dir/now-inside, becomes-file, brand-new.
        #expect(second.filesSent == 5)
        // The 5 removed entries plus the 3 below becomes-file/ (gone with the directory).
        #expect(second.plan.removals == 8, "\(second.plan.allActions.map(\.description))")

        let onRemote = try TreeSnapshot(remote)
        let diff = try TreeSnapshot(local).differences(from: onRemote)
        #expect(diff.isEmpty, "local vs remote:\n\(diff.joined(separator: "\n"))")
        #expect(onRemote["mode-only.sh"]?.mode == 0o755)
        #expect(onRemote["becomes-dir"]?.isDirectory == true)
        #expect(onRemote["becomes-file"]?.contents == Data("a file where a tree was".utf8))
        #expect(onRemote["pointer"]?.kind == .symlink("target-b.txt"))
        for path in Self.removedPaths { #expect(onRemote[path] == nil, "\(path) should be gone") }
        // The untouched file was not rewritten.
        #expect(onRemote["same.txt"]?.ctime == sameBefore.ctime && onRemote["same.txt"]?.ctimeNanoseconds == sameBefore.ctimeNanoseconds)
        #expect(try Disk.temporaries(under: remote).isEmpty)
    }

    @Test func withoutDeleteRemovedEntriesStay() async throws {
        let lab = try SyncLab()
        let local = try lab.makeDirectory("local")
        let remote = lab.path("remote")
        try Self.buildFirstVersion(local)
        _ = try await lab.push(local, to: remote)
        let removedBefore = try TreeSnapshot(remote)

        try Self.applyChanges(local)
        let second = try await lab.push(local, to: remote)
        #expect(second.failures.isEmpty, "\(second.failures)")
        // Only what the directory -> file change takes away (becomes-file/top.txt, nested/, child).
        #expect(second.plan.removals == 3, "\(second.plan.allActions.map(\.description))")

        let onRemote = try TreeSnapshot(remote)
        // Everything local is there exactly (the remote only has extra entries)...
        let mismatches = try TreeSnapshot(local).differences(from: onRemote).filter { !$0.hasPrefix("only in other:") }
        #expect(mismatches.isEmpty, "\(mismatches)")
        // ...and what was removed locally is still there, untouched.
        for path in ["removed.txt", "removed-dir", "removed-dir/inner", "removed-dir/inner/deep.txt", "removed-link"] {
            #expect(onRemote[path] != nil, "\(path) should stay without --delete")
            #expect(onRemote[path]?.kind == removedBefore[path]?.kind)
        }
        // Kind changes happen even without --delete (the tree must match).
        #expect(onRemote["becomes-dir/now-inside.txt"] != nil)
        #expect(onRemote["becomes-file"]?.isFile == true)
        #expect(onRemote["pointer"]?.kind == .symlink("target-b.txt"))
    }

    @Test func sameSecondSameSizeEditIsSentWithoutChecksum() async throws {
        let lab = try SyncLab()
        let local = try lab.makeDirectory("local")
        let remote = lab.path("remote")
        let note = local + "/note.txt", big = local + "/big.bin"
        var generator = SeededGenerator(seed: 0x5A4E_5EC0)
        let bigFirst = generator.data(300_000)  // large enough for the delta path
        try Disk.file(note, "AAAA")
        try Disk.file(big, bigFirst)
        for path in [note, big] { try Disk.setMtime(path, Self.t0, nanoseconds: 100_000_000) }
        let first = try await lab.push(local, to: remote)
        #expect(first.failures.isEmpty)
        #expect(first.filesSent == 2)

        // Rewritten within the same second, same sizes, other bytes: on the remote (whole
        // seconds) nothing shows it; the nanoseconds of the local mtime do.
        var bigSecond = bigFirst
        bigSecond.replaceSubrange(150_000..<150_100, with: Data(repeating: 0x42, count: 100))
        try Disk.file(note, "BBBB")
        try Disk.file(big, bigSecond)
        for path in [note, big] { try Disk.setMtime(path, Self.t0, nanoseconds: 600_000_000) }
        var dryRun = PushOptions()
        dryRun.dryRun = true
        let preview = try await lab.push(local, to: remote, options: dryRun)
        #expect(preview.plan.filesToSend == 2)
        let second = try await lab.push(local, to: remote)
        #expect(second.failures.isEmpty)
        #expect(second.filesSent == 2)
        #expect(second.deltaFiles == 1, "big.bin should have gone as a delta")
        #expect(try Disk.read(remote + "/note.txt") == Data("BBBB".utf8))
        #expect(try Disk.read(remote + "/big.bin") == bigSecond)

        // The version just sent is not sent again.
        let third = try await lab.push(local, to: remote)
        #expect(third.failures.isEmpty)
        #expect(third.filesSent == 0)
        #expect(try TreeSnapshot(local).differences(from: TreeSnapshot(remote)).isEmpty)
        // An edit that also restores the very nanoseconds needs --checksum:
        // sameSizeSameMtimeEditNeedsChecksum.
    }

    @Test func sameSizeSameMtimeEditNeedsChecksum() async throws {
        let lab = try SyncLab()
        let local = try lab.makeDirectory("local")
        let remote = lab.path("remote")
        try Disk.file(local + "/sneaky.txt", "1234", mtime: Self.t0)
        _ = try await lab.push(local, to: remote)
        // Same size and mtime to the nanosecond, different bytes: the quick check cannot see it...
        try Disk.file(local + "/sneaky.txt", "abcd", mtime: Self.t0)
        let quick = try await lab.push(local, to: remote)
        #expect(quick.filesSent == 0)
        #expect(try Disk.read(remote + "/sneaky.txt") == Data("1234".utf8))
        // ...--checksum does.
        var options = PushOptions()
        options.checksum = true
        let checked = try await lab.push(local, to: remote, options: options)
        #expect(checked.failures.isEmpty)
        #expect(checked.filesSent == 1)
        #expect(try Disk.read(remote + "/sneaky.txt") == Data("abcd".utf8))
        #expect(try TreeSnapshot(local).differences(from: TreeSnapshot(remote)).isEmpty)
    }
}
