// Tests of PollingDiff (pure): rename detection by inode and the order of observations,
// with hand-written cases and a property test on random trees with inode numbers.

import MuxTestSupport
import Testing
@testable import MuxSync

// MARK: - Helpers

private func file(_ inode: UInt64, size: Int64 = 1, mtime: Int64 = 100, mode: UInt32 = 0o644) -> EntryStat {
    EntryStat(kind: .file, mode: mode, size: size, mtimeSeconds: mtime, mtimeNanoseconds: 0, inode: inode)
}

private func directory(_ inode: UInt64, mode: UInt32 = 0o755) -> EntryStat {
    EntryStat(kind: .directory, mode: mode, size: 0, mtimeSeconds: 1, mtimeNanoseconds: 0, inode: inode)
}

/// A tree of stats, diffed the way PollingSnapshot walks.
private struct StatTree: Equatable {
    var nodes: [String: EntryStat] = [:]

    func children(_ directory: String) -> [String] {
        nodes.keys.filter { ByteExact.parent(of: $0) == directory }.sorted()
    }

    func subtree(_ path: String) -> [String] {
        nodes.keys.filter { ByteExact.isSameOrInside($0, path) }.sorted { ByteExact.treeOrderLess($0, $1) }
    }

    static func diff(_ old: StatTree, _ new: StatTree) -> PollingDiff {
        var diff = PollingDiff()
        func walk(_ directory: String) {
            let names = Set(old.children(directory) + new.children(directory)).sorted()
            for path in names {
                let o = old.nodes[path], n = new.nodes[path]
                switch (o, n) {
                case (let o?, nil):
                    _ = o
                    for p in old.subtree(path) { diff.removed.append(.init(path: p, stat: old.nodes[p] ?? o)) }
                case (nil, let n?):
                    _ = n
                    for p in new.subtree(path) { diff.added.append(.init(path: p, stat: new.nodes[p] ?? n)) }
                case (let o?, let n?):
                    if o.kind != n.kind || (o.isDirectory && o.inode != n.inode) {
                        for p in old.subtree(path) { diff.removed.append(.init(path: p, stat: old.nodes[p] ?? o)) }
                        for p in new.subtree(path) { diff.added.append(.init(path: p, stat: new.nodes[p] ?? n)) }
                    } else {
                        if n.differsVisibly(from: o) { diff.modified.append(path) }
                        if n.isDirectory { walk(path) }
                    }
                case (nil, nil):
                    break
                }
            }
        }
        walk("")
        return diff
    }

    /// Directories compare by kind and mode only (their mtime and inode are not synced).
    var comparable: [String: EntryStat] {
        nodes.mapValues { $0.isDirectory ? directory(0, mode: $0.mode) : $0 }
    }
}

/// Applies events to a mirror of the old tree, reading the new tree for `.changed`.
private func replay(_ events: [ChangeEvent], on old: StatTree, local: StatTree) -> (StatTree, [String]) {
    var mirror = old
    var violations: [String] = []
    func remove(_ path: String) { for p in mirror.subtree(path) { mirror.nodes[p] = nil } }
    func parentExists(_ path: String) -> Bool {
        let parent = ByteExact.parent(of: path)
        return parent.isEmpty || mirror.nodes[parent]?.isDirectory == true
    }
    for event in events {
        switch event {
        case .changed(let path):
            guard let stat = local.nodes[path] else { continue }  // a later event explains it
            if !parentExists(path) { violations.append("\(event): parent missing") }
            if !(stat.isDirectory && mirror.nodes[path]?.isDirectory == true) { remove(path) }
            mirror.nodes[path] = stat
        case .removed(let path):
            remove(path)
        case .renamed(let from, let to):
            guard mirror.nodes[from] != nil else {
                violations.append("\(event): source missing")
                continue
            }
            if !parentExists(to) { violations.append("\(event): target parent missing") }
            let moving = mirror.subtree(from).map { ($0, mirror.nodes[$0]) }
            remove(from)
            remove(to)
            for (path, stat) in moving { mirror.nodes[to + String(path.dropFirst(from.count))] = stat }
        case .rescan:
            mirror = local
        }
    }
    return (mirror, violations)
}

private func events(_ old: StatTree, _ new: StatTree) -> [ChangeEvent] {
    ChangeCoalescer.coalesce(StatTree.diff(old, new).observations())
}

// MARK: - Tests

@Suite("PollingDiff")
struct WatchPollingDiffUnitTests {
    @Test func aMovedFileIsARename() {
        let old = StatTree(nodes: ["a": file(1), "d": directory(2)])
        let new = StatTree(nodes: ["d/b": file(1), "d": directory(2)])
        #expect(events(old, new) == [.renamed(from: "a", to: "d/b")])
    }

    @Test func anInodeReusedByADifferentFileIsNotARename() {
        let old = StatTree(nodes: ["a": file(1, size: 3, mtime: 10)])
        let new = StatTree(nodes: ["b": file(1, size: 3, mtime: 11)])
        #expect(events(old, new) == [.removed("a"), .changed("b")])
    }

    @Test func aRenamedDirectoryCarriesItsSubtree() {
        let old = StatTree(nodes: ["d": directory(1), "d/x": file(2), "d/y": file(3), "d/s": directory(4), "d/s/z": file(5)])
        let new = StatTree(nodes: ["e": directory(1), "e/x": file(2, size: 9), "e/s": directory(4), "e/s/z": file(5),
                                   "e/new": file(6)])
        #expect(events(old, new) == [.renamed(from: "d", to: "e"), .changed("e/new"), .removed("e/y"), .changed("e/x")]
            || events(old, new) == [.renamed(from: "d", to: "e"), .changed("e/new"), .changed("e/x"), .removed("e/y")])
        let (mirror, violations) = replay(events(old, new), on: old, local: new)
        #expect(violations.isEmpty)
        #expect(mirror.comparable == new.comparable)
    }

    @Test func aDirectoryForgottenWhileMovingIsRemovedAndCreatedNotRenamed() {
        // The consumer still holds d/stale (its removal was never seen: the snapshot forgot d's
        // subtree when d moved under the walk), so the next poll reports "d" removed without
        // children and "e" (d's inode) created with what is in it now.
        let consumer = StatTree(nodes: ["d": directory(1), "d/x": file(2), "d/stale": file(3)])
        let now = StatTree(nodes: ["e": directory(1), "e/x": file(2)])
        var diff = PollingDiff()
        diff.removed = [.init(path: "d", stat: directory(1))]
        diff.added = [.init(path: "e", stat: directory(1)), .init(path: "e/x", stat: file(2))]
        let asRename = ChangeCoalescer.coalesce(diff.observations())
        #expect(asRename.contains(.renamed(from: "d", to: "e")))
        #expect(replay(asRename, on: consumer, local: now).0.comparable != now.comparable,
                "as a rename, the stale entry survives (the bug)")

        diff.unpairableInodes = [1]
        let fresh = ChangeCoalescer.coalesce(diff.observations())
        #expect(!fresh.contains { if case .renamed = $0 { return true } else { return false } })
        let (mirror, violations) = replay(fresh, on: consumer, local: now)
        #expect(violations.isEmpty)
        #expect(mirror.comparable == now.comparable)
    }

    @Test func aMoveOutOfADeletedDirectoryComesBeforeItsRemoval() {
        let old = StatTree(nodes: ["d": directory(1), "d/x": file(2), "d/y": file(3)])
        let new = StatTree(nodes: ["x": file(2)])
        #expect(events(old, new) == [.renamed(from: "d/x", to: "x"), .removed("d")])
    }

    @Test func aNestedRenameInsideARenamedDirectoryFollowsIt() {
        let old = StatTree(nodes: ["d": directory(1), "d/x": file(2)])
        let new = StatTree(nodes: ["z": directory(1), "a": file(2)])
        // the file leaves before its directory moves
        #expect(events(old, new) == [.renamed(from: "d/x", to: "a"), .renamed(from: "d", to: "z")])
    }

    @Test func aDirectoryMovedIntoItsFormerChild() {
        // mv d/x y; mv d y/d
        let old = StatTree(nodes: ["d": directory(1), "d/x": directory(2)])
        let new = StatTree(nodes: ["y": directory(2), "y/d": directory(1)])
        #expect(events(old, new) == [.renamed(from: "d/x", to: "y"), .renamed(from: "d", to: "y/d")])
    }

    @Test func swappedDirectoriesFallBackToRemovalsAndCreations() {
        let old = StatTree(nodes: ["a": directory(1), "a/f": file(3), "c": directory(2)])
        let new = StatTree(nodes: ["a": directory(2), "c": directory(1), "c/f": file(3)])
        #expect(events(old, new) == [.removed("a"), .removed("c"), .changed("a"), .changed("c"), .changed("c/f")])
    }

    @Test func aKindChangeIsARemovalThenACreation() {
        let old = StatTree(nodes: ["p": file(1), "q": directory(2), "q/f": file(3)])
        let new = StatTree(nodes: ["p": directory(4), "p/f": file(5), "q": file(6)])
        let result = events(old, new)
        let (mirror, violations) = replay(result, on: old, local: new)
        #expect(violations.isEmpty)
        #expect(mirror.comparable == new.comparable)
        #expect(result.contains(.removed("q")) && result.contains(.changed("p/f")))
    }

    @Test func aModeChangeIsAChange() {
        let old = StatTree(nodes: ["d": directory(1), "f": file(2)])
        let new = StatTree(nodes: ["d": directory(1, mode: 0o700), "f": file(2, mode: 0o600)])
        #expect(events(old, new) == [.changed("d"), .changed("f")])
    }

    @Test func randomTreeChangesReplayToTheNewTree() {
        var failures: [String] = []
        for seed in UInt64(1)...3000 {
            var rng = SeededGenerator(seed: seed)
            var model = StatModel()
            for _ in 0..<8 { model.randomOperation(&rng) }
            let old = model.tree
            for _ in 0..<(1 + Int(rng.next() % 20)) { model.randomOperation(&rng) }
            let result = events(old, model.tree)
            let (mirror, violations) = replay(result, on: old, local: model.tree)
            if mirror.comparable != model.tree.comparable || !violations.isEmpty {
                let diff = StatTree.diff(old, model.tree)
                failures.append("seed \(seed): \(result) \(violations)\n old \(old.nodes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.kind)\($0.value.inode)" })\n new \(model.tree.nodes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.kind)\($0.value.inode)" })\n obs \(diff.observations())")
            }
        }
        #expect(failures.isEmpty, "\(failures.prefix(3).joined(separator: "\n"))")
    }
}

// MARK: - Random stat trees

/// Random operations on a StatTree with inode numbers (sometimes reused, as file systems do).
private struct StatModel {
    var tree = StatTree()
    var clock: Int64 = 1000
    var nextInode: UInt64 = 10
    var freed: [UInt64] = []
    let names = ["a", "b", "c"]

    mutating func inode(_ rng: inout SeededGenerator) -> UInt64 {
        if !freed.isEmpty && rng.next() % 3 == 0 { return freed.removeLast() }
        nextInode += 1
        return nextInode
    }

    func newPath(_ rng: inout SeededGenerator) -> String? {
        let parents = [""] + tree.nodes.filter { $0.value.isDirectory && $0.key.split(separator: "/").count < 3 }.map(\.key).sorted()
        guard let parent = parents.randomElement(using: &rng), let name = names.randomElement(using: &rng) else { return nil }
        let path = ByteExact.join(parent, name)
        return tree.nodes[path] == nil ? path : nil
    }

    mutating func randomOperation(_ rng: inout SeededGenerator) {
        clock += 1
        for _ in 0..<20 { if attempt(Int(rng.next() % 7), &rng) { break } }
    }

    private mutating func attempt(_ kind: Int, _ rng: inout SeededGenerator) -> Bool {
        let files = tree.nodes.filter { !$0.value.isDirectory }.map(\.key).sorted()
        let directories = tree.nodes.filter { $0.value.isDirectory }.map(\.key).sorted()
        switch kind {
        case 0:
            guard let path = newPath(&rng) else { return false }
            tree.nodes[path] = file(inode(&rng), size: Int64(rng.next() % 3), mtime: clock)
        case 1:
            guard let path = files.randomElement(using: &rng), var stat = tree.nodes[path] else { return false }
            stat.size = Int64(rng.next() % 3)
            stat.mtimeSeconds = clock
            tree.nodes[path] = stat
        case 2:
            guard let path = (files + directories).randomElement(using: &rng), var stat = tree.nodes[path] else { return false }
            stat.mode ^= 0o020
            tree.nodes[path] = stat
        case 3:
            guard let path = newPath(&rng) else { return false }
            tree.nodes[path] = directory(inode(&rng))
        case 4:
            guard let path = (files + directories).randomElement(using: &rng) else { return false }
            for p in tree.subtree(path) {
                if let stat = tree.nodes[p] { freed.append(stat.inode) }
                tree.nodes[p] = nil
            }
        default:
            guard let from = (files + directories).randomElement(using: &rng), let stat = tree.nodes[from] else { return false }
            let target: String?
            if rng.next() % 3 == 0 {
                target = (stat.isDirectory ? directories.filter { tree.subtree($0).count == 1 } : files).randomElement(using: &rng)
            } else {
                target = newPath(&rng)
            }
            guard let to = target, !ByteExact.isSameOrInside(to, from), !ByteExact.isSameOrInside(from, to) else { return false }
            let moving = tree.subtree(from).map { ($0, tree.nodes[$0]) }
            for p in tree.subtree(to) {
                if let s = tree.nodes[p] { freed.append(s.inode) }
                tree.nodes[p] = nil
            }
            for (p, _) in moving { tree.nodes[p] = nil }
            for (p, s) in moving { tree.nodes[to + String(p.dropFirst(from.count))] = s }
        }
        return true
    }
}
