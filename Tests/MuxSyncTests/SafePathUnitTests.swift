// Tests of SafePath against names a hostile server could send.

import Testing
@testable import MuxSync

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("SafePath")
struct SafePathUnitTests {
    // MARK: Single names

    @Test func validNamesPass() throws {
        for name in ["a", "a.txt", ".hidden", "..dots", "...", "with space", "caf\u{E9}", "line\nbreak", "back\\slash"] {
            try SafePath.validateName(name)
        }
    }

    @Test func hostileNamesAreRefused() {
        #expect(throws: SafePathError.emptyName) { try SafePath.validateName("") }
        #expect(throws: SafePathError.dotName(".")) { try SafePath.validateName(".") }
        #expect(throws: SafePathError.dotName("..")) { try SafePath.validateName("..") }
        #expect(throws: SafePathError.slashInName("../x")) { try SafePath.validateName("../x") }
        #expect(throws: SafePathError.slashInName("/etc")) { try SafePath.validateName("/etc") }
        #expect(throws: SafePathError.nulCharacter("a\0b")) { try SafePath.validateName("a\0b") }
    }

    // MARK: Relative paths

    @Test func joinBuildsPathsUnderTheRoot() throws {
        #expect(try SafePath.join(root: "/dst", relative: "a/b.txt") == "/dst/a/b.txt")
        #expect(try SafePath.join(root: "/dst/", relative: "x") == "/dst/x")
        #expect(try SafePath.join(root: "/", relative: "x") == "/x")
        #expect(try SafePath.join(root: "rel", relative: "..x/y..") == "rel/..x/y..")
        #expect(try SafePath.components(of: "a/b/c") == ["a", "b", "c"])
    }

    @Test func traversalAttemptsAreRefused() {
        let attacks: [(String, SafePathError)] = [
            ("/etc/passwd", .absolutePath("/etc/passwd")),
            ("..", .parentComponent("..")),
            ("../x", .parentComponent("../x")),
            ("a/../../x", .parentComponent("a/../../x")),
            ("a/..", .parentComponent("a/..")),
            ("./a", .dotComponent("./a")),
            ("a/./b", .dotComponent("a/./b")),
            ("", .emptyComponent("")),
            ("a//b", .emptyComponent("a//b")),
            ("a/", .emptyComponent("a/")),
            ("a\0/../../b", .nulCharacter("a\0/../../b")),
        ]
        for (relative, expected) in attacks {
            #expect(throws: expected) { try SafePath.join(root: "/dst", relative: relative) }
        }
        #expect(SafePathError.parentComponent("../x").description.contains("outside the local directory"))
    }

    @Test func nfdAndNfcComponentsAreKeptByteExact() throws {
        let joined = try SafePath.join(root: "/d", relative: "cafe\u{301}/x")
        #expect(Array(joined.utf8) == Array("/d/cafe\u{301}/x".utf8))
    }

    // MARK: On-disk parent check

    @Test func symlinkedParentIsRefused() throws {
        let t = try ScratchTree()
        let outside = try ScratchTree()
        t.symlink("evil", to: outside.root)
        #expect(throws: SafePathError.symlinkInPath(path: "evil/passwd", component: "evil")) {
            try SafePath.checkNoSymlinkParents(root: t.root, relative: "evil/passwd")
        }
        t.dir("real")
        t.symlink("real/deeper", to: "/")
        #expect(throws: SafePathError.symlinkInPath(path: "real/deeper/etc/x", component: "real/deeper")) {
            try SafePath.checkedJoin(root: t.root, relative: "real/deeper/etc/x")
        }
    }

    @Test func nonDirectoryParentIsRefused() throws {
        let t = try ScratchTree()
        t.file("plain", "x")
        #expect(throws: SafePathError.notADirectory(path: "plain/child", component: "plain")) {
            try SafePath.checkNoSymlinkParents(root: t.root, relative: "plain/child")
        }
    }

    @Test func realOrMissingParentsPassAndTheLastComponentIsNotChecked() throws {
        let t = try ScratchTree()
        t.dir("a")
        t.symlink("a/last", to: "/etc/passwd")
        try SafePath.checkNoSymlinkParents(root: t.root, relative: "a/new/deeper/file")
        try SafePath.checkNoSymlinkParents(root: t.root, relative: "a/last")
        #expect(try SafePath.checkedJoin(root: t.root, relative: "a/b") == t.root + "/a/b")
    }

    @Test func rootItselfMayBeASymlink() throws {
        let t = try ScratchTree()
        t.dir("real")
        t.symlink("rootlink", to: "real")
        try SafePath.checkNoSymlinkParents(root: t.path("rootlink"), relative: "x/y")
        #expect(try SafePath.checkedJoin(root: t.path("rootlink"), relative: "x") == t.path("rootlink") + "/x")
    }
}
