// Local faults: a file rewritten, truncated or replaced while push reads it; files and
// directories the user cannot read (the CLI run as user nobody through setpriv, since root
// reads everything); FIFOs, sockets and device files; symlink loops; a tree that changes
// while it is scanned.

import Foundation
import MuxSync
import MuxTestSupport
import MuxTransport
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - A background writer

/// A thread that keeps changing one file until stopped; every version it writes is a run of
/// one byte value, so any mix of two versions is visible.
final class HotFile: @unchecked Sendable {
    enum Style: String, CaseIterable, Sendable {
        /// truncate to 0, then write the new version (in place)
        case rewrite
        /// alternate the full version and a truncated half
        case truncate
        /// unlink and create a new file (a new inode) each time
        case replace
    }

    let path: String
    let size: Int
    let style: Style
    private let lock = NSLock()
    private var stopped = false
    private var rounds = 0
    private let done = DispatchSemaphore(value: 0)

    init(path: String, size: Int, style: Style) {
        self.path = path
        self.size = size
        self.style = style
    }

    /// True for a content the file really held at some instant: one byte value, at most
    /// `size` bytes. A shorter run is a prefix of a version being written; if it stayed put
    /// while muxsync read it (the writer thread descheduled mid-write on a busy machine), it
    /// is a consistent snapshot. Two byte values would be a torn mix of two versions.
    func isSnapshot(_ data: Data) -> Bool {
        guard let first = data.first else { return true }
        return data.count <= size && data.allSatisfy { $0 == first }
    }

    func start() {
        let thread = Thread { [self] in
            var value = 1
            while !isStopped {
                value = value % 8 + 1
                let content = Data(repeating: UInt8(value), count: style == .truncate && value % 2 == 0 ? size / 2 : size)
                switch style {
                case .rewrite, .truncate:
                    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
                    if fd >= 0 {
                        content.withUnsafeBytes { _ = write(fd, $0.baseAddress, $0.count) }
                        close(fd)
                    }
                case .replace:
                    unlink(path)
                    try? Disk.file(path, content)
                }
                lock.lock()
                rounds += 1
                lock.unlock()
            }
            done.signal()
        }
        thread.start()
    }

    private var isStopped: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopped
    }

    /// Stops the thread and returns how many versions it wrote.
    func stop() -> Int {
        lock.lock()
        stopped = true
        lock.unlock()
        done.wait()
        lock.lock()
        defer { lock.unlock() }
        return rounds
    }
}

// MARK: - Tests

@Suite(.serialized, .timeLimit(.minutes(10)))
struct FaultLocalTests {
    static let t0: Int64 = 1_700_200_000
    #if canImport(Darwin)
    static let nullDevice = dev_t((3 << 24) | 2)
    #else
    static let nullDevice = dev_t((1 << 8) | 3)  // makedev(1, 3): /dev/null
    #endif

    /// Pushes while a HotFile changes `hot-large.bin` (3 MiB, striped) and `hot-small.bin`
    /// (64 KiB, one batch): each remote file must always be a snapshot the file really held
    /// (never a mix of two versions); a failure must say the file kept changing; once calm,
    /// a push sends the final version.
    /// `useState: false` keeps every push on the whole-file path; true lets the second and
    /// later pushes take the delta path (the files are above the 64 KiB delta threshold).
    static func pushWhileChanging(style: HotFile.Style, useState: Bool) async throws {
        let lab = try SyncLab.faults()
        let local = try lab.makeDirectory("local")
        let remote = lab.path("remote")
        var options = PushOptions()
        options.useState = useState
        try Disk.file(local + "/calm.txt", "calm", mtime: Self.t0)
        for (name, size) in [("hot-large.bin", 3 << 20), ("hot-small.bin", 64 << 10)] {
            let hot = HotFile(path: local + "/" + name, size: size, style: style)
            try Disk.file(hot.path, Data(repeating: 1, count: size))
            _ = try await lab.push(local, to: remote, options: options)
            hot.start()
            var outcomes: [String] = []
            for attempt in 0..<4 {
                let report = try await lab.push(local, to: remote, options: options)
                let failure = report.failures.first { $0.contains(name) }
                if let failure {
                    #expect(failure.contains("kept changing") || failure.contains("no longer") || failure.contains("No such file"),
                            "\(style) \(name): unexpected failure: \(failure)")
                    outcomes.append("failed")
                } else {
                    outcomes.append("sent")
                }
                if let got = try? Disk.read(remote + "/" + name), !hot.isSnapshot(got) {
                    let values = Set(got).sorted()
                    Issue.record("\(style) \(name), push \(attempt): TORN: remote holds \(got.count) bytes mixing byte values \(values)")
                }
                #expect(try Disk.temporaries(under: remote).isEmpty)
            }
            let written = hot.stop()
            // Once it is calm, the next push sends the final version, without a (false) conflict.
            // A fresh mtime second: push compares size + whole-second mtime (as documented), and
            // the writer's last version may share both with the one on the remote.
            try Disk.setMtime(hot.path, Self.t0 + 3600)
            let final = try Disk.read(hot.path)
            let calm = try await lab.push(local, to: remote, options: options)
            #expect(calm.failures.isEmpty, "\(calm.failures)")
            #expect(try Disk.read(remote + "/" + name) == final)
            print("FAULT hot file \(style) \(name) (state \(useState)): \(written) versions written, pushes: \(outcomes)")
        }
        #expect(try Disk.read(remote + "/calm.txt") == Data("calm".utf8))
    }

    @Test(arguments: HotFile.Style.allCases)
    func fileChangingWhileReadIsSentWholeOrReportedNeverTorn(style: HotFile.Style) async throws {
        try await Self.pushWhileChanging(style: style, useState: false)
    }

    @Test(arguments: HotFile.Style.allCases)
    func fileChangingWhileReadThroughTheDeltaPath(style: HotFile.Style) async throws {
        try await Self.pushWhileChanging(style: style, useState: true)
    }

    /// Deterministic reproduction of the delta-path bug: a file that grows during the push.
    @Test
    func deltaPushOfAGrowingFileLeavesTheRemoteAlone() async throws {
        let lab = try SyncLab.faults()
        let local = try lab.makeDirectory("local")
        let remote = lab.path("remote")
        let path = local + "/log.bin"
        let original = Disk.random(2 << 20)
        try Disk.file(path, original, mtime: Self.t0)
        #expect(try await lab.push(local, to: remote).failures.isEmpty)

        // An appender: 4 KiB every millisecond for as long as the push runs.
        let stop = Locked(false)
        let appender = Thread {
            let fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
            defer { close(fd) }
            let chunk = [UInt8](repeating: 0x41, count: 4096)
            while !stop.withLock({ $0 }) {
                _ = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                usleep(1000)
            }
        }
        appender.start()
        let during = try await lab.push(local, to: remote)
        stop.withLock { $0 = true }
        while !appender.isFinished { try await Task.sleep(for: .milliseconds(5)) }
        if let failure = during.failures.first {
            #expect(failure.contains("kept changing"), "\(failure)")
            #expect(try Disk.read(remote + "/log.bin") == original, "a push that failed replaced the remote file")
        }
        let after = try await lab.push(local, to: remote)
        #expect(after.failures.isEmpty && after.conflicts == 0, "\(after.failures)")
        #expect(try Disk.read(remote + "/log.bin") == Disk.read(path))
    }

    // MARK: Unreadable

    @Test(.enabled(if: FaultUsers.canRunAsNobody, "needs root and setpriv to run the CLI as nobody"))
    func unreadableEntriesAreSkippedWithWarningsAndNeverDeleted() throws {
        let lab = try SyncLab.faults()
        let local = try lab.makeDirectory("local")
        try Disk.file(local + "/ok.txt", "readable", mtime: Self.t0)
        try Disk.file(local + "/secret.txt", "no read bit", mode: 0o000, mtime: Self.t0)
        try Disk.directory(local + "/private")
        try Disk.file(local + "/private/inside.txt", "behind a closed door", mtime: Self.t0)
        try Disk.directory(local + "/listable")
        try Disk.file(local + "/listable/x.txt", "x", mtime: Self.t0)
        try FaultUsers.giveToNobody(local)
        #expect(chmod(local + "/private", 0o000) == 0)
        #expect(chmod(local + "/listable", 0o644) == 0)  // readable, not searchable

        // The remote already holds copies of what nobody cannot read: --delete must keep them.
        let remote = try lab.makeDirectory("remote")
        try Disk.file(remote + "/secret.txt", "remote copy", mtime: Self.t0)
        try Disk.directory(remote + "/private")
        try Disk.file(remote + "/private/inside.txt", "remote copy", mtime: Self.t0)
        try Disk.directory(remote + "/listable")
        try Disk.file(remote + "/listable/x.txt", "remote copy", mtime: Self.t0)

        let home = try lab.nobodyHome()
        let result = try lab.runCLIAsNobody(["push", "-F", home + "/ssh_config", "--delete", local,
                                             SSHDServer.hostAlias + ":" + remote])
        let output = result.stderr
        #expect(result.termination == .exited(0) || result.termination == .exited(1), "crashed? \(result.termination): \(output)")
        #expect(output.contains("secret.txt"), "no warning about the unreadable file: \(output)")
        #expect(output.contains("private"), "no warning about the unreadable directory: \(output)")
        #expect(output.contains("listable"), "no warning about the unsearchable directory: \(output)")
        #expect(try Disk.read(remote + "/ok.txt") == Data("readable".utf8))
        #expect(try Disk.read(remote + "/secret.txt") == Data("remote copy".utf8))
        #expect(try Disk.read(remote + "/private/inside.txt") == Data("remote copy".utf8))
        #expect(try Disk.read(remote + "/listable/x.txt") == Data("remote copy".utf8))
        #expect(try Disk.temporaries(under: remote).isEmpty)
        print("FAULT unreadable (as nobody): exit \(result.termination)\n\(output)")
    }

    // MARK: Special files

    @Test func fifosSocketsAndDevicesAreSkippedWithWarnings() async throws {
        let lab = try SyncLab.faults()
        let local = try lab.makeDirectory("local")
        try Disk.file(local + "/normal.txt", "normal", mtime: Self.t0)
        try Disk.fifo(local + "/pipe")
        let socketPath = local + "/sock"
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #expect(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in socketPath.utf8.prefix(raw.count - 1).enumerated() { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0, "bind: \(errno)")
        let haveDevice = geteuid() == 0 && mknod(local + "/nulldev", S_IFCHR | 0o666, Self.nullDevice) == 0

        let report = try await lab.push(local, to: lab.path("remote"))
        #expect(report.failures.isEmpty, "\(report.failures)")
        let warnings = report.warnings.joined(separator: "\n")
        #expect(warnings.contains("FIFO pipe"), "\(warnings)")
        #expect(warnings.contains("socket sock"), "\(warnings)")
        if haveDevice { #expect(warnings.contains("character device nulldev"), "\(warnings)") }
        #expect(try Disk.names(in: lab.path("remote")) == ["normal.txt"])

        // A FIFO on the remote side does not hang a pull either.
        try Disk.fifo(lab.path("remote") + "/remote-pipe")
        let pulled = try await lab.pull(lab.path("remote"), into: lab.path("dest"))
        #expect(try Disk.read(lab.path("dest") + "/normal.txt") == Data("normal".utf8))
        #expect(!Disk.exists(lab.path("dest") + "/remote-pipe"))
        print("FAULT special files: warnings \(report.warnings), pull \(pulled.warnings) \(pulled.failures)")
    }

    // MARK: Symlink loops

    @Test func symlinkLoopsAreCarriedAsLinksNotFollowed() async throws {
        let lab = try SyncLab.faults()
        let local = try lab.makeDirectory("local")
        try Disk.file(local + "/real.txt", "real", mtime: Self.t0)
        try Disk.symlink(local + "/a", to: "b")
        try Disk.symlink(local + "/b", to: "a")
        try Disk.symlink(local + "/self", to: "self")
        try Disk.directory(local + "/dir")
        try Disk.symlink(local + "/dir/up", to: "..")
        try Disk.symlink(local + "/dir/here", to: ".")
        let remote = lab.path("remote")
        let report = try await lab.push(local, to: remote)
        #expect(report.failures.isEmpty, "\(report.failures)")
        let got = try TreeSnapshot(remote)
        #expect(got["a"]?.kind == .symlink("b"))
        #expect(got["self"]?.kind == .symlink("self"))
        #expect(got["dir/up"]?.kind == .symlink(".."))
        #expect(got.nodes.count == 7, "\(got.paths)")

        let back = lab.path("back")
        let pulled = try await lab.pull(remote, into: back)
        #expect(pulled.failures.isEmpty, "\(pulled.failures)")
        #expect(try TreeSnapshot(back)["dir/here"]?.kind == .symlink("."))
    }

    // MARK: A tree changing during the scan

    @Test func treeChangingDuringThePushConvergesOnTheNextPush() async throws {
        let lab = try SyncLab.faults()
        let local = try lab.makeDirectory("local")
        var random = SeededGenerator(seed: FaultEnvironment.seed(0xC0FF_EE04))
        let tree = FaultTree.generate(count: 300, random: &random)
        try tree.write(to: local, mtime: Self.t0)
        let remote = lab.path("remote")
        var options = PushOptions()
        options.delete = true

        // A churner: creates, renames and deletes files and whole directories in a loop.
        let stop = Locked(false)
        let churner = Thread {
            var round = 0
            while !stop.withLock({ $0 }) {
                round += 1
                let directory = local + "/churn\(round % 5)"
                try? FileManager.default.createDirectory(atPath: directory + "/deep", withIntermediateDirectories: true)
                try? Disk.file(directory + "/deep/f\(round).txt", "round \(round)")
                _ = rename(directory, local + "/moved\(round % 5)")
                try? Disk.remove(local + "/moved\((round + 2) % 5)")
                try? Disk.file(local + "/d1/s1/hot\(round % 3).txt", String(repeating: "x", count: round % 997))
                unlink(local + "/d1/s1/hot\((round + 1) % 3).txt")
            }
        }
        churner.start()
        var outcomes: [String] = []
        for _ in 0..<3 {
            do {
                let report = try await lab.push(local, to: remote, options: options)
                outcomes.append("failures \(report.failures.count), warnings \(report.warnings.count)")
            } catch {
                outcomes.append("error: \(error)")
                #expect(!"\(error)".isEmpty)
            }
        }
        stop.withLock { $0 = true }
        while !churner.isFinished { try await Task.sleep(for: .milliseconds(10)) }

        let calm = try await lab.push(local, to: remote, options: options)
        #expect(calm.failures.isEmpty, "\(calm.failures)")
        #expect(try regularFiles(under: remote) == regularFiles(under: local))
        #expect(try Disk.temporaries(under: remote).isEmpty)
        print("FAULT churn during push: \(outcomes)")
    }
}
