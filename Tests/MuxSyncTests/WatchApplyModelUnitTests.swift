// Property test of BatchApplier against a model remote: random file-system operations
// (create, modify, delete, rename files and directories, mkdir, rm -rf, log and directory
// rotation) are observed the way inotify reports them, cut into batches at random, coalesced,
// merged in the engine's queue at random, and applied while the local tree has already moved
// on by a random number of operations (the lag between an event and its application). Once
// every batch is applied against the final tree, the remote must equal it.

import Foundation
import MuxTransport
import MuxTestSupport
import Testing
@testable import MuxSync

// MARK: - A model remote

/// The remote as a tree of nodes, with POSIX rename rules and push semantics.
final class WatchModelRemote: @unchecked Sendable {
    private let lock = NSLock()
    private var tree: WatchModelTree
    private(set) var problems: [String] = []
    private(set) var sends = 0

    init(_ tree: WatchModelTree) { self.tree = tree }

    var nodes: WatchModelTree { locked { tree } }

    func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    func problem(_ text: String) { locked { problems.append(text) } }

    func exists(_ path: String) -> Bool { locked { tree.nodes[path] != nil } }

    /// POSIX rename: parents created first (mkdir -p); a file replaces a file, a directory an
    /// empty directory; anything else fails.
    func rename(_ from: String, _ to: String) -> Bool {
        locked {
            guard let node = tree.nodes[from], !ByteExact.isSameOrInside(to, from) else { return false }
            var parent = ByteExact.parent(of: to)
            var missing: [String] = []
            while !parent.isEmpty && tree.nodes[parent] == nil {
                missing.append(parent)
                parent = ByteExact.parent(of: parent)
            }
            if !parent.isEmpty && tree.nodes[parent] != .directory { return false }
            for directory in missing { tree.nodes[directory] = .directory }
            if let existing = tree.nodes[to] {
                switch (node, existing) {
                case (.directory, .directory): if tree.subtree(to).count > 1 { return false }
                case (.file, .file): break
                default: return false
                }
            }
            tree.moveSubtree(from, to)
            return true
        }
    }

    func remove(_ path: String) { locked { tree.removeSubtree(path) } }

    /// Puts one node (its parent must be a directory; a node of another kind is replaced, as
    /// push does).
    func put(_ path: String, _ node: WatchModelTree.Node) -> Bool {
        locked {
            let parent = ByteExact.parent(of: path)
            guard parent.isEmpty || tree.nodes[parent] == .directory else {
                problems.append("put \(path): no remote parent")
                return false
            }
            if let existing = tree.nodes[path], (existing == .directory) != (node == .directory) { tree.removeSubtree(path) }
            if case .file = node { sends += 1 }
            tree.nodes[path] = node
            return true
        }
    }
}

/// ``BatchTarget`` over the model: the local tree is a snapshot (the tree as it is when the
/// batch is applied), the remote the model above.
struct WatchModelTarget: BatchTarget {
    let view: WatchModelTree
    let remote: WatchModelRemote
    /// How many operations `view` has seen.
    var viewStamp: UInt64 = 0
    /// Paths the ignore rules exclude (with everything below them).
    var ignored: Set<String> = []

    func stamp() -> UInt64 { viewStamp }

    static func entry(_ node: WatchModelTree.Node) -> KnownEntry {
        switch node {
        case .file(let version): return .file(FileVersion(size: 0, mtime: Int64(version), nanoseconds: 0))
        case .directory: return .directory
        }
    }

    func local(_ path: String) -> LocalPresence {
        if isIgnored(path, isDirectory: false) { return .leftAlone }
        return view.nodes[path].map { .present(Self.entry($0)) } ?? .absent
    }

    func localSubtree(_ path: String) -> [BytePath: KnownEntry] {
        var entries: [BytePath: KnownEntry] = [:]
        for p in view.subtree(path) where !isIgnored(p, isDirectory: false) { entries[BytePath(p)] = view.nodes[p].map(Self.entry) }
        return entries
    }

    func isIgnored(_ path: String, isDirectory: Bool) -> Bool {
        ignored.contains { ByteExact.isSameOrInside(path, $0) }
    }

    func remoteExists(_ path: String) async throws -> Bool { remote.exists(path) }

    func rename(_ from: String, to: String) async throws -> Bool { remote.rename(from, to) }

    /// The engine refuses when the local root looks emptied; the model lets random sequences
    /// empty it.
    func mayRemove(_ count: Int) -> Bool { true }

    func remove(_ path: String, replacing: Bool) async throws -> Bool {
        if !replacing && view.nodes[path] != nil { return false }
        remote.remove(path)
        return true
    }

    func sendFile(_ path: String) async throws -> FileVersion? {
        guard case .file(let version)? = view.nodes[path] else { return nil }
        if remote.nodes.nodes[path] == .directory {
            remote.problem("send \(path): a directory is in the way")
            return nil
        }
        return remote.put(path, .file(version)) ? FileVersion(size: 0, mtime: Int64(version), nanoseconds: 0) : nil
    }

    func sendSymlink(_ path: String, target: String) async throws -> Bool { false }

    func sendDirectory(_ path: String) async throws -> Tree? {
        guard view.nodes[path] == .directory else { return nil }
        if let existing = remote.nodes.nodes[path], existing != .directory {
            remote.problem("push \(path): a file is in the way")
            return nil
        }
        return push(under: path)
    }

    func reconcile(reason: String) async throws -> Tree? { push(under: "") }

    /// A push of the local subtree at `path` (nothing deleted); its entries relative to `path`.
    private func push(under path: String) -> Tree? {
        let paths = (path.isEmpty ? view.all : view.subtree(path)).sorted { $0.utf8.count < $1.utf8.count }
        var entries: [TreeEntry] = []
        for p in paths {
            guard let node = view.nodes[p], remote.put(p, node) else { return nil }
            let relative = path.isEmpty ? p : String(p.dropFirst(path.count + 1))
            if relative.isEmpty { continue }
            switch node {
            case .file(let version): entries.append(TreeEntry(path: relative, kind: .file, size: 0, mtime: Int64(version)))
            case .directory: entries.append(TreeEntry(path: relative, kind: .directory))
            }
        }
        return Tree(entries)
    }
}

/// A tree as the entries a scan would give (for KnownTree).
func watchModelEntries(_ tree: WatchModelTree) -> Tree {
    Tree(tree.all.compactMap { path in
        switch tree.nodes[path] {
        case .file(let version)?: return TreeEntry(path: path, kind: .file, size: 0, mtime: Int64(version))
        case .directory?: return TreeEntry(path: path, kind: .directory)
        case nil: return nil
        }
    })
}

// MARK: - Running one sequence

/// One random sequence, applied with random batching, queue merging and lag.
struct WatchApplyRun {
    var log: [String] = []
    var remote: WatchModelRemote
    var final: WatchModelTree
    var rescans = 0

    /// An apply step other than BatchApplier (to check that the test catches a wrong one).
    typealias Step = (_ events: [ChangeEvent], _ local: WatchModelTree, _ remote: WatchModelRemote) async throws -> Void

    init(seed: UInt64, operations: Int, step: Step? = nil) async throws {
        var rng = SeededGenerator(seed: seed)
        var script = WatchModelScript()
        script.rotations = true
        for _ in 0..<6 { script.randomOperation(&rng) }
        let initial = script.tree
        log.append("initial \(initial.nodes.sorted { $0.key < $1.key })")
        script.observations = []
        // The tree after each operation, and where its observations end.
        var trees: [WatchModelTree] = []
        var ends: [Int] = []
        for _ in 0..<operations {
            script.randomOperation(&rng)
            trees.append(script.tree)
            ends.append(script.observations.count)
        }
        final = script.tree
        remote = WatchModelRemote(initial)
        let known = KnownTree()
        known.record(watchModelEntries(initial))
        let applier = BatchApplier(known: known)
        let queue = ChangeQueue()

        var delivered = 0  // operations whose observations reached the queue
        var observed = 0   // observations delivered so far
        var viewIndex = -1 // the local tree the next apply reads (-1: the initial tree)
        while delivered < operations || queue.count > 0 {
            if delivered < operations && (queue.count == 0 || rng.next() % 3 != 0) {
                let chunk = 1 + Int(rng.next() % 4)
                delivered = min(operations, delivered + chunk)
                let batch = ChangeCoalescer.coalesce(Array(script.observations[observed..<ends[delivered - 1]]))
                observed = ends[delivered - 1]
                if batch.contains(where: \.isRescan) { rescans += 1 }
                log.append("deliver \(delivered): \(batch)")
                queue.add(batch)
            } else {
                // Apply what is queued, reading a local tree at least as new as the events.
                let lag = delivered < operations ? Int(rng.next() % UInt64(operations - delivered + 1)) : 0
                viewIndex = max(viewIndex, delivered - 1 + lag)
                let view = viewIndex >= 0 ? trees[min(viewIndex, operations - 1)] : initial
                let events = queue.takeAll()
                log.append("apply (local after op \(viewIndex + 1)): \(events)")
                if let step {
                    try await step(events, view, remote)
                } else {
                    try await applier.apply(events, to: WatchModelTarget(view: view, remote: remote, viewStamp: UInt64(viewIndex + 1)),
                                            covered: UInt64(delivered))
                }
                log.append("  local \(view.nodes.sorted { $0.key < $1.key })\n    remote \(remote.nodes.nodes.sorted { $0.key < $1.key }) waiting \(applier.waiting)")
            }
        }
        // Everything delivered; the engine's timed check (an empty batch) once the events
        // cover the final tree.
        if let step {
            try await step([], final, remote)
        } else {
            try await applier.apply([], to: WatchModelTarget(view: final, remote: remote, viewStamp: UInt64(operations)),
                                    covered: UInt64(operations))
        }
    }

    var converged: Bool { remote.nodes == final && remote.problems.isEmpty }

    var report: String {
        let got = remote.nodes.nodes
        let wrong = Set(got.keys).union(final.nodes.keys).sorted().filter { got[$0] != final.nodes[$0] }
        return "differs at \(wrong.map { "\($0): remote \(got[$0].map { "\($0)" } ?? "-") local \(final.nodes[$0].map { "\($0)" } ?? "-")" }); "
            + "problems \(remote.problems)\n  " + log.joined(separator: "\n  ")
    }
}

// MARK: - Tests

@Suite("Watch apply model")
struct WatchApplyModelUnitTests {
    @Test func randomSequencesConvergeWithBatchingAndLag() async throws {
        var failures: [String] = []
        var rescans = 0
        // WATCH_SEEDS=N runs N sequences instead (a longer soak).
        let count = ProcessInfo.processInfo.environment["WATCH_SEEDS"].flatMap { UInt64($0) } ?? 400
        for seed in UInt64(1)...count {
            let run = try await WatchApplyRun(seed: seed, operations: 4 + Int(seed % 27))
            if let only = ProcessInfo.processInfo.environment["WATCH_SEED"], UInt64(only) == seed { print(run.report) }
            rescans += run.rescans
            if !run.converged { failures.append("seed \(seed): \(run.report)") }
        }
        failures.sort { $0.count < $1.count }
        #expect(failures.isEmpty, "\(failures.count) of \(count) sequences did not converge; shortest:\n\(failures.first ?? "")")
        #expect(rescans < Int(count) / 10, "the coalescer fell back to a rescan \(rescans) times")
    }

    /// The batches of the bugs the review found, against the model.
    @Test func theReviewedOrdersEndEqual() async throws {
        func run(_ initial: [String: WatchModelTree.Node], _ final: [String: WatchModelTree.Node],
                 _ batches: [[ChangeEvent]]) async throws -> WatchModelTree {
            var start = WatchModelTree()
            start.nodes = initial
            var end = WatchModelTree()
            end.nodes = final
            let remote = WatchModelRemote(start)
            let known = KnownTree()
            known.record(watchModelEntries(start))
            let applier = BatchApplier(known: known)
            for batch in batches { try await applier.apply(batch, to: WatchModelTarget(view: end, remote: remote), covered: 0) }
            return remote.nodes
        }
        // [removed d/gone, renamed d -> e]: no stale e/gone.
        let stale = try await run(["d": .directory, "d/keep": .file(1), "d/gone": .file(2), "x": .file(0)],
                                  ["e": .directory, "e/keep": .file(1), "x": .file(0)],
                                  [[.removed("d/gone"), .renamed(from: "d", to: "e")]])
        #expect(stale.nodes == ["e": .directory, "e/keep": .file(1), "x": .file(0)])
        // A change applied after its directory was renamed away, the rename in the next batch.
        let moved = try await run(["d": .directory, "d/f": .file(1)], ["e": .directory, "e/f": .file(2)],
                                  [[.changed("d/f")], [.renamed(from: "d", to: "e")]])
        #expect(moved.nodes == ["e": .directory, "e/f": .file(2)])
        // Log rotation, in one batch and in two.
        let rotationStart: [String: WatchModelTree.Node] = ["app.log": .file(1)]
        let rotationEnd: [String: WatchModelTree.Node] = ["app.log": .file(3), "app.log.1": .file(2)]
        let oneBatch = try await run(rotationStart, rotationEnd,
                                     [[.changed("app.log"), .renamed(from: "app.log", to: "app.log.1"), .changed("app.log")]])
        #expect(oneBatch.nodes == rotationEnd)
        let twoBatches = try await run(rotationStart, rotationEnd,
                                       [[.changed("app.log")], [.renamed(from: "app.log", to: "app.log.1"), .changed("app.log")]])
        #expect(twoBatches.nodes == rotationEnd)
    }

    /// Ignored paths (the rules changed since they were sent) are neither sent nor deleted,
    /// also when a rename moves them or sync's differences name them.
    @Test func ignoredPathsAreLeftAlone() async throws {
        var start = WatchModelTree()
        start.nodes = ["a.log": .file(1), "d": .directory, "d/b.log": .file(2), "d/keep": .file(3)]
        var end = WatchModelTree()
        end.nodes = ["a.log": .file(5), "e": .directory, "e/keep": .file(3)]  // a.log changed, b.log deleted
        let remote = WatchModelRemote(start)
        let known = KnownTree()
        known.record(watchModelEntries(start))
        let applier = BatchApplier(known: known)
        let target = WatchModelTarget(view: end, remote: remote, ignored: ["a.log", "d/b.log", "e/b.log"])
        try await applier.apply([.changed("a.log"), .removed("a.log"), .renamed(from: "d", to: "e")], to: target, covered: 0)
        #expect(remote.nodes.nodes["a.log"] == .file(1), "an ignored file was sent or deleted")
        #expect(remote.nodes.nodes["e/b.log"] == .file(2), "an ignored file moved by a rename was deleted")
        #expect(remote.nodes.nodes["e/keep"] == .file(3))
    }

    /// A change queued again while its version is already on the remote (exec --sync right
    /// after a save) is not sent again; a new version is.
    @Test func aVersionAlreadyOnTheRemoteIsNotSentAgain() async throws {
        var tree = WatchModelTree()
        tree.nodes = ["f": .file(1)]
        let remote = WatchModelRemote(WatchModelTree())
        let applier = BatchApplier(known: KnownTree())
        for _ in 0..<3 { try await applier.apply([.changed("f")], to: WatchModelTarget(view: tree, remote: remote), covered: 0) }
        #expect(remote.sends == 1)
        tree.nodes["f"] = .file(2)
        try await applier.apply([.changed("f")], to: WatchModelTarget(view: tree, remote: remote), covered: 0)
        #expect(remote.sends == 2)
        #expect(remote.nodes == tree)
    }

    /// The apply step as it was before the review: renames first, then removals (skipped
    /// for paths present locally), then changes, a changed path gone locally deleted, a
    /// renamed file not compared with the local one. The random test must catch it.
    @Test func theModelCatchesTheOldApplyStep() async throws {
        var caught = 0
        for seed in UInt64(1)...200 {
            let run = try await WatchApplyRun(seed: seed, operations: 4 + Int(seed % 27)) { events, local, remote in
                var removals: [String] = []
                var changes: [String] = []
                for event in events {
                    switch event {
                    case .renamed(let from, let to):
                        if !remote.exists(from) || !remote.rename(from, to) { changes.append(to) }
                    case .removed(let path): removals.append(path)
                    case .changed(let path): changes.append(path)
                    case .rescan: break
                    }
                }
                for path in removals.sorted(by: { $0.count > $1.count }) where local.nodes[path] == nil { remote.remove(path) }
                for path in changes.sorted(by: { $0.count < $1.count }) {
                    guard let node = local.nodes[path] else {
                        remote.remove(path)
                        continue
                    }
                    for inner in (node == .directory ? local.subtree(path).reversed() : [path]) {
                        _ = remote.put(inner, local.nodes[inner] ?? node)
                    }
                }
            }
            if !run.converged { caught += 1 }
        }
        #expect(caught > 20, "the old apply step diverged in only \(caught) of 200 sequences")
        print("old apply step: \(caught) of 200 sequences diverge")
    }
}
