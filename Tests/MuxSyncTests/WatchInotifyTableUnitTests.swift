// Tests of InotifyWatchTable: the descriptor <-> directory map and its subtree updates.

import Testing
@testable import MuxSync

@Suite("InotifyWatchTable")
struct WatchInotifyTableUnitTests {
    private func table(_ pairs: [(Int32, String)]) -> InotifyWatchTable {
        var table = InotifyWatchTable()
        for (wd, path) in pairs { table.set(wd, path: path) }
        return table
    }

    @Test func mapsBothWays() {
        let t = table([(1, ""), (2, "src"), (3, "src/lib")])
        #expect(t.count == 3)
        #expect(t.path(of: 3) == "src/lib")
        #expect(t.descriptor(of: "src") == 2)
        #expect(t.path(of: 9) == nil)
    }

    @Test func renamingADirectoryRewritesItsSubtreeOnly() {
        var t = table([(1, ""), (2, "src"), (3, "src/lib"), (4, "src b"), (5, "srcx")])
        t.renameSubtree(from: "src", to: "code/src")
        #expect(t.path(of: 2) == "code/src")
        #expect(t.path(of: 3) == "code/src/lib")
        #expect(t.path(of: 4) == "src b")
        #expect(t.path(of: 5) == "srcx")
        #expect(t.descriptor(of: "src") == nil)
        #expect(t.descriptor(of: "code/src/lib") == 3)
    }

    @Test func renamingOverAWatchedDirectoryReplacesIt() {
        var t = table([(1, ""), (2, "a"), (3, "b")])
        t.renameSubtree(from: "a", to: "b")
        #expect(t.path(of: 2) == "b")
        #expect(t.path(of: 3) == nil)
        #expect(t.count == 2)
    }

    @Test func removingASubtreeReturnsItsDescriptors() {
        var t = table([(1, ""), (2, "d"), (3, "d/e"), (4, "de")])
        #expect(Set(t.removeSubtree("d")) == [2, 3])
        #expect(t.count == 2)
        #expect(t.descriptor(of: "de") == 4)
    }

    @Test func aKnownDescriptorUnderANewPathMeansTheDirectoryMoved() {
        var t = table([(1, ""), (2, "old"), (3, "old/sub")])
        t.set(2, path: "new")
        #expect(t.path(of: 2) == "new")
        #expect(t.path(of: 3) == "new/sub")
        #expect(t.descriptor(of: "old") == nil)
    }

    @Test func forgetLeavesANewerMappingOfThePathAlone() {
        var t = table([(1, ""), (2, "d")])
        t.set(7, path: "d")  // d was replaced by another directory
        t.forget(2)
        #expect(t.descriptor(of: "d") == 7)
    }
}
