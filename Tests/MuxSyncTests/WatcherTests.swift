// Tests of the change sources on real directories: the same scripted edits (editor save
// patterns, renames, bursts, symlinks, moves in and out, ignore rules) run under inotify and
// under polling. Each batch is applied, in order, to a mirror of the tree the way a consumer
// applies it (reading the local file for `.changed`); after each phase the mirror must equal
// the real tree. Event sequences are not compared (polling sees less). No timing
// assertions: waits are generous timeouts.

import MuxTestSupport
import Foundation
import Testing
@testable import MuxSync

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Mirror

/// What a mirror keeps of an entry: kind, permissions and, for files, size and mtime; for
/// symlinks, the target. Directory mtimes are not compared (no event moves them).
struct WatchMirrorEntry: Equatable, CustomStringConvertible {
    var kind: String
    var permissions: UInt32
    var size: UInt64
    var mtime: Int64
    var nanoseconds: Int32

    init(_ entry: TreeEntry) {
        kind = entry.kind.description + (entry.symlinkTarget.map { " -> " + $0 } ?? "")
        permissions = entry.permissions
        size = entry.isDirectory ? 0 : entry.size
        mtime = entry.isDirectory ? 0 : entry.mtime
        nanoseconds = entry.isDirectory ? 0 : entry.mtimeNanoseconds
    }

    var description: String { "\(kind) \(String(permissions, radix: 8)) \(size)B @\(mtime).\(nanoseconds)" }
}

/// A change source started on a directory, with a mirror kept up to date from its batches.
final class WatchedTree: @unchecked Sendable {
    let root: String
    let filter: ExclusionFilter
    let source: ChangeSource
    private let lock = NSLock()
    private var pending: [[ChangeEvent]] = []
    private var finished = false
    private(set) var mirror: [String: WatchMirrorEntry] = [:]
    private(set) var events: [ChangeEvent] = []
    private(set) var violations: [String] = []
    /// `.changed` paths that were gone when applied, waiting for the event that explains them.
    private var deferred: Set<String> = []
    private var consumer: Task<Void, Never>?

    init(root: String, polling: Bool) {
        self.root = root
        filter = ExclusionFilter(root: root, excludes: [])
        #if os(Linux)
        source = polling ? PollingWatcher(root: root, filter: filter, interval: .milliseconds(50))
            : InotifyWatcher(root: root, filter: filter)
        #else
        source = PollingWatcher(root: root, filter: filter, interval: .milliseconds(50))
        #endif
    }

    func start() throws {
        let stream = try source.start()
        mirror = actual()
        consumer = Task { [self] in
            for await batch in stream { received(batch) }
            received(nil)
        }
    }

    private func received(_ batch: [ChangeEvent]?) {
        lock.lock()
        defer { lock.unlock() }
        if let batch { pending.append(batch) } else { finished = true }
    }

    func stop() async {
        source.stop()
        await consumer?.value
    }

    var streamFinished: Bool {
        lock.lock()
        defer { lock.unlock() }
        return finished
    }

    /// The real tree, as the scanner sees it with the same ignore rules.
    func actual() -> [String: WatchMirrorEntry] {
        guard let result = try? LocalScanner(root: root, isExcluded: filter.walkPredicate).scan() else { return [:] }
        var entries: [String: WatchMirrorEntry] = [:]
        for entry in result.tree.entries where !entry.isSpecial { entries[entry.path] = WatchMirrorEntry(entry) }
        return entries
    }

    /// Applies what arrived; true once the mirror equals the real tree.
    func converged() -> Bool {
        lock.lock()
        let batches = pending
        pending = []
        lock.unlock()
        for batch in batches { apply(batch) }
        return mirror == actual()
    }

    /// Waits (up to `timeout`) until the mirror equals the real tree.
    func waitForConvergence(_ timeout: Duration = .seconds(10)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if converged() {
                // settle: a batch may still be on its way; it must keep the mirror right
                try? await Task.sleep(for: .milliseconds(150))
                if converged() { return true }
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return converged()
    }

    /// Waits until an event satisfying `condition` arrived.
    func waitForEvent(_ timeout: Duration = .seconds(10), _ condition: (ChangeEvent) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            _ = converged()
            if events.contains(where: condition) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    /// Differences between mirror and tree, and the events that named those paths, for
    /// failure messages.
    func difference() -> String {
        let real = actual()
        let keys = Set(real.keys).union(mirror.keys).sorted().filter { real[$0] != mirror[$0] }
        let lines = keys.prefix(8).map { key in
            "\(key): mirror \(mirror[key].map(\.description) ?? "-") real \(real[key].map(\.description) ?? "-")"
        }
        let related = events.filter { event in
            event.isRescan || event.paths.contains { path in keys.prefix(8).contains { ByteExact.isSameOrInside($0, path) } }
        }
        if let dump = ProcessInfo.processInfo.environment["WATCH_DUMP"] {
            if !FileManager.default.fileExists(atPath: dump) {
                try? "\(lines)\n\(trace.joined(separator: "\n"))".write(toFile: dump, atomically: true, encoding: .utf8)
            }
        }
        return lines.joined(separator: "; ") + " | events: \(related.suffix(12))"
    }

    /// What applying each event did, batch by batch (dumped with WATCH_DUMP on failure).
    private(set) var trace: [String] = []

    private func apply(_ batch: [ChangeEvent]) {
        events += batch
        trace.append("-- batch")
        for event in batch {
            trace.append("\(event)" + (event.paths.first.map { localEntry($0).map { " [local \($0)]" } ?? " [local -]" } ?? ""))
            switch event {
            case .changed(let path):
                let parent = ByteExact.parent(of: path)
                // gone again: skip it, but look again if a rename moves it (as documented)
                guard let entry = localEntry(path) else {
                    deferred.insert(path)
                    continue
                }
                deferred.remove(path)
                if !parent.isEmpty && mirror[parent] == nil { violations.append("\(event): parent missing") }
                if !entry.kind.hasPrefix("directory") || mirror[path]?.kind.hasPrefix("directory") != true {
                    removeSubtree(path)
                }
                mirror[path] = entry
            case .removed(let path):
                removeSubtree(path)
                deferred = deferred.filter { !ByteExact.isSameOrInside($0, path) }
            case .renamed(let from, let to):
                let moved = deferred.filter { ByteExact.isSameOrInside($0, from) }
                deferred.subtract(moved)
                defer { apply(moved.map { .changed(to + String($0.dropFirst(from.count))) }) }
                guard mirror[from] != nil else {
                    // The source came and went between two batches (a temp created, then
                    // renamed): the consumer sends `to`, with its contents, as documented.
                    removeSubtree(to)
                    for (path, entry) in actual() where ByteExact.isSameOrInside(path, to) { mirror[path] = entry }
                    continue
                }
                let moving = mirror.filter { ByteExact.isSameOrInside($0.key, from) }
                removeSubtree(from)
                removeSubtree(to)
                for (path, entry) in moving { mirror[to + String(path.dropFirst(from.count))] = entry }
                if mirror[to] != localEntry(to) {
                    // What was moved is not what sits at `to` now (an earlier change of `from`
                    // was applied after `from` had been replaced): send `to` again, as documented.
                    removeSubtree(to)
                    for (path, entry) in actual() where ByteExact.isSameOrInside(path, to) { mirror[path] = entry }
                }
            case .rescan:
                mirror = actual()
                deferred = []
            }
        }
    }

    private func removeSubtree(_ path: String) {
        guard let entry = mirror.removeValue(forKey: path), entry.kind.hasPrefix("directory") else { return }
        for key in mirror.keys where ByteExact.isStrictlyInside(key, path) { mirror[key] = nil }
    }

    private func localEntry(_ path: String) -> WatchMirrorEntry? {
        var st = stat()
        // never through a symlink: every ancestor must be a real directory
        var ancestor = ByteExact.parent(of: path)
        while !ancestor.isEmpty {
            guard lstat(root + "/" + ancestor, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { return nil }
            ancestor = ByteExact.parent(of: ancestor)
        }
        guard lstat(root + "/" + path, &st) == 0 else { return nil }
        let type = st.st_mode & S_IFMT
        guard type == S_IFREG || type == S_IFDIR || type == S_IFLNK else { return nil }
        if filter.isExcluded(path, isDirectory: type == S_IFDIR) { return nil }
        let time = LocalScanner.mtime(of: st)
        var kind: TreeEntry.Kind = type == S_IFDIR ? .directory : .file
        if type == S_IFLNK {
            var buffer = [CChar](repeating: 0, count: 4096)
            let n = readlink(root + "/" + path, &buffer, buffer.count)
            kind = .symlink(target: n >= 0 ? String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "")
        }
        return WatchMirrorEntry(TreeEntry(path: path, kind: kind, size: UInt64(st.st_size), mtime: time.seconds,
                                     mtimeNanoseconds: time.nanoseconds, permissions: UInt32(st.st_mode)))
    }
}

/// Events collected from a stream, for tests that only look for one.
final class WatchEventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [ChangeEvent] = []

    func add(_ batch: [ChangeEvent]) {
        lock.lock()
        events += batch
        lock.unlock()
    }

    var all: [ChangeEvent] {
        lock.lock()
        defer { lock.unlock() }
        return events
    }

    /// Waits (up to 10 s) until `condition` holds for the events so far.
    func wait(_ condition: ([ChangeEvent]) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if condition(all) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition(all)
    }
}

// MARK: - File helpers

/// A temporary directory with the POSIX calls the scripts need.
final class WatchScratch {
    let root: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/watcher-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw CocoaError(.fileWriteUnknown)
        }
        root = String(cString: made)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    func path(_ relative: String) -> String { root + "/" + relative }

    func write(_ relative: String, _ text: String, flags: Int32 = O_WRONLY | O_CREAT | O_TRUNC) {
        let fd = open(path(relative), flags, 0o644)
        precondition(fd >= 0, "open \(relative): \(errno)")
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { posixWrite(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    func append(_ relative: String, _ text: String) { write(relative, text, flags: O_WRONLY | O_APPEND) }
    func mkdir(_ relative: String) { precondition(posixMkdir(path(relative)) == 0, "mkdir \(relative)") }
    func mkdirs(_ relative: String) { try? FileManager.default.createDirectory(atPath: path(relative), withIntermediateDirectories: true) }
    func move(_ from: String, _ to: String) { moveAbsolute(path(from), path(to)) }
    func moveAbsolute(_ from: String, _ to: String) { precondition(posixRename(from, to) == 0, "rename \(from) \(to): \(errno)") }
    func remove(_ relative: String) { try? FileManager.default.removeItem(atPath: path(relative)) }
    func link(_ relative: String, to target: String) { precondition(symlink(target, path(relative)) == 0, "symlink \(relative)") }
    func chmod(_ relative: String, _ mode: mode_t) { _ = posixChmod(path(relative), mode) }
}

private func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int { write(fd, buffer, count) }
private func posixMkdir(_ path: String) -> Int32 { mkdir(path, 0o755) }
private func posixRename(_ from: String, _ to: String) -> Int32 { rename(from, to) }
private func posixChmod(_ path: String, _ mode: mode_t) -> Int32 { chmod(path, mode) }

// MARK: - Tests

@Suite("Watchers", .serialized)
struct WatcherTests {
    static var kinds: [Bool] {
        #if os(Linux)
        return [false, true]  // inotify, polling
        #else
        return [true]
        #endif
    }

    @Test(arguments: WatcherTests.kinds)
    func scriptedEditsReachTheMirror(polling: Bool) async throws {
        let t = try WatchScratch()
        let outside = try WatchScratch()
        t.mkdir("src")
        t.write("src/main.c", "int main;")
        t.write("a.txt", "a")
        t.write("b.txt", "b")
        t.mkdir("docs")
        t.write("docs/readme.md", "# readme")
        t.mkdirs(".git/objects/ab")
        t.write(".git/HEAD", "ref")
        t.link("link", to: "a.txt")
        let w = WatchedTree(root: t.root, polling: polling)
        try w.start()
        var phase = ""
        func check(_ name: String) async {
            phase = name
            let ok = await w.waitForConvergence()
            #expect(ok, "after \(phase) (\(w.source.kind)): \(w.difference())")
            #expect(w.violations.isEmpty, "after \(phase) (\(w.source.kind)): \(w.violations)")
        }

        t.write("new.txt", "new")
        t.write("src/util.c", "util")
        t.mkdir("empty")
        await check("create")

        t.append("a.txt", " more")
        t.chmod("b.txt", 0o600)
        await check("in-place write and chmod")

        t.write("b.txt", "")
        t.append("b.txt", "rewritten after truncation")
        await check("truncate then write")

        // vim, backupcopy=no: probe file, rename to backup, write anew, drop the backup
        t.write("src/4913", "")
        t.remove("src/4913")
        t.write("src/.main.c.swp", "swap")
        t.move("src/main.c", "src/main.c~")
        t.write("src/main.c", "int main(void) { return 0; }")
        t.remove("src/main.c~")
        t.remove("src/.main.c.swp")
        await check("vim save")

        // JetBrains safe write
        t.write("docs/readme.md___jb_tmp___", "# readme, edited")
        t.move("docs/readme.md", "docs/readme.md___jb_old___")
        t.move("docs/readme.md___jb_tmp___", "docs/readme.md")
        t.remove("docs/readme.md___jb_old___")
        await check("JetBrains save")

        // a visible temporary renamed over an existing and over a new name
        t.write("b.txt.new", "b via temp")
        t.move("b.txt.new", "b.txt")
        t.write("c.txt.new", "c via temp")
        t.move("c.txt.new", "c.txt")
        await check("temp then rename")

        t.remove("new.txt")
        t.write("new.txt", "created again")
        await check("delete then create")

        t.mkdirs("deep/b/c")
        t.write("deep/b/c/f", "f")
        t.write("deep/b/g", "g")
        await check("mkdir -p burst")

        t.move("deep", "moved")
        t.write("moved/b/c/f2", "f2")
        await check("directory rename")

        t.link("link2", to: "src")
        t.remove("link")
        t.link("link", to: "b.txt")
        t.link("link2.tmp", to: "docs")
        t.move("link2.tmp", "link2")
        await check("symlinks")

        t.remove("moved")
        await check("directory removed")

        outside.mkdirs("incoming/sub")
        outside.write("incoming/sub/x", "x")
        t.moveAbsolute(outside.path("incoming"), t.path("incoming"))
        t.moveAbsolute(t.path("docs"), outside.path("docs"))
        await check("moves in and out")

        let before = w.events.count
        t.mkdirs("__pycache__")
        t.write("__pycache__/m.pyc", "pyc")
        t.mkdirs(".git/objects/ef")
        t.write(".git/objects/ef/01", "object")
        t.write("notes~", "backup")
        t.write(".#lock", "lock")
        t.write("sentinel", "s")
        await check("ignored droppings")
        let later = w.events[before...].flatMap(\.paths)
        #expect(later.contains("sentinel"))
        for path in w.events.flatMap(\.paths) {
            let dropping = w.filter.isExcluded(path, isDirectory: false) && w.filter.isExcluded(path, isDirectory: true)
            #expect(!dropping, "ignored path \(path) in events (\(w.source.kind))")
        }

        t.write(".gitignore", "*.log\n")
        await check("ignore rules changed")
        #expect(await w.waitForEvent { $0.isRescan })
        t.write("x.log", "log")
        t.write("sentinel", "s2")
        await check("newly ignored file")
        #expect(!w.events.flatMap(\.paths).contains("x.log"))

        await w.stop()
        #expect(w.streamFinished)
    }

    @Test(arguments: WatcherTests.kinds)
    func aLargeBurstConverges(polling: Bool) async throws {
        let t = try WatchScratch()
        let w = WatchedTree(root: t.root, polling: polling)
        try w.start()
        for d in 0..<40 {
            t.mkdirs("burst/d\(d)/e")
            for f in 0..<50 { t.write("burst/d\(d)/e/f\(f)", "\(d)-\(f)") }
        }
        #expect(await w.waitForConvergence(.seconds(30)), "\(w.source.kind): \(w.difference().prefix(500))")
        for d in stride(from: 0, to: 40, by: 2) { t.remove("burst/d\(d)") }
        t.move("burst", "renamed")
        for d in stride(from: 1, to: 40, by: 4) { t.append("renamed/d\(d)/e/f0", "+") }
        #expect(await w.waitForConvergence(.seconds(30)), "\(w.source.kind): \(w.difference().prefix(500))")
        #expect(w.violations.isEmpty, "\(w.violations.prefix(5))")
        await w.stop()
    }

    @Test(arguments: WatcherTests.kinds)
    func randomEditsConverge(polling: Bool) async throws {
        let t = try WatchScratch()
        let w = WatchedTree(root: t.root, polling: polling)
        try w.start()
        let seed = ProcessInfo.processInfo.environment["WATCH_SEED"].flatMap(UInt64.init) ?? (polling ? 7 : 11)
        var rng = SeededGenerator(seed: seed)
        let names = ["a", "b", "c", "d~", "e.swp"]
        var failures: [String] = []
        for round in 0..<6 {
            for _ in 0..<60 {
                WatcherTests.randomEdit(t, names: names, &rng)
                if rng.next() % 8 == 0 { try? await Task.sleep(for: .milliseconds(Int(rng.next() % 5))) }
            }
            if !(await w.waitForConvergence(.seconds(30))) { failures.append("round \(round): \(w.difference())") }
        }
        #expect(failures.isEmpty, "\(w.source.kind) seed \(seed): \(failures.first ?? "")")
        #expect(w.violations.isEmpty, "\(w.source.kind) seed \(seed): \(w.violations.prefix(5))")
        await w.stop()
    }

    /// One random edit below `t` (paths at most three levels deep).
    static func randomEdit(_ t: WatchScratch, names: [String], _ rng: inout SeededGenerator) {
        func existing(directoriesOnly: Bool) -> [String] {
            let all = (FileManager.default.subpaths(atPath: t.root) ?? []).filter { $0.split(separator: "/").count <= 3 }
            return all.filter { path in
                var isDirectory: ObjCBool = false
                let exists = FileManager.default.fileExists(atPath: t.path(path), isDirectory: &isDirectory)
                return exists && (!directoriesOnly || isDirectory.boolValue)
            }.sorted()
        }
        func fresh() -> String? {
            let parents = [""] + existing(directoriesOnly: true).filter { $0.split(separator: "/").count < 3 }
            guard let parent = parents.randomElement(using: &rng), let name = names.randomElement(using: &rng) else { return nil }
            let path = parent.isEmpty ? name : parent + "/" + name
            var st = stat()
            return lstat(t.path(path), &st) == 0 ? nil : path
        }
        switch rng.next() % 9 {
        case 0, 1:
            if let path = fresh() { t.write(path, "new \(rng.next() % 100)") }
        case 2:
            if let path = existing(directoriesOnly: false).filter({ !$0.hasSuffix("/") }).randomElement(using: &rng) {
                var st = stat()
                if lstat(t.path(path), &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG { t.append(path, "+") }
            }
        case 3:
            if let path = fresh() { t.mkdir(path) }
        case 4:
            if let path = existing(directoriesOnly: false).randomElement(using: &rng) { t.remove(path) }
        case 5, 6:
            if let from = existing(directoriesOnly: false).randomElement(using: &rng), let to = fresh(),
               !to.hasPrefix(from + "/") {
                t.move(from, to)
            }
        case 7:
            // a temporary renamed over a file (or onto a new name)
            let files = existing(directoriesOnly: false).filter { path in
                var st = stat()
                return lstat(t.path(path), &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
            }
            if let to = files.randomElement(using: &rng) ?? fresh() {
                t.write(to + ".tmp", "temp \(rng.next() % 100)")
                t.move(to + ".tmp", to)
            }
        default:
            if let path = fresh() { t.link(path, to: names.randomElement(using: &rng) ?? "a") }
        }
    }

    @Test(arguments: WatcherTests.kinds)
    func aDeletedRootIsARescan(polling: Bool) async throws {
        let t = try WatchScratch()
        t.write("f", "x")
        let w = WatchedTree(root: t.root, polling: polling)
        try w.start()
        try FileManager.default.removeItem(atPath: t.root)
        #expect(await w.waitForEvent { $0.isRescan }, "\(w.source.kind): \(w.events)")
        await w.stop()
    }

    @Test(arguments: WatcherTests.kinds)
    func aMissingRootCannotBeWatched(polling: Bool) async throws {
        let w = WatchedTree(root: "/nonexistent/muxsync-watch-test", polling: polling)
        #expect(throws: ChangeSourceError.self) { try w.start() }
    }

    @Test func sourcesAreChosenByPlatformAndFlag() async throws {
        let t = try WatchScratch()
        let filter = ExclusionFilter(root: t.root, excludes: [])
        let polling = ChangeSources.make(root: t.root, filter: filter, forcePolling: true, pollInterval: .seconds(1))
        #expect(polling.kind == "polling")
        let automatic = ChangeSources.make(root: t.root, filter: filter, forcePolling: false, pollInterval: .seconds(1))
        let stream = try automatic.start()
        #if os(Linux)
        #expect(automatic.kind == "inotify")
        #else
        #expect(automatic.kind == "polling")
        #endif
        automatic.stop()
        automatic.stop()  // twice is fine
        var batches = 0
        for await _ in stream { batches += 1 }  // finished by stop()
        #expect(batches == 0)
    }

    #if os(Linux)
    @Test func theAdaptiveSourceSwitchesToPollingWithoutLosingTheStream() async throws {
        let t = try WatchScratch()
        let filter = ExclusionFilter(root: t.root, excludes: [])
        let source = AdaptiveChangeSource(root: t.root, filter: filter, pollInterval: .milliseconds(50))
        let stream = try source.start()
        let received = WatchEventLog()
        let consumer = Task { for await batch in stream { received.add(batch) } }
        t.write("before", "1")
        #expect(await received.wait { $0.contains(.changed("before")) })
        source.switchToPolling(because: "test")
        #expect(source.kind == "polling")
        #expect(source.fallbackReason == "test")
        t.write("after", "2")
        #expect(await received.wait { $0.contains(.changed("after")) })
        source.stop()
        await consumer.value  // the stream finishes
    }
    #endif

    /// Run inside a user namespace with a low watch limit to exercise the fallback:
    /// `unshare -U -r sh -c 'echo 20 > /proc/sys/user/max_inotify_watches; swift test ...'`.
    static var lowWatchLimit: Bool {
        let text = try? String(contentsOfFile: "/proc/sys/user/max_inotify_watches", encoding: .utf8)
        return (text.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? Int.max) <= 100
    }

    @Test(.enabled(if: WatcherTests.lowWatchLimit))
    func theWatchLimitFallsBackToPolling() async throws {
        let big = try WatchScratch()
        for d in 0..<150 { big.mkdirs("d\(d)") }
        let bigFilter = ExclusionFilter(root: big.root, excludes: [])
        let refused = InotifyWatcher(root: big.root, filter: bigFilter)
        #expect(throws: ChangeSourceError.self) { _ = try refused.start() }
        let adaptive = AdaptiveChangeSource(root: big.root, filter: bigFilter, pollInterval: .milliseconds(50))
        let bigStream = try adaptive.start()
        #expect(adaptive.kind == "polling")
        #expect(adaptive.fallbackReason?.contains("max_user_watches") == true)
        adaptive.stop()
        _ = bigStream

        // Reached while watching: a rescan says so, polling takes over, nothing is lost.
        let t = try WatchScratch()
        let filter = ExclusionFilter(root: t.root, excludes: [])
        let source = AdaptiveChangeSource(root: t.root, filter: filter, pollInterval: .milliseconds(50))
        let stream = try source.start()
        #expect(source.kind == "inotify")
        let received = WatchEventLog()
        let consumer = Task { for await batch in stream { received.add(batch) } }
        for d in 0..<150 { t.mkdirs("n\(d)") }
        #expect(await received.wait { events in
            events.contains { if case .rescan(let reason) = $0 { return reason.contains("max_user_watches") } else { return false } }
        })
        #expect(await received.wait { _ in source.kind == "polling" })
        t.write("n149/late", "x")
        #expect(await received.wait { $0.contains(.changed("n149/late")) })
        source.stop()
        await consumer.value
    }

    @Test func startingTwiceIsAnError() throws {
        let t = try WatchScratch()
        let watcher = PollingWatcher(root: t.root, filter: ExclusionFilter(root: t.root, excludes: []))
        _ = try watcher.start()
        #expect(throws: ChangeSourceError.alreadyStarted) { _ = try watcher.start() }
        watcher.stop()
    }

    // MARK: Cost (opt-in: MUXSYNC_WATCH_BENCH=1)

    #if os(Linux)
    @Test(.enabled(if: ProcessInfo.processInfo.environment["MUXSYNC_WATCH_BENCH"] != nil))
    func idleCostOnFiftyThousandFiles() async throws {
        let t = try WatchScratch()
        for d in 0..<1000 {
            t.mkdirs("d\(d / 100)/e\(d)")
            for f in 0..<50 { t.write("d\(d / 100)/e\(d)/f\(f).txt", "x") }
        }
        let filter = ExclusionFilter(root: t.root, excludes: [])
        var report: [String] = []

        let rssBefore = WatcherTests.residentKilobytes()
        var started = ContinuousClock.now
        let polling = PollingWatcher(root: t.root, filter: filter, interval: .seconds(1))
        let pollingStream = try polling.start()  // dropping the stream would stop the watcher
        let snapshotTime = ContinuousClock.now - started
        let rssPolling = WatcherTests.residentKilobytes()
        let pollingCPU = await WatcherTests.cpuShare(over: .seconds(10))
        let figures = polling.snapshotFigures
        polling.stop()
        _ = pollingStream
        #expect(figures.entries == 51_010)
        report.append("polling: initial snapshot \(snapshotTime), \(figures.entries) entries in \(figures.directories) directories, "
            + "RSS +\(rssPolling - rssBefore) KB, idle CPU at 1 s \(pollingCPU), last poll \(figures.lastPoll)")

        started = ContinuousClock.now
        let inotify = InotifyWatcher(root: t.root, filter: filter)
        let inotifyStream = try inotify.start()
        let watchTime = ContinuousClock.now - started
        let rssInotify = WatcherTests.residentKilobytes()
        let inotifyCPU = await WatcherTests.cpuShare(over: .seconds(10))
        #expect(inotify.watchCount == 1011)
        inotify.stop()
        _ = inotifyStream
        report.append("inotify: \(inotify.watchCount) watches set in \(watchTime), RSS +\(rssInotify - rssPolling) KB, "
            + "idle CPU \(inotifyCPU)")
        print("WATCH BENCH\n" + report.joined(separator: "\n"))
    }

    /// Process CPU time over `duration` while idle, as a percentage of one core: total, user
    /// and system.
    static func cpuShare(over duration: Duration) async -> String {
        func used() -> (user: Double, system: Double) {
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            return (Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6,
                    Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6)
        }
        let before = used()
        let started = ContinuousClock.now
        try? await Task.sleep(for: duration)
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let after = used()
        func percent(_ value: Double) -> String { String(format: "%.1f", value / seconds * 100) }
        return "\(percent(after.user - before.user + after.system - before.system)) % of a core "
            + "(user \(percent(after.user - before.user)) %, system \(percent(after.system - before.system)) %)"
    }

    static func residentKilobytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return 0 }
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }
    #endif
}
