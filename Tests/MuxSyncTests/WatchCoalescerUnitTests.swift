// Tests of ChangeCoalescer: the merge rules of a batch and the batch timing (pure).

import Testing
@testable import MuxSync

@Suite("ChangeCoalescer")
struct WatchCoalescerUnitTests {
    typealias O = ChangeCoalescer.Observation

    private func merged(_ observations: [O]) -> [ChangeEvent] { ChangeCoalescer.coalesce(observations) }

    // MARK: Merge rules

    @Test func duplicatesMerge() {
        #expect(merged([.created("a", isDirectory: false), .modified("a"), .modified("a")]) == [.changed("a")])
        #expect(merged([.modified("a"), .modified("b"), .modified("a")]) == [.changed("a"), .changed("b")])
    }

    @Test func changeThenRemovalIsARemoval() {
        #expect(merged([.modified("a"), .removed("a", isDirectory: false)]) == [.removed("a")])
    }

    @Test func createThenDeleteCancelsOut() {
        #expect(merged([.created("4914", isDirectory: false), .modified("4914"), .removed("4914", isDirectory: false)]) == [])
        #expect(merged([.created("t", isDirectory: true), .created("t/x", isDirectory: false),
                        .removed("t/x", isDirectory: false), .removed("t", isDirectory: true)]) == [])
    }

    @Test func deleteThenCreateOfAFileIsAChange() {
        #expect(merged([.removed("a", isDirectory: false), .created("a", isDirectory: false), .modified("a")]) == [.changed("a")])
    }

    @Test func aDirectoryRemovedAndCreatedAgainKeepsTheRemoval() {
        #expect(merged([.removed("d", isDirectory: true), .created("d", isDirectory: true), .created("d/x", isDirectory: false)])
            == [.removed("d"), .changed("d"), .changed("d/x")])
        // a file replaced by a directory too
        #expect(merged([.removed("p", isDirectory: false), .created("p", isDirectory: true)]) == [.removed("p"), .changed("p")])
    }

    @Test func tempRenamedOverANameIsAChangeOfThatName() {
        #expect(merged([.created("f.new", isDirectory: false), .modified("f.new"),
                        .renamed(from: "f.new", to: "f", isDirectory: false)]) == [.changed("f")])
        // a pending change of the target is superseded
        #expect(merged([.modified("f"), .created("f.new", isDirectory: false),
                        .renamed(from: "f.new", to: "f", isDirectory: false)]) == [.changed("f")])
    }

    @Test func renameThenChangesOfTheNewNameKeepTheRename() {
        #expect(merged([.renamed(from: "a", to: "b", isDirectory: false), .modified("b")])
            == [.renamed(from: "a", to: "b"), .changed("b")])
        #expect(merged([.modified("a"), .renamed(from: "a", to: "b", isDirectory: false)])
            == [.renamed(from: "a", to: "b"), .changed("b")])
    }

    @Test func renameThenRemovalOfTheNewName() {
        #expect(merged([.renamed(from: "a", to: "b", isDirectory: false), .removed("b", isDirectory: false)])
            == [.removed("a"), .removed("b")])
    }

    @Test func somethingNewAtARenamedAwayName() {
        #expect(merged([.renamed(from: "a", to: "b", isDirectory: false), .created("a", isDirectory: false)])
            == [.renamed(from: "a", to: "b"), .changed("a")])
        #expect(merged([.renamed(from: "a", to: "b", isDirectory: false), .created("a", isDirectory: false),
                        .removed("a", isDirectory: false)]) == [.renamed(from: "a", to: "b")])
    }

    @Test func eventsUnderARemovedDirectoryAreDropped() {
        #expect(merged([.modified("d/x"), .created("d/y", isDirectory: false), .removed("d/x", isDirectory: false),
                        .removed("d/y", isDirectory: false), .removed("d/sub/z", isDirectory: false),
                        .removed("d/sub", isDirectory: true), .removed("d", isDirectory: true)]) == [.removed("d")])
    }

    @Test func aMoveOutOfARemovedDirectoryIsKept() {
        #expect(merged([.renamed(from: "d/x", to: "y", isDirectory: false), .removed("d/z", isDirectory: false),
                        .removed("d", isDirectory: true)]) == [.renamed(from: "d/x", to: "y"), .removed("d")])
    }

    @Test func aMoveIntoARemovedDirectoryRemovesTheSource() {
        #expect(merged([.renamed(from: "x", to: "d/x", isDirectory: false), .removed("d/x", isDirectory: false),
                        .removed("d", isDirectory: true)]) == [.removed("x"), .removed("d")])
    }

    @Test func aDirectoryRenameCarriesPendingChanges() {
        #expect(merged([.created("d/new", isDirectory: false), .modified("d/old"), .renamed(from: "d", to: "e", isDirectory: true)])
            == [.renamed(from: "d", to: "e"), .changed("e/new"), .changed("e/old")])
        // pending removals inside stay before the rename (still valid there)
        #expect(merged([.removed("d/gone", isDirectory: false), .renamed(from: "d", to: "e", isDirectory: true)])
            == [.removed("d/gone"), .renamed(from: "d", to: "e")])
    }

    @Test func aDirectoryCreatedAndRenamedIsNew() {
        #expect(merged([.created("tmp", isDirectory: true), .created("tmp/f", isDirectory: false),
                        .renamed(from: "tmp", to: "final", isDirectory: true)]) == [.changed("final"), .changed("final/f")])
    }

    @Test func aRescanSupersedesTheBatch() {
        #expect(merged([.modified("a"), .rescan(reason: "overflow"), .modified("b"), .rescan(reason: "rules"),
                        .rescan(reason: "overflow")]) == [.rescan(reason: "overflow; rules")])
    }

    @Test func orderIsArrivalOrderAndDeterministic() {
        let input: [O] = [.created("b", isDirectory: false), .created("a", isDirectory: false), .modified("b")]
        #expect(merged(input) == [.changed("b"), .changed("a")])
        #expect(merged(input) == merged(input))
    }

    @Test func pathsAreByteExact() {
        let nfc = "caf\u{E9}", nfd = "cafe\u{301}"
        #expect(merged([.created(nfc, isDirectory: false), .created(nfd, isDirectory: false)]).count == 2)
        #expect(merged([.created(nfc, isDirectory: false), .removed(nfd, isDirectory: false)])
            == [.changed(nfc), .removed(nfd)])
    }

    @Test func reAddedEventsKeepTheirMeaning() {
        var coalescer = ChangeCoalescer()
        let t0 = ContinuousClock.now
        coalescer.add(event: .removed("d"), at: t0)
        coalescer.add(event: .changed("d"), at: t0)
        coalescer.add(event: .renamed(from: "x", to: "y"), at: t0)
        #expect(coalescer.flush() == [.removed("d"), .changed("d"), .renamed(from: "x", to: "y")])
    }

    // MARK: Timing

    @Test func aBatchIsCutAfterTheQuietTime() {
        var coalescer = ChangeCoalescer(settings: .init(quiet: .milliseconds(5), maxDelay: .milliseconds(50)))
        let t0 = ContinuousClock.now
        #expect(coalescer.deadline == nil)
        coalescer.add(.modified("a"), at: t0)
        coalescer.add(.modified("b"), at: t0 + .milliseconds(3))
        #expect(coalescer.deadline == t0 + .milliseconds(8))
        #expect(coalescer.takeBatch(at: t0 + .milliseconds(7)) == nil)
        #expect(coalescer.takeBatch(at: t0 + .milliseconds(8)) == [.changed("a"), .changed("b")])
        #expect(coalescer.isEmpty)
        #expect(coalescer.takeBatch(at: t0 + .seconds(1)) == nil)
    }

    @Test func aSteadyStreamIsCutAtTheMaximumDelay() {
        var coalescer = ChangeCoalescer(settings: .init(quiet: .milliseconds(5), maxDelay: .milliseconds(50)))
        let t0 = ContinuousClock.now
        var batches: [[ChangeEvent]] = []
        for step in 0..<40 {
            let now = t0 + .milliseconds(3 * step)
            if let batch = coalescer.takeBatch(at: now) { batches.append(batch) }
            coalescer.add(.modified("f\(step)"), at: now)
        }
        #expect(batches.count == 2)
        #expect(batches.first?.count == 17)  // events at 0, 3, ..., 48 ms; cut at 51 ms
    }

    @Test func cancelledBatchesAreEmpty() {
        var coalescer = ChangeCoalescer()
        let t0 = ContinuousClock.now
        coalescer.add(.created("x", isDirectory: false), at: t0)
        coalescer.add(.removed("x", isDirectory: false), at: t0)
        #expect(coalescer.takeBatch(at: t0 + .seconds(1)) == [])
    }

    @Test func settingsKeepMaxDelayAtLeastQuiet() {
        let settings = ChangeCoalescer.Settings(quiet: .milliseconds(20), maxDelay: .milliseconds(5))
        #expect(settings.maxDelay == .milliseconds(20))
    }
}
