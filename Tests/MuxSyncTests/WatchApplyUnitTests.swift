// The pieces of watch's apply step, without a server: reading the local tree without
// following symlinks, reloading ignore rules, merging queued events, KnownTree and DirtyPaths.

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MuxTransport
import Testing
@testable import MuxSync

@Suite("Watch apply pieces")
struct WatchApplyUnitTests {
    // MARK: LocalTreeStat

    @Test func localEntriesAreNeverReachedThroughASymlink() throws {
        let t = try WatchScratch()
        let outside = try WatchScratch()
        t.mkdirs("real/sub")
        t.write("real/sub/f", "inside")
        t.write("file", "x")
        outside.write("secret", "SECRET")
        #expect(symlink(outside.root, t.root + "/link") == 0)
        #expect(symlink("real", t.root + "/inner") == 0)

        #expect(try LocalTreeStat.of(root: t.root, relative: "real/sub/f")?.kind == .file)
        #expect(try LocalTreeStat.of(root: t.root, relative: "real/sub")?.kind == .directory)
        #expect(try LocalTreeStat.of(root: t.root, relative: "link")?.kind == .symlink, "the link itself is an entry")
        #expect(LocalTreeStat.linkTarget(root: t.root, relative: "link") == outside.root)
        // Below a symlinked directory (out of the tree or inside it): not in the tree.
        #expect(try LocalTreeStat.of(root: t.root, relative: "link/secret") == nil)
        #expect(try LocalTreeStat.of(root: t.root, relative: "inner/sub/f") == nil)
        #expect(throws: LocalIOError.self) { _ = try LocalTreeStat.open(root: t.root, relative: "link/secret") }
        // Below a file, or missing.
        #expect(try LocalTreeStat.of(root: t.root, relative: "file/x") == nil)
        #expect(try LocalTreeStat.of(root: t.root, relative: "nothing/here") == nil)

        let fd = try LocalTreeStat.open(root: t.root, relative: "real/sub/f")
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 16)
        #expect(read(fd, &buffer, 16) == 6)
        #expect(throws: LocalIOError.self) { _ = try LocalTreeStat.open(root: t.root, relative: "link") }
    }

    // MARK: Ignore rules

    @Test func reloadingTheTopLevelRereadsTheMuxsyncignoreAndKeepsNestedGitignores() throws {
        let t = try WatchScratch()
        t.mkdirs("sub")
        t.write("sub/.gitignore", "*.o\n")
        t.write(".muxsyncignore", "*.log\n")
        let filter = ExclusionFilter(root: t.root, excludes: ["*.tmp"])
        #expect(filter.isExcluded("a.log", isDirectory: false))
        #expect(filter.isExcluded("sub/x.o", isDirectory: false))
        #expect(!filter.isExcluded("data/x", isDirectory: false))

        t.write(".muxsyncignore", "data/\n")
        filter.reloadGitignore(in: "")
        #expect(!filter.isExcluded("a.log", isDirectory: false), "the old .muxsyncignore still applies")
        #expect(filter.isExcluded("data", isDirectory: true))
        #expect(filter.isExcluded("data/x", isDirectory: false))
        #expect(filter.isExcluded("sub/x.o", isDirectory: false), "a nested .gitignore was lost")
        #expect(filter.isExcluded("b.tmp", isDirectory: false), "--exclude was lost")

        t.write(".gitignore", "*.bak\n")
        filter.reloadGitignore(in: "")
        #expect(filter.isExcluded("x.bak", isDirectory: false))
        unlink(t.root + "/.muxsyncignore")
        filter.reloadGitignore(in: "")
        #expect(!filter.isExcluded("data/x", isDirectory: false))
    }

    // MARK: ChangeQueue

    @Test func theQueueMergesOnlyWhatALaterEventMakesMoot() {
        typealias Q = ChangeQueue
        #expect(Q.merge([.changed("p")], [.changed("q"), .changed("p")]) == [.changed("q"), .changed("p")])
        #expect(Q.merge([.changed("p")], [.removed("p")]) == [.removed("p")])
        // A removal then a creation: both stay (the old entry must go first).
        #expect(Q.merge([.removed("p")], [.changed("p")]) == [.removed("p"), .changed("p")])
        #expect(Q.merge([.removed("p"), .changed("p")], [.changed("p")]) == [.removed("p"), .changed("p")])
        #expect(Q.merge([.removed("p"), .changed("p")], [.removed("p")]) == [.removed("p")])
        // Renames keep their place; events around them are not merged across.
        #expect(Q.merge([.changed("d/f"), .renamed(from: "d", to: "e")], [.changed("d/f")])
                == [.changed("d/f"), .renamed(from: "d", to: "e"), .changed("d/f")])
    }

    // MARK: KnownTree

    @Test func knownTreeTracksDirectoriesSymlinksAndVersions() {
        let known = KnownTree()
        known.record(Tree([TreeEntry(path: "d", kind: .directory), TreeEntry(path: "d/f", kind: .file, size: 3, mtime: 10),
                           TreeEntry(path: "l", kind: .symlink(target: "d/f")), TreeEntry(path: "x", kind: .file, size: 1, mtime: 5),
                           TreeEntry(path: "fifo", kind: .special("fifo"))]))
        #expect(known.entry("d") == .directory)
        #expect(known.entry("l") == .symlink(target: "d/f"))
        #expect(known.entry("fifo") == nil)
        #expect(known.count == 4)

        // A rename over `x` (a file) replaces it; the subtree moves.
        known.record("e", .file(FileVersion(size: 9, mtime: 9, nanoseconds: 0)))
        known.move(from: "d", to: "e")
        #expect(known.entry("e") == .directory)
        #expect(known.entry("e/f") == .file(FileVersion(size: 3, mtime: 10, nanoseconds: 0, permissions: 0o644)))
        #expect(known.entry("d/f") == nil)

        // Differences: a new directory, a changed mode, a re-pointed link, a removal.
        let local = Tree([TreeEntry(path: "e", kind: .directory),
                          TreeEntry(path: "e/f", kind: .file, size: 3, mtime: 10, permissions: 0o600),
                          TreeEntry(path: "l", kind: .symlink(target: "e/f")), TreeEntry(path: "new", kind: .directory)])
        let differences = known.differences(from: local)
        #expect(Set(differences.map(\.description)) == ["changed e/f", "changed l", "changed new", "removed x"])
    }

    // MARK: DirtyPaths

    @Test func dirtyPathsKeepWhatTheEventsSaidUnderTheCurrentNames() {
        var dirty = DirtyPaths()
        dirty.removed("d/gone")
        dirty.changed("d/f")
        dirty.removed("x")
        dirty.changed("x")
        #expect(dirty.intents[BytePath("x")] == .replace)
        dirty.move(from: "d", to: "e")
        #expect(dirty.intents[BytePath("e/gone")] == .remove)
        #expect(dirty.intents[BytePath("e/f")] == .check)
        #expect(dirty.intents[BytePath("d/f")] == nil)
        #expect(Set(dirty.takeRemovals(sameOrInside: "e")) == ["e/gone"])
        dirty.removed("e")
        #expect(dirty.intents[BytePath("e/f")] == nil, "a removal clears the marks inside it")
        #expect(ByteExact.rebase("a/b/c", from: "a/b", to: "z") == "z/c")
    }
}
