// Tests of TreeEntry, Tree and the byte-exact path helpers.

import Testing
@testable import MuxSync

@Suite("Tree")
struct TreeUnitTests {
    @Test func treeOrderPutsADirectoryRightBeforeItsContents() {
        let tree = Tree([
            TreeEntry(path: "a b", kind: .file),
            TreeEntry(path: "a/x", kind: .file),
            TreeEntry(path: "a", kind: .directory),
            TreeEntry(path: "a/sub/deep", kind: .file),
            TreeEntry(path: "a/sub", kind: .directory),
            TreeEntry(path: "a.txt", kind: .file),
            TreeEntry(path: "B", kind: .file),
        ])
        #expect(tree.entries.map(\.path) == ["B", "a", "a/sub", "a/sub/deep", "a/x", "a b", "a.txt"])
    }

    @Test func lookupIsByteExactForNfcAndNfd() {
        let nfc = "caf\u{E9}", nfd = "cafe\u{301}"
        // Swift itself calls these equal; the tree must not.
        #expect(nfc == nfd)
        let tree = Tree([TreeEntry(path: nfc, kind: .file, size: 1), TreeEntry(path: nfd, kind: .file, size: 2)])
        #expect(tree.count == 2)
        #expect(tree[nfc]?.size == 1)
        #expect(tree[nfd]?.size == 2)
        #expect(TreeEntry(path: nfc, kind: .file) != TreeEntry(path: nfd, kind: .file))
        #expect(TreeEntry.Kind.symlink(target: nfc) != .symlink(target: nfd))
    }

    @Test func duplicatePathsKeepTheLastEntry() {
        let tree = Tree([TreeEntry(path: "x", kind: .file, size: 1), TreeEntry(path: "x", kind: .file, size: 2),
                         TreeEntry(path: "", kind: .file)])
        #expect(tree.count == 1)
        #expect(tree["x"]?.size == 2)
    }

    @Test func derivedPropertiesOfAnEntry() {
        let e = TreeEntry(path: "a/b/c.txt", kind: .file, permissions: 0o100755)
        #expect(e.name == "c.txt")
        #expect(e.parentPath == "a/b")
        #expect(e.depth == 2)
        #expect(e.permissions == 0o755)
        #expect(TreeEntry(path: "top", kind: .directory).parentPath == "")
        #expect(TreeEntry(path: "l", kind: .symlink(target: "t")).isSymlink)
        #expect(TreeEntry(path: "p", kind: .special("FIFO")).isSpecial)
    }

    @Test func insideChecksRespectComponentBoundaries() {
        #expect(ByteExact.isStrictlyInside("a/b", "a"))
        #expect(!ByteExact.isStrictlyInside("ab", "a"))
        #expect(!ByteExact.isStrictlyInside("a", "a"))
        #expect(ByteExact.isSameOrInside("a", "a"))
        #expect(ByteExact.isStrictlyInside("x", ""))
    }

    @Test func protectedPathsCoverTheirSubtree() {
        let tree = Tree([TreeEntry(path: "d", kind: .directory)], protectedPaths: ["d"])
        #expect(tree.isProtected("d"))
        #expect(tree.isProtected("d/x/y"))
        #expect(!tree.isProtected("dx"))
    }

    @Test func childrenAndTotals() {
        let tree = Tree([
            TreeEntry(path: "d", kind: .directory),
            TreeEntry(path: "d/a", kind: .file, size: 10),
            TreeEntry(path: "d/e/f", kind: .file, size: 5),
            TreeEntry(path: "p", kind: .special("FIFO")),
        ])
        #expect(tree.children(of: "d").map(\.path) == ["d/a"])
        #expect(tree.children(of: "").map(\.path) == ["d", "p"])
        #expect(tree.totalFileBytes == 15)
        #expect(!tree.hasNothingToTransfer)
        #expect(Tree([TreeEntry(path: "p", kind: .special("FIFO"))]).hasNothingToTransfer)
    }
}
