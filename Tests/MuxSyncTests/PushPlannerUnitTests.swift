// Tests of PushPlanner: what is sent, changed, replaced and deleted, and in which order.

import MuxTestSupport
import Testing
@testable import MuxSync

// MARK: - Builders

private func f(_ path: String, size: UInt64 = 10, mtime: Int64 = 1000, mode: UInt32 = 0o644) -> TreeEntry {
    TreeEntry(path: path, kind: .file, size: size, mtime: mtime, permissions: mode)
}

private func d(_ path: String, mtime: Int64 = 500, mode: UInt32 = 0o755) -> TreeEntry {
    TreeEntry(path: path, kind: .directory, mtime: mtime, permissions: mode)
}

private func l(_ path: String, _ target: String) -> TreeEntry {
    TreeEntry(path: path, kind: .symlink(target: target), size: UInt64(target.utf8.count), mtime: 1, permissions: 0o777)
}

private func plan(_ local: [TreeEntry], _ remote: [TreeEntry]?, _ options: PushPlanOptions = PushPlanOptions(),
                  contentDiffers: ((String) throws -> Bool)? = nil) throws -> PushPlan {
    try PushPlanner.plan(local: Tree(local), remote: remote.map { Tree($0) }, options: options,
                         contentDiffers: contentDiffers)
}

private func index(of action: PushAction, in plan: PushPlan) -> Int {
    plan.actions.firstIndex(of: action) ?? -1
}

// MARK: - Tests

@Suite("PushPlanner")
struct PushPlannerUnitTests {
    static let tree = [d("src"), f("src/a.c", size: 3), d("src/lib", mode: 0o700), f("src/lib/b.c", size: 4),
                       f("README", size: 5, mode: 0o600), l("link", "src/a.c")]

    @Test func everythingIsNewWhenTheRemoteDoesNotExist() throws {
        let p = try plan(Self.tree, nil)
        #expect(p.actions == [
            .upload(path: "README", size: 5, permissions: 0o600, mtime: 1000),
            .createSymlink(path: "link", target: "src/a.c"),
            .createDirectory(path: "src", permissions: 0o755),
            .upload(path: "src/a.c", size: 3, permissions: 0o644, mtime: 1000),
            .createDirectory(path: "src/lib", permissions: 0o700),
            .upload(path: "src/lib/b.c", size: 4, permissions: 0o644, mtime: 1000),
            .setAttributes(path: "src/lib", permissions: 0o700, mtime: 500),
            .setAttributes(path: "src", permissions: 0o755, mtime: 500),
        ])
        #expect(p.filesToSend == 3)
        #expect(p.newFiles == 3)
        #expect(p.bytesToSend == 12)
        #expect(p.directoriesToCreate == 2)
        #expect(p.symlinksToCreate == 1)
        #expect(p.deletes == 0)
        #expect(p.rootContentsChange)
    }

    @Test func createdDirectoryIsOwnerWritableUntilTheFinalPass() throws {
        let p = try plan([d("ro", mode: 0o555), f("ro/x")], nil)
        #expect(p.actions.first == .createDirectory(path: "ro", permissions: 0o755))
        #expect(p.actions.last == .setAttributes(path: "ro", permissions: 0o555, mtime: 500))
    }

    @Test func identicalTreesGiveAnEmptyPlan() throws {
        let p = try plan(Self.tree, Self.tree, PushPlanOptions(delete: true))
        #expect(p.isEmpty)
        #expect(!p.rootContentsChange)
    }

    @Test func changedSizeUploadsAndResetsTheParentMtime() throws {
        var local = Self.tree
        local[1] = f("src/a.c", size: 99)
        let p = try plan(local, Self.tree)
        #expect(p.actions == [
            .upload(path: "src/a.c", size: 99, permissions: 0o644, mtime: 1000),
            .setAttributes(path: "src", permissions: nil, mtime: 500),
        ])
        #expect(p.filesToSend == 1)
        #expect(p.newFiles == 0)
    }

    @Test func changedMtimeUploads() throws {
        let p = try plan([f("a", mtime: 2000)], [f("a", mtime: 1999)])
        #expect(p.actions == [.upload(path: "a", size: 10, permissions: 0o644, mtime: 2000)])
    }

    @Test func subSecondDifferencesAreIgnored() throws {
        var local = f("a", mtime: 1000)
        local.mtimeNanoseconds = 999_999_999
        let p = try plan([local], [f("a", mtime: 1000)])
        #expect(p.isEmpty)
    }

    @Test func onlyPermissionsDifferGivesSetAttributes() throws {
        let p = try plan([f("run.sh", mode: 0o755), d("dir", mode: 0o700)], [f("run.sh", mode: 0o644), d("dir")])
        #expect(p.actions == [
            .setAttributes(path: "run.sh", permissions: 0o755, mtime: nil),
            .setAttributes(path: "dir", permissions: 0o700, mtime: nil),
        ])
        #expect(p.filesToSend == 0)
        #expect(p.attributeUpdates == 2)
    }

    @Test func directoryMtimeDifferenceIsRepairedWithoutTouchingContents() throws {
        let p = try plan([d("dir", mtime: 7), f("dir/x")], [d("dir", mtime: 8), f("dir/x")])
        #expect(p.actions == [.setAttributes(path: "dir", permissions: nil, mtime: 7)])
    }

    @Test func readOnlyRemoteDirectoryIsUnlockedBeforeWritesAndRestoredAfter() throws {
        let local = [d("mod", mode: 0o555), f("mod/a.go", size: 2, mode: 0o444), f("mod/new.go", mode: 0o444)]
        let remote = [d("mod", mode: 0o555), f("mod/a.go", size: 1, mode: 0o444), d("mod/old", mode: 0o555), f("mod/old/x")]
        let p = try plan(local, remote, PushPlanOptions(delete: true))
        #expect(p.prelude == [
            .setAttributes(path: "mod", permissions: 0o755, mtime: nil),
            .setAttributes(path: "mod/old", permissions: 0o755, mtime: nil),
        ])
        #expect(p.actions == [
            .delete(path: "mod/old/x", isDirectory: false),
            .delete(path: "mod/old", isDirectory: true),
            .upload(path: "mod/a.go", size: 2, permissions: 0o444, mtime: 1000),
            .upload(path: "mod/new.go", size: 10, permissions: 0o444, mtime: 1000),
            .setAttributes(path: "mod", permissions: 0o555, mtime: 500),
        ])
    }

    @Test func readOnlyRemoteDirectoryThatDoesNotChangeIsNotUnlocked() throws {
        let tree = [d("mod", mode: 0o555), f("mod/a.go", mode: 0o444)]
        var local = tree
        local[1] = f("mod/a.go", mode: 0o400)
        let p = try plan(local, tree)
        #expect(p.prelude.isEmpty)
        #expect(p.actions == [.setAttributes(path: "mod/a.go", permissions: 0o400, mtime: nil)])
    }

    // MARK: Same-second edits (the state's record of the local version sent)

    /// Options whose `lastSent` answers `record` for every path.
    private static func lastSent(_ record: FileRecord?) -> PushPlanOptions {
        PushPlanOptions(lastSent: { _ in record })
    }

    /// What muxsync recorded after sending `f("a")` read at nanosecond `ns`.
    private static func sentRecord(ns: Int32, remoteMtime: Int64 = 1000) -> FileRecord {
        FileRecord(size: 10, mtime: remoteMtime, localVersion: FileVersion(size: 10, mtime: 1000, nanoseconds: ns))
    }

    private static func local(ns: Int32, size: UInt64 = 10) -> TreeEntry {
        var entry = f("a", size: size)
        entry.mtimeNanoseconds = ns
        return entry
    }

    @Test func sameSecondSameSizeEditAfterTheSentVersionUploads() throws {
        let p = try plan([Self.local(ns: 700)], [f("a")], Self.lastSent(Self.sentRecord(ns: 300)))
        #expect(p.actions == [.upload(path: "a", size: 10, permissions: 0o644, mtime: 1000)])
        #expect(p.filesToSend == 1)
        #expect(p.newFiles == 0)
    }

    @Test func theVersionThatWasSentIsLeftAlone() throws {
        let p = try plan([Self.local(ns: 300)], [f("a")], Self.lastSent(Self.sentRecord(ns: 300)))
        #expect(p.isEmpty)
    }

    @Test func withoutARecordedLocalVersionTheQuickCheckDecidesAsBefore() throws {
        let p = try plan([Self.local(ns: 700)], [f("a")], Self.lastSent(FileRecord(size: 10, mtime: 1000)))
        #expect(p.isEmpty)
        #expect(try plan([Self.local(ns: 700)], [f("a")], Self.lastSent(nil)).isEmpty)
    }

    @Test func aRemoteChangedBySomeoneElseIsNotJudgedByTheLocalVersion() throws {
        // The record says muxsync wrote mtime 999: the remote's 1000 is someone else's.
        let p = try plan([Self.local(ns: 700)], [f("a")], Self.lastSent(Self.sentRecord(ns: 300, remoteMtime: 999)))
        #expect(p.isEmpty)
    }

    @Test func checksumStillComparesContentWhateverTheRecord() throws {
        var options = Self.lastSent(Self.sentRecord(ns: 300))
        options.checksum = true
        let asked = CallRecorder()
        let p = try plan([Self.local(ns: 700)], [f("a")], options) { path in
            asked.record(path)
            return false
        }
        #expect(p.isEmpty)
        #expect(asked.all == ["a"])
    }

    @Test func recordedVersionComparesSecondsAsTheRemoteHoldsThem() {
        // Local mtimes beyond what SFTP v3 holds are clamped in the tree; the record keeps
        // the raw stat: the same version, not an edit.
        let far = Int64(UInt32.max) + 10
        let record = FileRecord(size: 1, mtime: Int64(UInt32.max),
                                localVersion: FileVersion(size: 1, mtime: far, nanoseconds: 5))
        var local = f("a", size: 1, mtime: Int64(UInt32.max))
        local.mtimeNanoseconds = 5
        #expect(!record.localEditedSinceSent(local: local, remote: f("a", size: 1, mtime: Int64(UInt32.max))))
        local.mtimeNanoseconds = 6
        #expect(record.localEditedSinceSent(local: local, remote: f("a", size: 1, mtime: Int64(UInt32.max))))
    }

    // MARK: Checksum

    @Test func checksumUploadsSameSizeFilesWhoseContentDiffers() throws {
        let asked = CallRecorder()
        let p = try plan([f("same"), f("other"), f("grown", size: 20)],
                         [f("same", mtime: 1), f("other"), f("grown")],
                         PushPlanOptions(checksum: true)) { path in
            asked.record(path)
            return path == "other"
        }
        #expect(p.actions == [
            .upload(path: "grown", size: 20, permissions: 0o644, mtime: 1000),
            .upload(path: "other", size: 10, permissions: 0o644, mtime: 1000),
            .setAttributes(path: "same", permissions: nil, mtime: 1000),
        ])
        // Not asked for "grown": its size already differs.
        #expect(asked.all == ["other", "same"])
    }

    @Test func checksumWithoutAComparatorFallsBackToTheQuickCheck() throws {
        let p = try plan([f("a", mtime: 5)], [f("a", mtime: 6)], PushPlanOptions(checksum: true))
        #expect(p.actions == [.upload(path: "a", size: 10, permissions: 0o644, mtime: 5)])
    }

    @Test func comparatorErrorsPropagate() throws {
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            _ = try plan([f("a")], [f("a")], PushPlanOptions(checksum: true)) { _ in throw Boom() }
        }
    }

    // MARK: Kind changes

    @Test func fileBecomesDirectory() throws {
        let p = try plan([d("x"), f("x/a")], [f("x")])
        #expect(p.actions == [
            .delete(path: "x", isDirectory: false),
            .createDirectory(path: "x", permissions: 0o755),
            .upload(path: "x/a", size: 10, permissions: 0o644, mtime: 1000),
            .setAttributes(path: "x", permissions: 0o755, mtime: 500),
        ])
        #expect(p.replacements == 1)
        #expect(p.removals == 0)
    }

    @Test func directoryBecomesFileEvenWithoutDelete() throws {
        let p = try plan([f("x")], [d("x"), f("x/a"), d("x/b"), f("x/b/c")])
        #expect(p.actions == [
            .delete(path: "x/b/c", isDirectory: false),
            .delete(path: "x/b", isDirectory: true),
            .delete(path: "x/a", isDirectory: false),
            .delete(path: "x", isDirectory: true),
            .upload(path: "x", size: 10, permissions: 0o644, mtime: 1000),
        ])
        #expect(p.deletes == 4)
        #expect(p.replacements == 1)
        #expect(p.removals == 3)
    }

    @Test func symlinkBecomesFileAndFileBecomesSymlink() throws {
        let p = try plan([f("was-link"), l("was-file", "t")], [l("was-link", "t"), f("was-file")])
        #expect(p.actions == [
            .delete(path: "was-link", isDirectory: false),
            .delete(path: "was-file", isDirectory: false),
            .createSymlink(path: "was-file", target: "t"),
            .upload(path: "was-link", size: 10, permissions: 0o644, mtime: 1000),
        ])
    }

    @Test func retargetedSymlinkIsReplacedAndSameTargetIsLeftAlone() throws {
        let p = try plan([l("a", "new"), l("b", "same")], [l("a", "old"), l("b", "same")])
        #expect(p.actions == [.delete(path: "a", isDirectory: false), .createSymlink(path: "a", target: "new")])
        #expect(!p.actions.contains { if case .setAttributes = $0 { return true } else { return false } })
    }

    @Test func directoryBecomesSymlinkWithoutFollowingIt() throws {
        let p = try plan([l("d", "/elsewhere")], [d("d"), f("d/x")])
        #expect(p.actions == [
            .delete(path: "d/x", isDirectory: false),
            .delete(path: "d", isDirectory: true),
            .createSymlink(path: "d", target: "/elsewhere"),
        ])
    }

    // MARK: Deletes

    @Test func extraneousEntriesAreDeletedDeepestFirstOnlyWithDelete() throws {
        let remote = [f("keep"), d("old"), f("old/a"), d("old/b"), f("old/b/c"), f("stale")]
        #expect(try plan([f("keep")], remote).isEmpty)
        let p = try plan([f("keep")], remote, PushPlanOptions(delete: true))
        let deletes = p.actions.map(\.path)
        #expect(deletes == ["stale", "old/b/c", "old/b", "old/a", "old"])
        for (i, path) in deletes.enumerated() {
            // every descendant comes before its ancestor
            #expect(!deletes[..<i].contains { ByteExact.isStrictlyInside(path, $0) })
        }
        #expect(p.removals == 5)
        #expect(p.rootContentsChange)
    }

    @Test func deleteWithAnEmptyLocalTreeIsRefused() throws {
        #expect(throws: PushPlanError.deleteWithEmptySource) {
            _ = try plan([], [f("precious")], PushPlanOptions(delete: true))
        }
        #expect(throws: PushPlanError.deleteWithEmptySource) {
            _ = try plan([TreeEntry(path: "fifo", kind: .special("FIFO"))], [f("x")], PushPlanOptions(delete: true))
        }
        #expect(PushPlanError.deleteWithEmptySource.description.contains("without --delete"))
        // Without --delete an empty source is simply nothing to do.
        #expect(try plan([], [f("precious")]).isEmpty)
    }

    @Test func maxDeleteRefusesTooManyRemovals() throws {
        let remote = [f("keep"), f("a"), f("b"), f("c")]
        let options = PushPlanOptions(delete: true, maxDelete: 2)
        #expect(throws: PushPlanError.tooManyDeletes(count: 3, limit: 2, sample: ["a", "b", "c"])) {
            _ = try plan([f("keep")], remote, options)
        }
        let message = PushPlanError.tooManyDeletes(count: 3, limit: 2, sample: ["a"]).description
        #expect(message.contains("3 remote entries"))
        #expect(message.contains("--max-delete 3"))
        let allowed = try plan([f("keep")], remote, PushPlanOptions(delete: true, maxDelete: 3))
        #expect(allowed.deletes == 3)
    }

    @Test func replacementsDoNotCountAgainstMaxDelete() throws {
        let p = try plan([l("a", "new"), d("b")], [l("a", "old"), f("b")], PushPlanOptions(delete: true, maxDelete: 0))
        #expect(p.deletes == 2)
        #expect(p.removals == 0)
    }

    @Test func protectedLocalPathsAreNeverDeleted() throws {
        let local = Tree([f("keep"), d("locked")], protectedPaths: ["locked", "unreadable.txt"])
        let remote = Tree([f("keep"), d("locked"), f("locked/secret"), f("unreadable.txt"), f("gone")])
        let p = try PushPlanner.plan(local: local, remote: remote, options: PushPlanOptions(delete: true))
        #expect(p.actions == [.delete(path: "gone", isDirectory: false)])
    }

    @Test func excludedRemoteEntriesAreNeitherComparedNorDeleted() throws {
        let options = PushPlanOptions(delete: true) { path, isDirectory in
            (isDirectory && path == ".git") || path.hasSuffix(".log")
        }
        let p = try plan([f("a")], [f("a"), d(".git"), f(".git/HEAD"), f("debug.log"), f("stale")], options)
        #expect(p.actions == [.delete(path: "stale", isDirectory: false)])
    }

    @Test func localSpecialFilesAreSkippedAndTheRemoteOneIsLeftAlone() throws {
        let fifo = TreeEntry(path: "pipe", kind: .special("FIFO"))
        let p = try plan([f("a"), fifo], [f("a"), d("pipe"), f("pipe/x")], PushPlanOptions(delete: true))
        #expect(p.isEmpty)
        #expect(p.skippedSpecial == ["pipe"])
    }

    @Test func remoteSpecialFileIsReplacedByALocalFile() throws {
        let p = try plan([f("s")], [TreeEntry(path: "s", kind: .special("socket"))])
        #expect(p.actions == [.delete(path: "s", isDirectory: false),
                              .upload(path: "s", size: 10, permissions: 0o644, mtime: 1000)])
    }

    // MARK: Byte-exact names and determinism

    @Test func nfcAndNfdAreDifferentFiles() throws {
        let nfc = "caf\u{E9}", nfd = "cafe\u{301}"
        let p = try plan([f(nfc)], [f(nfd)], PushPlanOptions(delete: true))
        #expect(p.actions.count == 2)
        #expect(p.actions.contains(.delete(path: nfd, isDirectory: false)))
        #expect(p.actions.contains(.upload(path: nfc, size: 10, permissions: 0o644, mtime: 1000)))
        #expect(!p.actions.contains(.delete(path: nfc, isDirectory: false)))
    }

    @Test func planIsDeterministicWhateverTheInputOrder() throws {
        let local = Self.tree + [d("new"), f("new/z"), f("new/a")]
        let remote = [d("old"), f("old/x"), f("src/a.c", size: 1), d("src")]
        let first = try plan(local, remote, PushPlanOptions(delete: true))
        for seed in 0..<5 {
            var rng = SeededGenerator(seed: UInt64(seed))
            let again = try plan(local.shuffled(using: &rng), remote.shuffled(using: &rng), PushPlanOptions(delete: true))
            #expect(again == first)
        }
    }

    @Test func actionDescriptionsReadLikeADryRun() {
        #expect(PushAction.upload(path: "a", size: 1234, permissions: 0o644, mtime: 0).description == "upload a (1.2 KB)")
        #expect(PushAction.delete(path: "d", isDirectory: true).description == "delete d/")
        #expect(PushAction.setAttributes(path: "x", permissions: 0o755, mtime: 3).description == "set attributes of x (mode 755, mtime)")
        #expect(PushAction.createSymlink(path: "l", target: "t").description == "symlink l -> t")
    }
}

