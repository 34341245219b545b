// Bad input: odd names (newlines, 255-byte names, quoting characters), 4,000-byte paths,
// 1,000 levels deep and deeper than PATH_MAX, a sparse file (256 MiB by default, 5 GiB under
// MUXSYNC_SOAK=1) with the CLI's peak memory measured, bad ssh_config lines, malformed
// known_hosts files, a corrupted state index, and bad command-line values.

import Foundation
import MuxSync
import MuxTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Trees deeper than PATH_MAX

/// Descriptor-relative helpers: paths longer than PATH_MAX cannot be named whole.
enum DeepTree {
    /// Creates `levels` nested directories named `name` under `root`, with `leaf.txt` at the bottom.
    static func make(root: String, levels: Int, name: String) throws {
        var fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw DiskError(path: root, what: "open", code: errno) }
        for level in 0..<levels {
            guard mkdirat(fd, name, 0o755) == 0 || errno == EEXIST else {
                close(fd)
                throw DiskError(path: "\(root)/(\(level) levels)", what: "mkdirat", code: errno)
            }
            let next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            close(fd)
            guard next >= 0 else { throw DiskError(path: "\(root)/(\(level) levels)", what: "openat", code: errno) }
            fd = next
        }
        let file = openat(fd, "leaf.txt", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        close(fd)
        guard file >= 0 else { throw DiskError(path: root, what: "create leaf", code: errno) }
        _ = write(file, "leaf", 4)
        close(file)
    }

    /// How many levels of `name` exist below `root` (following only real directories).
    static func depth(root: String, name: String) -> Int {
        var fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return 0 }
        var count = 0
        while true {
            let next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            close(fd)
            guard next >= 0 else { return count }
            fd = next
            count += 1
        }
    }

    /// rm -rf that works at any depth (descriptor-relative).
    static func remove(_ path: String) {
        let parent = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard parent >= 0 else { return }
        removeEntry(parent: parent, name: (path as NSString).lastPathComponent)
        close(parent)
    }

    private static func removeEntry(parent: Int32, name: String) {
        if unlinkat(parent, name, 0) == 0 { return }
        let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0, let dir = fdopendir(fd) else { return }
        var names: [String] = []
        while let entry = readdir(dir) {
            let child = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if child != "." && child != ".." { names.append(child) }
        }
        for child in names { removeEntry(parent: dirfd(dir), name: child) }
        closedir(dir)
        unlinkat(parent, name, AT_REMOVEDIR)
    }
}

/// True when two files hold the same bytes (read in 8 MiB pieces, so any size works).
func sameContent(_ a: String, _ b: String) throws -> Bool {
    guard let first = FileHandle(forReadingAtPath: a), let second = FileHandle(forReadingAtPath: b) else { return false }
    defer {
        try? first.close()
        try? second.close()
    }
    while true {
        let x = try first.read(upToCount: 8 << 20) ?? Data()
        let y = try second.read(upToCount: 8 << 20) ?? Data()
        if x != y { return false }
        if x.isEmpty { return true }
    }
}

// MARK: - Tests

@Suite(.serialized, .timeLimit(.minutes(20)))
struct FaultInputTests {
    static let t0: Int64 = 1_700_300_000

    /// The CLI ended by itself (no signal, no crash) with a non-zero status.
    static func expectCleanFailure(_ result: ProcessResult, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        switch result.termination {
        case .exited(let code):
            #expect(code != 0, "\(what): exit 0 for bad input; stderr: \(result.stderr)", sourceLocation: sourceLocation)
        case .signaled(let signal):
            Issue.record("\(what): killed by signal \(signal); stderr: \(result.stderr)", sourceLocation: sourceLocation)
        }
        #expect(!result.stderr.contains("Fatal error") && !result.stderr.contains("Stack dump"),
                "\(what): crashed: \(result.stderr)", sourceLocation: sourceLocation)
    }

    /// The first line of `text`, shortened, for the FAULT report lines.
    static func firstLine(_ text: String) -> String {
        String((text.split(separator: "\n").first ?? "").prefix(240))
    }

    // MARK: Names

    @Test func oddNamesSurviveAPushAndAPullByteExact() async throws {
        let lab = try SyncLab.faults()
        let local = try lab.makeDirectory("local")
        let names = [
            "line\nbreak.txt", "tab\there.txt", "carriage\rreturn", " leading space", "trailing space ",
            "back\\slash", "quotes \"double\" 'single'", "glob*?[x].txt", "-starts-with-dash", "#hash", "~tilde",
            "emoji 🎉.txt", "日本語のファイル名.txt", "semi;colon&amp|pipe$dollar`tick",
            String(repeating: "n", count: 255),                          // the longest ASCII name
            String(repeating: "é", count: 127) + "x",                   // 255 bytes of UTF-8
        ]
        for (index, name) in names.enumerated() {
            try Disk.file(local + "/" + name, "content \(index)", mtime: Self.t0)
        }
        try Disk.directory(local + "/dir\nwith newline")
        try Disk.file(local + "/dir\nwith newline/" + String(repeating: "m", count: 255), "deep long", mtime: Self.t0)
        let remote = lab.path("remote")
        let pushed = try await lab.push(local, to: remote)
        #expect(pushed.failures.isEmpty, "\(pushed.failures)")
        #expect(try TreeSnapshot(local).differences(from: TreeSnapshot(remote)).isEmpty)
        #expect(try Disk.temporaries(under: remote).isEmpty)
        let again = try await lab.push(local, to: remote)
        #expect(again.filesSent == 0, "a second push resent \(again.filesSent) files")

        let back = lab.path("back")
        let pulled = try await lab.pull(remote, into: back)
        #expect(pulled.failures.isEmpty, "\(pulled.failures)")
        #expect(try regularFiles(under: back) == regularFiles(under: local))
    }

    @Test func pathOf4000BytesRoundTrips() async throws {
        let lab = try SyncLab.faults()
        let local = try lab.makeDirectory("l")
        var relative = ""
        for level in 0..<15 { relative += (relative.isEmpty ? "" : "/") + String(repeating: Character("\(level % 10)"), count: 250) }
        relative += "/" + String(repeating: "f", count: 160)
        #expect(relative.utf8.count > 3900)
        try FileManager.default.createDirectory(atPath: local + "/" + (relative as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try Disk.file(local + "/" + relative, "far away", mtime: Self.t0)
        let remote = lab.path("r")
        #expect((remote + "/" + relative).utf8.count < 4096)
        let pushed = try await lab.push(local, to: remote)
        #expect(pushed.failures.isEmpty, "\(pushed.failures)")
        #expect(try Disk.read(remote + "/" + relative) == Data("far away".utf8))
        let back = lab.path("b")
        let pulled = try await lab.pull(remote, into: back)
        #expect(pulled.failures.isEmpty, "\(pulled.failures)")
        #expect(try Disk.read(back + "/" + relative) == Data("far away".utf8))
    }

    @Test func thousandLevelsDeepRoundTrips() async throws {
        let lab = try SyncLab.faults()
        let local = try lab.makeDirectory("local")
        try DeepTree.make(root: local, levels: 1000, name: "d")
        let remote = lab.path("remote")
        defer { DeepTree.remove(remote); DeepTree.remove(local); DeepTree.remove(lab.path("back")) }
        let pushed = try await lab.push(local, to: remote)
        #expect(pushed.failures.isEmpty, "\(pushed.failures)")
        #expect(DeepTree.depth(root: remote, name: "d") == 1000)
        let leaf = remote + String(repeating: "/d", count: 1000) + "/leaf.txt"
        #expect(try Disk.read(leaf) == Data("leaf".utf8))
        let pulled = try await lab.pull(remote, into: lab.path("back"))
        #expect(pulled.failures.isEmpty, "\(pulled.failures)")
        #expect(DeepTree.depth(root: lab.path("back"), name: "d") == 1000)
    }

    @Test func deeperThanPathMaxFailsClearlyWithoutACrash() throws {
        let lab = try SyncLab.faults()
        let local = try lab.makeDirectory("local")
        try Disk.file(local + "/shallow.txt", "shallow", mtime: Self.t0)
        try DeepTree.make(root: local, levels: 1000, name: "dddd")  // 5,000 bytes of path
        let remote = lab.path("remote")
        defer { DeepTree.remove(remote); DeepTree.remove(local) }
        let result = try lab.runCLI(["push", "-F", lab.server.sshConfigPath, local, SSHDServer.hostAlias + ":" + remote])
        Self.expectCleanFailure(result, "push of a tree deeper than PATH_MAX")
        #expect(result.stderr.contains("too long"), "the cause (name too long) must be said: \(result.stderr.suffix(2000))")
        #expect(try Disk.read(remote + "/shallow.txt") == Data("shallow".utf8), "what fits still arrives")
        let lines: [String] = result.stderr.split(separator: "\n").map { line -> String in
            line.count > 160 ? String(line.prefix(160)) + "..." : String(line)
        }
        let depth = DeepTree.depth(root: remote, name: "dddd")
        let head = lines.prefix(4).joined(separator: "\n")
        let tail = lines.suffix(3).joined(separator: "\n")
        print("FAULT deeper than PATH_MAX: \(result.termination), depth reached \(depth), \(lines.count) stderr lines:\n\(head)\n...\n\(tail)")
    }

    // MARK: A sparse file

    /// Holes travel as holes: the push skips the local holes (SEEK_DATA) and sets the size, the
    /// pull leaves all-zero blocks unwritten; both copies stay sparse and byte-equal.
    @Test func sparseFileGoesThroughWithBoundedMemoryAndStaysSparse() async throws {
        let size: Int64 = FaultEnvironment.soak ? 5 << 30 : 256 << 20
        let lab = try SyncLab.faults()
        let local = try lab.makeDirectory("local")
        let path = local + "/sparse.img"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        #expect(fd >= 0)
        #expect(ftruncate(fd, off_t(size)) == 0)
        var random = SeededGenerator(seed: 77)
        for island in 0..<8 {  // a few islands of data among the holes
            let data = random.data(100_000)
            let offset = off_t(Int64(island) * (size / 8) + 12_345)
            _ = data.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, offset) }
        }
        close(fd)
        let remote = lab.path("remote")
        defer { try? Disk.remove(remote) }
        let rssFile = lab.path("rss.txt")
        let environment = try lab.cliEnvironment()
        let result = try ProcessRunner.run("/usr/bin/time", ["-f", "%M", "-o", rssFile, SyncLab.muxsyncBinary, "push", "-F",
                                                             lab.server.sshConfigPath, local, SSHDServer.hostAlias + ":" + remote],
                                           environment: environment, timeout: FaultEnvironment.soak ? 3600 : 600)
        #expect(result.termination == .exited(0), "stderr: \(result.stderr)")
        let peakKiB = Int((try String(contentsOfFile: rssFile, encoding: .utf8)).split(separator: "\n").last ?? "") ?? -1
        #expect(peakKiB > 0 && peakKiB < 400_000, "peak RSS \(peakKiB) KiB for a \(size >> 20) MiB file")
        #expect(try sameContent(path, remote + "/sparse.img"))
        // 800 KB of data: allow some slack for file-system blocks around each island.
        let remoteAllocated = Disk.allocatedBytes(remote + "/sparse.img")
        #expect(remoteAllocated >= 0 && remoteAllocated < 16 << 20,
                "the remote copy of a \(size >> 20) MiB file with 800 KB of data takes \(remoteAllocated) bytes")

        let back = lab.path("back")
        defer { try? Disk.remove(back) }
        let pulled = try await lab.pull(remote, into: back)
        #expect(pulled.failures.isEmpty, "\(pulled.failures)")
        #expect(try sameContent(path, back + "/sparse.img"))
        let localAllocated = Disk.allocatedBytes(back + "/sparse.img")
        #expect(localAllocated >= 0 && localAllocated < 16 << 20,
                "the pulled copy of a \(size >> 20) MiB file with 800 KB of data takes \(localAllocated) bytes")
        print("FAULT sparse \(size >> 20) MiB: peak RSS \(peakKiB / 1024) MiB; allocated: local \(Disk.allocatedBytes(path) >> 10) KiB, "
              + "remote \(remoteAllocated >> 10) KiB, pulled back \(localAllocated >> 10) KiB; \(result.stderr.split(separator: "\n").last ?? "")")
    }

    // MARK: ssh_config and known_hosts

    @Test(arguments: [
        ("Port notaport", "line 3"),
        ("Port 99999", "line 3: Port '99999' is out of range"),
        ("IdentitiesOnly maybe", "line 3"),
        ("Include /nonexistent/dir/*.conf\nHostName \"unterminated", "line 4"),
    ])
    func badSSHConfigLineIsNamedByFileAndLine(line: String, expected: String) throws {
        let lab = try SyncLab.faults()
        let local = try lab.makeDirectory("local")
        try Disk.file(local + "/a.txt", "a")
        let config = lab.path("bad_ssh_config")
        try Disk.file(config, "Host \(SSHDServer.hostAlias)\n  HostName 127.0.0.1\n  \(line)\n")
        let result = try lab.runCLI(["push", "-F", config, local, SSHDServer.hostAlias + ":" + lab.path("remote")])
        Self.expectCleanFailure(result, "bad ssh_config line \(line.debugDescription)")
        #expect(result.stderr.contains(config) && result.stderr.contains(expected), "stderr: \(result.stderr)")
        #expect(!Disk.exists(lab.path("remote")))
        print("FAULT ssh_config \(line.debugDescription): \(result.termination): \(Self.firstLine(result.stderr))")
    }

    /// ssh_config of the lab with another known_hosts file.
    static func config(_ lab: SyncLab, knownHosts text: String, name: String) throws -> String {
        let knownHosts = lab.path(name + "_known_hosts")
        try Disk.file(knownHosts, text)
        let config = lab.path(name + "_ssh_config")
        try Disk.file(config, try String(contentsOfFile: lab.server.sshConfigPath, encoding: .utf8)
            .replacingOccurrences(of: lab.server.knownHostsPath, with: knownHosts))
        return config
    }

    static let garbageLines = [
        "this is not a known_hosts line", "[127.0.0.1]:22 ssh-ed25519", "ssh-ed25519 AAAA", "\u{1}\u{2}\u{3} binary junk",
        "[127.0.0.1]:1 ssh-ed25519 !!!notbase64!!!", "|1|garbage|hash ssh-ed25519 AAAAC3NzaC1lZDI1NTE5",
        String(repeating: "x", count: 10_000), "@cert-authority", "@revoked", "   ", "#comment",
    ]

    @Test func malformedKnownHostsStillMatchesTheGoodLine() throws {
        let lab = try SyncLab.faults()
        let local = try lab.makeDirectory("local")
        try Disk.file(local + "/a.txt", "a")
        let good = try String(contentsOfFile: lab.server.knownHostsPath, encoding: .utf8)
        let mixed = Self.garbageLines.prefix(6).joined(separator: "\n") + "\n" + good + Self.garbageLines.suffix(5).joined(separator: "\n")
        let config = try Self.config(lab, knownHosts: mixed, name: "mixed")
        let result = try lab.runCLI(["push", "-F", config, local, SSHDServer.hostAlias + ":" + lab.path("remote")])
        #expect(result.termination == .exited(0), "stderr: \(result.stderr)")
        #expect(try Disk.read(lab.path("remote") + "/a.txt") == Data("a".utf8))

        let onlyGarbage = try Self.config(lab, knownHosts: Self.garbageLines.joined(separator: "\n"), name: "garbage")
        let refused = try lab.runCLI(["push", "-F", onlyGarbage, local, SSHDServer.hostAlias + ":" + lab.path("remote2")])
        Self.expectCleanFailure(refused, "known_hosts of garbage only")
        #expect(refused.stderr.contains("not a known host"), "stderr: \(refused.stderr)")
        #expect(!Disk.exists(lab.path("remote2")))
    }

    // MARK: The state index

    @Test func corruptedStateIndexWarnsAndSendsInFull() throws {
        let lab = try SyncLab.faults()
        let local = try lab.makeDirectory("local")
        var random = SeededGenerator(seed: 5)
        var content = random.data(400_000)
        try Disk.file(local + "/model.bin", content, mtime: Self.t0)
        let push = { try lab.runCLI(["push", "-v", "-F", lab.server.sshConfigPath, local, SSHDServer.hostAlias + ":" + lab.path("remote")]) }
        #expect(try push().termination == .exited(0))

        let stateRoot = lab.path("home/state/muxsync")
        let indexes = (FileManager.default.enumerator(atPath: stateRoot)?.allObjects as? [String] ?? []).filter { $0.hasSuffix("index") }
        try #require(indexes.count == 1, "state files: \(indexes)")
        let index = stateRoot + "/" + indexes[0]
        for (round, damage) in ["garbage", "flip", "truncate"].enumerated() {
            var bytes = try Disk.read(index)
            switch damage {
            case "garbage": bytes = Data("definitely not an index".utf8)
            case "flip": bytes[bytes.count / 2] ^= 0xFF
            default: bytes = bytes.prefix(bytes.count / 2)
            }
            try Disk.file(index, bytes, mode: 0o600)
            content.replaceSubrange(1000..<1100, with: random.data(100))
            try Disk.file(local + "/model.bin", content, mtime: Self.t0 + Int64(round + 1))
            let result = try push()
            #expect(result.termination == .exited(0), "\(damage): stderr: \(result.stderr)")
            #expect(result.stderr.contains("warning:") && result.stderr.contains("state index"), "\(damage): \(result.stderr)")
            #expect(!result.stderr.contains("as deltas"), "\(damage): a damaged index must not be used for a delta")
            #expect(try Disk.read(lab.path("remote") + "/model.bin") == content)
        }
    }

    // MARK: Command-line values

    @Test func badCommandLineValuesAreRefusedClearly() throws {
        let lab = try SyncLab.faults()
        let local = try lab.makeDirectory("local")
        try Disk.file(local + "/a.txt", "a")
        let destination = SSHDServer.hostAlias + ":" + lab.path("remote")
        let config = lab.server.sshConfigPath
        let cases: [([String], String)] = [
            (["push", "--channels", "0", "-F", config, local, destination], "--channels"),
            (["push", "--channels", "17", "-F", config, local, destination], "--channels"),
            (["push", "--channels", "many", "-F", config, local, destination], "channels"),
            (["push", "--max-delete", "-1", "-F", config, local, destination], "--max-delete must be 0 or more (got -1)"),
            (["push", "--channels", "-2", "-F", config, local, destination], "--channels must be between 1 and 16 (got -2)"),
            (["push", "--frobnicate", "-F", config, local, destination], "frobnicate"),
            (["push", "-F", config, local, SSHDServer.hostAlias + ":"], "no remote path"),
            (["push", "-F", config, local, ":" + lab.path("remote")], "destination"),
            (["push", "-F", config, lab.path("no-such-dir"), destination], "does not exist"),
            (["pull", "-F", config, SSHDServer.hostAlias + ":", lab.path("dest")], "path"),
            (["push", "-F", lab.path("no-such-config"), local, destination], "no-such-config"),
            (["nonsense-command"], "nonsense-command"),
            (["push", "-F", config, local, "no-such-host-xyz.invalid:/tmp/x"], "no-such-host-xyz.invalid"),
        ]
        for (arguments, expected) in cases {
            let result = try lab.runCLI(arguments, timeout: 60)
            let shown = arguments.joined(separator: " ")
            Self.expectCleanFailure(result, shown)
            #expect(result.stderr.contains(expected), "\(shown): stderr must mention \(expected.debugDescription): \(result.stderr)")
            print("FAULT cli \(arguments.prefix(3).joined(separator: " ")): \(result.termination): \(Self.firstLine(result.stderr))")
        }
        #expect(!Disk.exists(lab.path("remote")), "a refused command wrote to the remote")
    }
}
