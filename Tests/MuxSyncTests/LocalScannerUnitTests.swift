// Tests of LocalScanner on real temporary trees, plus ScratchTree, the temp-tree helper
// the other *UnitTests files use.

import Foundation
import Testing
@testable import MuxSync

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - ScratchTree helper

/// A temporary directory with POSIX helpers that keep names byte-exact. Removed on deinit.
final class ScratchTree {
    let root: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/synclocal-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else { throw CocoaError(.fileWriteUnknown) }
        root = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit {
        // chmod everything writable first (tests make unreadable directories), then remove.
        _ = run("/bin/chmod", "-R", "u+rwx", root)
        _ = run("/bin/rm", "-rf", root)
    }

    func path(_ relative: String) -> String { relative.isEmpty ? root : root + "/" + relative }

    @discardableResult
    func file(_ relative: String, _ content: String = "", mode: mode_t = 0o644, mtime: Int64? = nil) -> String {
        let full = path(relative)
        let fd = open(full, O_WRONLY | O_CREAT | O_TRUNC, mode)
        precondition(fd >= 0, "cannot create \(full): \(errno)")
        let bytes = Array(content.utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        fchmod(fd, mode)
        close(fd)
        if let mtime { setMtime(relative, mtime) }
        return full
    }

    func dir(_ relative: String, mode: mode_t = 0o755) {
        precondition(mkdir(path(relative), 0o700) == 0, "mkdir \(relative): \(errno)")
        chmod(path(relative), mode)
    }

    func symlink(_ relative: String, to target: String) {
        precondition(posixSymlink(target, path(relative)) == 0, "symlink \(relative): \(errno)")
    }

    func fifo(_ relative: String) {
        precondition(mkfifo(path(relative), 0o644) == 0, "mkfifo \(relative): \(errno)")
    }

    func setMtime(_ relative: String, _ seconds: Int64, nanoseconds: Int = 0) {
        var times = [timespec(tv_sec: Int(seconds), tv_nsec: nanoseconds),
                     timespec(tv_sec: Int(seconds), tv_nsec: nanoseconds)]
        precondition(utimensat(AT_FDCWD, path(relative), &times, AT_SYMLINK_NOFOLLOW) == 0)
    }

    func scan(_ isExcluded: @escaping @Sendable (String, Bool) -> Bool = { _, _ in false }) throws -> LocalScanResult {
        try LocalScanner(root: root, isExcluded: isExcluded).scan()
    }

    private func run(_ tool: String, _ args: String...) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = args
        do { try process.run() } catch { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }
}

private func posixSymlink(_ target: String, _ path: String) -> Int32 { symlink(target, path) }

/// Records calls from a @Sendable closure.
final class CallRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var calls: [String] = []
    func record(_ s: String) { lock.lock(); calls.append(s); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return calls }
}

// MARK: - Tests

@Suite("LocalScanner")
struct LocalScannerUnitTests {
    @Test func scansFilesDirectoriesAndEmptyDirectoriesInTreeOrder() throws {
        let t = try ScratchTree()
        t.dir("src")
        t.file("src/main.c", "int main;", mode: 0o640, mtime: 1_600_000_000)
        t.dir("src/lib")
        t.file("src/lib/a.c", "a")
        t.dir("empty", mode: 0o700)
        t.file("src b", "x")
        t.file("README", "hello", mode: 0o755)
        let result = try t.scan()
        #expect(result.warnings.isEmpty)
        #expect(result.tree.entries.map(\.path) == ["README", "empty", "src", "src/lib", "src/lib/a.c", "src/main.c", "src b"])
        let main = try #require(result.tree["src/main.c"])
        #expect(main.kind == .file)
        #expect(main.size == 9)
        #expect(main.permissions == 0o640)
        #expect(main.mtime == 1_600_000_000)
        #expect(result.tree["empty"]?.kind == .directory)
        #expect(result.tree["empty"]?.permissions == 0o700)
        #expect(result.tree["README"]?.permissions == 0o755)
        #expect(result.tree.fileCount == 4)
    }

    @Test func recordsNanosecondMtime() throws {
        let t = try ScratchTree()
        t.file("f", "x")
        t.setMtime("f", 1_700_000_000, nanoseconds: 123_456_789)
        let entry = try #require(try t.scan().tree["f"])
        #expect(entry.mtime == 1_700_000_000)
        // Some file systems keep less precision; the sub-second part must at least be kept.
        #expect(entry.mtimeNanoseconds > 0)
    }

    @Test func symlinksAreRecordedAndNeverFollowed() throws {
        let t = try ScratchTree()
        t.dir("real")
        t.file("real/inside", "x")
        t.symlink("loop1", to: "loop2")
        t.symlink("loop2", to: "loop1")
        t.symlink("outside", to: "/etc")
        t.symlink("dirlink", to: "real")
        t.symlink("dangling", to: "does/not/exist")
        let result = try t.scan()
        #expect(result.warnings.isEmpty)
        #expect(result.tree["loop1"]?.kind == .symlink(target: "loop2"))
        #expect(result.tree["loop2"]?.kind == .symlink(target: "loop1"))
        #expect(result.tree["outside"]?.kind == .symlink(target: "/etc"))
        #expect(result.tree["dirlink"]?.kind == .symlink(target: "real"))
        #expect(result.tree["dangling"]?.symlinkTarget == "does/not/exist")
        // Nothing below a symlink: /etc and real/ are not walked through the links.
        #expect(!result.tree.entries.contains { $0.path.hasPrefix("outside/") || $0.path.hasPrefix("dirlink/") })
        #expect(result.tree.count == 7)
    }

    @Test func fifoIsSkippedWithAWarning() throws {
        let t = try ScratchTree()
        t.dir("logs")
        t.fifo("logs/pipe")
        t.file("logs/a.txt", "a")
        let result = try t.scan()
        #expect(result.tree["logs/pipe"]?.kind == .special("FIFO"))
        #expect(result.warnings == ["skipping FIFO logs/pipe"])
        #expect(result.tree["logs/a.txt"]?.isFile == true)
    }

    @Test(.disabled(if: geteuid() == 0, "root reads every directory; run as a normal user to cover this"))
    func unreadableDirectoryWarnsAndIsProtected() throws {
        let t = try ScratchTree()
        t.dir("locked")
        t.file("locked/secret", "s")
        t.file("ok", "o")
        chmod(t.path("locked"), 0o000)
        let result = try t.scan()
        #expect(result.tree["locked"]?.isDirectory == true)
        #expect(result.tree["locked/secret"] == nil)
        #expect(result.tree["ok"] != nil)
        #expect(result.warnings.count == 1)
        #expect(result.warnings.first?.hasPrefix("cannot read directory locked:") == true)
        #expect(result.tree.isProtected("locked/secret"))
    }

    @Test(.disabled(if: geteuid() == 0, "root reads every file; run as a normal user to cover this"))
    func unreadableFileWarnsAndIsProtected() throws {
        let t = try ScratchTree()
        t.file("secret", "s", mode: 0o000)
        let result = try t.scan()
        #expect(result.tree["secret"] == nil)
        #expect(result.warnings.first?.hasPrefix("cannot read file secret:") == true)
        #expect(result.tree.isProtected("secret"))
    }

    @Test func nfcAndNfdNamesSurviveSideBySide() throws {
        let t = try ScratchTree()
        let nfc = "caf\u{E9}"
        let nfd = "cafe\u{301}"
        t.file(nfc, "composed")
        t.file(nfd, "decomposed!")
        let result = try t.scan()
        #expect(result.tree.count == 2)
        let composed = try #require(result.tree[nfc])
        let decomposed = try #require(result.tree[nfd])
        #expect(Array(composed.path.utf8) == Array(nfc.utf8))
        #expect(Array(decomposed.path.utf8) == Array(nfd.utf8))
        #expect(composed.size == 8)
        #expect(decomposed.size == 11)
    }

    @Test func namesWithSpacesNewlinesAndUnicodeAreKept() throws {
        let t = try ScratchTree()
        t.dir("with space")
        t.file("with space/line\nbreak", "n")
        t.file("tab\there", "t")
        t.file("日本語.txt", "j")
        let result = try t.scan()
        #expect(result.warnings.isEmpty)
        #expect(result.tree["with space/line\nbreak"]?.isFile == true)
        #expect(result.tree["tab\there"]?.isFile == true)
        #expect(result.tree["日本語.txt"]?.size == 1)
    }

    @Test func nameThatIsNotUTF8IsSkippedWithAWarning() throws {
        let t = try ScratchTree()
        t.file("good", "g")
        var bytes = Array((t.root + "/bad").utf8)
        bytes.append(0xE9) // Latin-1 "é": invalid as UTF-8
        bytes.append(0)
        let fd = bytes.withUnsafeBufferPointer {
            open(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), O_CREAT | O_WRONLY, 0o644)
        }
        try #require(fd >= 0)
        close(fd)
        let result = try t.scan()
        #expect(result.tree.entries.map(\.path) == ["good"])
        #expect(result.warnings.count == 1)
        #expect(result.warnings.first?.contains("bad\\xE9") == true)
        #expect(result.warnings.first?.contains("not valid UTF-8") == true)
    }

    @Test func excludedDirectoriesAreNotDescended() throws {
        let t = try ScratchTree()
        t.dir("build")
        t.file("build/out.o", "o")
        t.dir("src")
        t.file("src/a.c", "a")
        t.file("src/a.o", "o")
        let calls = CallRecorder()
        let result = try t.scan { path, isDirectory in
            calls.record(path)
            return (isDirectory && path == "build") || path.hasSuffix(".o")
        }
        #expect(result.tree.entries.map(\.path) == ["src", "src/a.c"])
        #expect(!calls.all.contains("build/out.o"))
        #expect(calls.all.contains("src/a.o"))
    }

    @Test func missingRootIsAClearError() throws {
        let t = try ScratchTree()
        let missing = t.path("nope")
        #expect(throws: LocalScanError.rootMissing(missing)) { try LocalScanner(root: missing).scan() }
        #expect(LocalScanError.rootMissing(missing).description.hasPrefix("local directory \(missing) does not exist"))
    }

    @Test func rootThatIsAFileIsRefused() throws {
        let t = try ScratchTree()
        let file = t.file("plain", "x")
        #expect(throws: LocalScanError.rootNotADirectory(file)) { try LocalScanner(root: file).scan() }
    }

    @Test func rootMayBeASymlinkToADirectoryAndTrailingSlashesAreIgnored() throws {
        let t = try ScratchTree()
        t.dir("real")
        t.file("real/a", "a")
        t.symlink("link", to: "real")
        let viaLink = try LocalScanner(root: t.path("link")).scan()
        #expect(viaLink.tree.entries.map(\.path) == ["a"])
        let slashed = try LocalScanner(root: t.path("real") + "//").scan()
        #expect(slashed.tree.entries.map(\.path) == ["a"])
    }

    @Test func emptyRootGivesAnEmptyTreeWithRootAttributes() throws {
        let t = try ScratchTree()
        chmod(t.root, 0o750)
        let result = try t.scan()
        #expect(result.tree.isEmpty)
        #expect(result.tree.hasNothingToTransfer)
        #expect(result.rootPermissions == 0o750)
    }

    @Test func deepTreeIsWalkedWithoutHoldingDescriptors() throws {
        let t = try ScratchTree()
        var path = ""
        for i in 0..<60 {
            path = path.isEmpty ? "d\(i)" : path + "/d\(i)"
            t.dir(path)
        }
        t.file(path + "/leaf", "x")
        let result = try t.scan()
        #expect(result.tree.count == 61)
        #expect(result.tree.entries.last?.path == path + "/leaf")
    }
}
