// Pull against a real sshd: where files land, --include, the size+mtime skip, resuming a
// download cut by the proxy, and refusing to write outside the target directory.

import Foundation
import MuxSync
import MuxTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite(.serialized, .timeLimit(.minutes(10)))
struct PullIntegrationTests {
    static let t0: Int64 = 1_700_000_000

    /// A remote tree written directly on disk: a.txt, b.md, sub/c.txt, sub/d.md, sub/deeper/e.txt.
    static func remoteTree(_ lab: SyncLab) throws -> String {
        let remote = try lab.makeDirectory("remote/tree")
        try Disk.file(remote + "/a.txt", "alpha", mode: 0o600, mtime: t0)
        try Disk.file(remote + "/b.md", "# bravo", mtime: t0 + 1)
        try Disk.directory(remote + "/sub", mode: 0o750)
        try Disk.file(remote + "/sub/c.txt", "charlie", mode: 0o755, mtime: t0 + 2)
        try Disk.file(remote + "/sub/d.md", "delta", mtime: t0 + 3)
        try Disk.directory(remote + "/sub/deeper")
        try Disk.file(remote + "/sub/deeper/e.txt", "echo", mtime: t0 + 4)
        try SampleTree.setDirectoryTimes(remote)
        return remote
    }

    // MARK: Where files land

    @Test func singleFileLandsAsLocalName() async throws {
        let lab = try SyncLab()
        let remote = try Self.remoteTree(lab)
        let local = lab.path("dest")
        let report = try await lab.pull(remote + "/sub/c.txt", into: local)
        #expect(report.failures.isEmpty)
        #expect(report.filesReceived == 1)
        let got = try TreeSnapshot(local)
        #expect(got.paths == ["c.txt"])
        #expect(got["c.txt"]?.contents == Data("charlie".utf8))
        #expect(got["c.txt"]?.mode == 0o755)
        #expect(got["c.txt"]?.mtime == Self.t0 + 2)
    }

    /// A partial of an older version of a file being fetched (and its marker) goes; the
    /// partial of a file this pull does not fetch stays (another pull may resume it).
    @Test func partialsOfOlderVersionsAreRemovedOthersKept() async throws {
        let lab = try SyncLab()
        let remote = try Self.remoteTree(lab)
        let local = lab.path("dest")
        try Disk.directory(local)
        try Disk.directory(local + "/sub")
        let stale = TemporaryName.partial(for: "c.txt", size: 3, mtime: Self.t0 - 100)
        try Disk.file(local + "/sub/" + stale, "cha")
        try Disk.file(local + "/sub/" + stale + TemporaryName.offsetSuffix, "3")
        let unrelated = TemporaryName.partial(for: "z.bin", size: 10, mtime: Self.t0)
        try Disk.file(local + "/sub/" + unrelated, "0123456789")
        var options = PullOptions()
        options.include = ["c.txt"]
        let report = try await lab.pull(remote + "/sub", into: local + "/sub", options: options)
        #expect(report.failures.isEmpty)
        #expect(report.filesReceived == 1)
        #expect(!Disk.exists(local + "/sub/" + stale))
        #expect(!Disk.exists(local + "/sub/" + stale + TemporaryName.offsetSuffix))
        #expect(Disk.exists(local + "/sub/" + unrelated))
        #expect(try TreeSnapshot(local)["sub/c.txt"]?.contents == Data("charlie".utf8))
    }

    @Test func directoryContentsLandInLocal() async throws {
        let lab = try SyncLab()
        let remote = try Self.remoteTree(lab)
        let local = lab.path("dest")
        let report = try await lab.pull(remote, into: local)
        #expect(report.failures.isEmpty)
        #expect(report.filesReceived == 5)
        #expect(report.bytesReceived == 5 + 7 + 7 + 5 + 4)
        let diff = try TreeSnapshot(remote).differences(from: TreeSnapshot(local))
        #expect(diff.isEmpty, "\(diff)")
        #expect(!Disk.exists(local + "/tree"))
        #expect(try Disk.temporaries(under: local).isEmpty)
    }

    @Test func includeGlobsSelectFiles() async throws {
        let lab = try SyncLab()
        let remote = try Self.remoteTree(lab)

        var byName = PullOptions()
        byName.include = ["*.txt"]
        let names = lab.path("by-name")
        let first = try await lab.pull(remote, into: names, options: byName)
        #expect(first.failures.isEmpty)
        let gotNames = try TreeSnapshot(names)
        #expect(gotNames.nodes.values.filter(\.isFile).count == 3)
        for path in ["a.txt", "sub/c.txt", "sub/deeper/e.txt"] { #expect(gotNames[path]?.isFile == true, "\(path)") }
        for path in ["b.md", "sub/d.md"] { #expect(gotNames[path] == nil, "\(path)") }

        var byPath = PullOptions()
        byPath.include = ["sub/*.md"]
        let paths = lab.path("by-path")
        let second = try await lab.pull(remote, into: paths, options: byPath)
        #expect(second.failures.isEmpty)
        let gotPaths = try TreeSnapshot(paths)
        #expect(gotPaths.nodes.values.filter(\.isFile).map(\.contents) == [Data("delta".utf8)])
        #expect(gotPaths["sub/d.md"]?.mtime == Self.t0 + 3)
        #expect(gotPaths["sub/deeper"] == nil, "a directory without selected files was created")
    }

    @Test func identicalFilesAreSkipped() async throws {
        let lab = try SyncLab()
        let remote = try Self.remoteTree(lab)
        let local = lab.path("dest")
        _ = try await lab.pull(remote, into: local)
        let before = try TreeSnapshot(local)

        let again = try await lab.pull(remote, into: local)
        #expect(again.failures.isEmpty)
        #expect(again.filesUpToDate == 5)
        #expect(again.filesReceived == 0)
        #expect(again.bytesReceived == 0)
        #expect(before.differences(from: try TreeSnapshot(local)).isEmpty)

        // One remote file changes: only that one comes again.
        try Disk.file(remote + "/sub/d.md", "delta, edited", mtime: Self.t0 + 100)
        let third = try await lab.pull(remote, into: local)
        #expect(third.filesReceived == 1)
        #expect(third.filesUpToDate == 4)
        #expect(try Disk.read(local + "/sub/d.md") == Data("delta, edited".utf8))
    }

    // MARK: Resume

    @Test func cutDownloadResumes() async throws {
        let lab = try SyncLab()
        let remoteDirectory = try lab.makeDirectory("remote")
        let size = 40 << 20
        let content = Disk.random(size)
        try Disk.file(remoteDirectory + "/big.bin", content, mode: 0o640, mtime: Self.t0)
        let local = try lab.makeDirectory("dest")

        let proxy = try lab.makeProxy()
        defer { proxy.stop() }
        proxy.cutAfter(bytes: size / 2, direction: .down)
        var cutReport: PullReport?
        var cutError: Error?
        do {
            cutReport = try await lab.pull(remoteDirectory + "/big.bin", into: local, port: proxy.port)
        } catch {
            cutError = error
        }
        #expect(!proxy.isCutPending, "the proxy never cut the download")
        #expect(cutError != nil || cutReport?.failures.isEmpty == false, "a cut pull must not report success")
        #expect(!Disk.exists(local + "/big.bin"), "the real name appeared before the file was complete")
        let leftBehind = try Disk.names(in: local)
        #expect(leftBehind.filter { $0.hasSuffix(".part") }.count == 1, "local files: \(leftBehind)")

        let resumed = try await lab.pull(remoteDirectory + "/big.bin", into: local)
        #expect(resumed.failures.isEmpty, "\(resumed.failures)")
        #expect(resumed.filesReceived == 1)
        #expect(resumed.filesResumed == 1)
        #expect(resumed.bytesReceived < UInt64(size))
        #expect(try Disk.read(local + "/big.bin") == content)
        let node = try #require(try TreeSnapshot(local)["big.bin"])
        #expect(node.mode == 0o640 && node.mtime == Self.t0)
        #expect(try Disk.temporaries(under: local).isEmpty)
    }

    @Test func partialOfAnOlderVersionIsNotResumed() async throws {
        let lab = try SyncLab()
        let remoteDirectory = try lab.makeDirectory("remote")
        let size = 16 << 20
        try Disk.file(remoteDirectory + "/big.bin", Disk.random(size), mtime: Self.t0)
        let local = try lab.makeDirectory("dest")
        let proxy = try lab.makeProxy()
        defer { proxy.stop() }
        proxy.cutAfter(bytes: size / 2, direction: .down)
        _ = try? await lab.pull(remoteDirectory + "/big.bin", into: local, port: proxy.port)
        #expect(!proxy.isCutPending)
        #expect(try Disk.names(in: local).contains { $0.hasSuffix(".part") })

        // The remote file is replaced (same size, new mtime): the old partial must not be used.
        let newer = Disk.random(size)
        try Disk.file(remoteDirectory + "/big.bin", newer, mtime: Self.t0 + 10)
        let report = try await lab.pull(remoteDirectory + "/big.bin", into: local)
        #expect(report.failures.isEmpty, "\(report.failures)")
        #expect(report.filesResumed == 0)
        #expect(try Disk.read(local + "/big.bin") == newer)
        #expect(try Disk.temporaries(under: local).isEmpty, "stale partials left behind")
    }

    @Test func dryRunPullWritesNothing() async throws {
        let lab = try SyncLab()
        let remote = try Self.remoteTree(lab)
        let local = lab.path("dest")
        var options = PullOptions()
        options.dryRun = true
        let sink = LineSink()
        let report = try await lab.pull(remote, into: local, options: options, sink: sink)
        #expect(report.filesReceived == 0)
        #expect(sink.lines.filter { $0.hasPrefix("would fetch ") }.count == 5, "\(sink.lines)")
        #expect(!Disk.exists(local))
    }

    @Test
    func longNameDownloadResumes() async throws {
        let lab = try SyncLab()
        let remoteDirectory = try lab.makeDirectory("remote")
        let name = String(repeating: "n", count: 240) + ".bin"
        let size = 16 << 20
        let content = Disk.random(size)
        try Disk.file(remoteDirectory + "/" + name, content, mtime: Self.t0)
        let local = try lab.makeDirectory("dest")
        let proxy = try lab.makeProxy()
        defer { proxy.stop() }
        proxy.cutAfter(bytes: size / 2, direction: .down)
        _ = try? await lab.pull(remoteDirectory + "/" + name, into: local, port: proxy.port)
        #expect(!proxy.isCutPending)

        let report = try await lab.pull(remoteDirectory + "/" + name, into: local)
        #expect(report.failures.isEmpty, "\(report.failures)")
        #expect(report.filesResumed == 1)
        #expect(try Disk.read(local + "/" + name) == content)
    }

    @Test
    func longNamesWithACommonPrefixBothArrive() async throws {
        let lab = try SyncLab()
        let remote = try lab.makeDirectory("remote")
        let stem = String(repeating: "p", count: 210)
        try Disk.file(remote + "/" + stem + "-one.txt", "one", mtime: Self.t0)
        try Disk.file(remote + "/" + stem + "-two.txt", "two, another size", mtime: Self.t0)
        let local = lab.path("dest")
        let report = try await lab.pull(remote, into: local)
        #expect(report.failures.isEmpty, "\(report.failures)")
        #expect(try TreeSnapshot(remote).differences(from: TreeSnapshot(local)).isEmpty)
    }

    @Test
    func longNamesWithTheSamePartialNameDoNotMix() async throws {
        let lab = try SyncLab()
        let remote = try lab.makeDirectory("remote")
        // Same size and mtime, names equal in their first 235 bytes: the partial-download
        // names (truncated to fit 255 bytes) must still differ, or two fetches share a file.
        let stem = String(repeating: "q", count: 235)
        let first = Disk.random(3 << 20)
        let second = Disk.random(3 << 20)
        try Disk.file(remote + "/" + stem + "-first.bin", first, mtime: Self.t0)
        try Disk.file(remote + "/" + stem + "-second.bin", second, mtime: Self.t0)
        let local = lab.path("dest")
        let report = try? await lab.pull(remote, into: local)
        // Whatever was reported, a file present under its real name must be exact.
        for (name, data) in [(stem + "-first.bin", first), (stem + "-second.bin", second)] where Disk.exists(local + "/" + name) {
            #expect(try Disk.read(local + "/" + name) == data, "\(name.suffix(12)) holds the wrong bytes")
        }
        #expect(report?.failures.isEmpty == true, "\(report?.failures ?? [])")
        #expect(try TreeSnapshot(remote).differences(from: TreeSnapshot(local)).isEmpty)
    }

    // MARK: Never outside the target

    @Test func remoteSymlinkPointingOutsideIsNotFollowed() async throws {
        let lab = try SyncLab()
        let remote = try Self.remoteTree(lab)
        let outside = try lab.makeDirectory("outside")
        try Disk.file(outside + "/secret.txt", "outside content")
        try Disk.symlink(remote + "/escape", to: outside)
        try Disk.symlink(remote + "/sub/escape-file", to: outside + "/secret.txt")
        let local = lab.path("dest")

        let report = try await lab.pull(remote, into: local)
        #expect(report.failures.isEmpty, "\(report.failures)")
        let got = try TreeSnapshot(local)
        #expect(got["escape"]?.kind == .symlink(outside))
        #expect(got["sub/escape-file"]?.kind == .symlink(outside + "/secret.txt"))
        #expect(try Disk.names(in: outside) == ["secret.txt"])
        #expect(try Disk.read(outside + "/secret.txt") == Data("outside content".utf8))
    }

    @Test func localSymlinkNamedLikeARemoteDirectoryIsNotWrittenThrough() async throws {
        let lab = try SyncLab()
        let remote = try Self.remoteTree(lab)
        let outside = try lab.makeDirectory("outside")
        let local = try lab.makeDirectory("dest")
        try Disk.symlink(local + "/sub", to: outside)

        var thrown: Error?
        var report: PullReport?
        do { report = try await lab.pull(remote, into: local) } catch { thrown = error }
        #expect(thrown != nil || report?.failures.isEmpty == false, "pulling through a local symlink must fail")
        if let thrown { #expect("\(thrown)".contains("symlink"), "\(thrown)") }
        let written = try Disk.names(in: outside)
        #expect(written.isEmpty, "written outside the target: \(written)")
        #expect(Disk.lstatIfExists(local + "/sub").map { $0.st_mode & S_IFMT == S_IFLNK } == true)
    }

    @Test func localSymlinkAtAFileNameIsReplacedNotFollowed() async throws {
        let lab = try SyncLab()
        let remote = try Self.remoteTree(lab)
        let outside = try lab.makeDirectory("outside")
        try Disk.file(outside + "/victim.txt", "keep me")
        let local = try lab.makeDirectory("dest")
        try Disk.symlink(local + "/a.txt", to: outside + "/victim.txt")

        let report = try await lab.pull(remote, into: local)
        #expect(report.failures.isEmpty, "\(report.failures)")
        #expect(try Disk.read(outside + "/victim.txt") == Data("keep me".utf8))
        #expect(try TreeSnapshot(local)["a.txt"]?.contents == Data("alpha".utf8))
    }

    @Test func safePathRefusesTraversal() throws {
        for hostile in ["..", "../x", "a/../../x", "/etc/passwd", "/", "a/./b", "a//b"] {
            #expect(throws: SafePathError.self, "\(hostile)") { try SafePath.join(root: "/dst", relative: hostile) }
        }
        #expect(throws: SafePathError.self) { try SafePath.validateName("..") }
        #expect(throws: SafePathError.self) { try SafePath.validateName("a/b") }
        #expect(try SafePath.join(root: "/dst", relative: "..hidden/x..") == "/dst/..hidden/x..")
    }

    // MARK: Unicode

    @Test
    func nfcAndNfdFilesInOneDirectoryBothArrive() async throws {
        let lab = try SyncLab()
        let remote = try lab.makeDirectory("remote")
        try Disk.file(remote + "/" + SampleTree.nfc + ".txt", "NFC", mtime: Self.t0)
        try Disk.file(remote + "/" + SampleTree.nfd + ".txt", "NFD, other size", mtime: Self.t0)
        let local = lab.path("dest")
        let report = try await lab.pull(remote, into: local)
        #expect(report.failures.isEmpty, "\(report.failures)")
        #expect(try TreeSnapshot(remote).differences(from: TreeSnapshot(local)).isEmpty)
    }
}
