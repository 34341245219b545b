// FaultLab: what the fault and abuse suites (Fault*Tests.swift) add to SyncLab: seeded
// randomness, generated trees with old/new versions, a target with fast keepalives, mounts
// (tmpfs, read-only) and chattr for remote faults, running the CLI as user nobody, and a
// watch engine driven from a test. Nothing here asserts; the suites do.
//
// Soak: MUXSYNC_SOAK=1 raises the counts (50 cuts instead of 8, ...) and turns on the
// slow cases (a sparse 5 GB file); bench/soak.sh runs the suites that way.

import Foundation
import Logging
import MuxSync
import MuxTestSupport
import MuxTransport
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Soak switch

enum FaultEnvironment {
    /// True when MUXSYNC_SOAK=1 (bench/soak.sh).
    static var soak: Bool { ProcessInfo.processInfo.environment["MUXSYNC_SOAK"] == "1" }

    /// `quick` in the default suite, `slow` under MUXSYNC_SOAK=1.
    static func count(_ quick: Int, soak slow: Int) -> Int { soak ? slow : quick }

    /// MUXSYNC_FAULT_SEED overrides the seeds (to replay a soak failure); else `fallback`.
    static func seed(_ fallback: UInt64) -> UInt64 {
        ProcessInfo.processInfo.environment["MUXSYNC_FAULT_SEED"].flatMap { UInt64($0) } ?? fallback
    }
}

// MARK: - Generated trees

/// A tree of files kept in memory too, so that every remote file can be checked against
/// the version(s) it may legitimately hold.
struct FaultTree {
    /// Relative path -> content.
    var files: [String: Data] = [:]

    /// `count` files in nested directories: mostly small (the one-round-trip path), some
    /// medium (several writes), and every 50th 1-2 MiB (the striped path, and delta later).
    static func generate(count: Int, random: inout SeededGenerator) -> FaultTree {
        var tree = FaultTree()
        for index in 0..<count {
            let directory = "d\(index % 7)/s\(index % 3)"
            let size: Int
            if index % 50 == 0 {
                size = (1 << 20) + Int(random.next() % UInt64(1 << 20))
            } else if index % 10 == 0 {
                size = 64_000 + Int(random.next() % 200_000)
            } else {
                size = 200 + Int(random.next() % 12_000)
            }
            tree.files["\(directory)/f\(index).bin"] = random.data(size)
        }
        return tree
    }

    /// What the pull fault tests fetch: `big-a.bin` and `big-b.bin` of `bigA` and `bigB` bytes
    /// (large enough for resume markers and a cut or a kill mid-file), and `small` files of
    /// 1-61 kB under small/.
    static func bigAndSmall(bigA: Int, bigB: Int, small: Int, random: inout SeededGenerator) -> FaultTree {
        var files: [String: Data] = ["big-a.bin": random.data(bigA), "big-b.bin": random.data(bigB)]
        for index in 0..<small { files["small/s\(index).dat"] = random.data(1_000 + Int(random.next() % 60_000)) }
        return FaultTree(files: files)
    }

    /// Writes every file under `root` (creating directories).
    func write(to root: String, mtime: Int64) throws {
        for (path, data) in files {
            try Self.writeFile(path, data, under: root, mtime: mtime)
        }
    }

    /// Turns `root`, which holds `old`, into this tree, as an editor would: removes the files
    /// `old` has and this tree lacks (unless `removing` is false), then writes the new and the
    /// changed ones (mtime `mtime`, or now). Returns the bytes written.
    @discardableResult
    func write(to root: String, over old: FaultTree, mtime: Int64? = nil, removing: Bool = true) throws -> Int {
        if removing {
            for path in old.files.keys where files[path] == nil { unlink(root + "/" + path) }
        }
        var written = 0
        for (path, data) in files where old.files[path] != data {
            try Self.writeFile(path, data, under: root, mtime: mtime)
            written += data.count
        }
        return written
    }

    /// Writes `root/path`, creating its directories.
    private static func writeFile(_ path: String, _ data: Data, under root: String, mtime: Int64?) throws {
        let full = root + "/" + path
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try Disk.file(full, data, mtime: mtime)
    }

    /// A new version: about `fraction` of the files rewritten (some grown, some shrunk),
    /// a few removed and a few created.
    /// `sameSizeEdits: false` gives every rewritten file another size (see the watch bug of
    /// same-size edits within one second in FaultNetworkTests).
    func mutated(random: inout SeededGenerator, fraction: Double, round: Int, sameSizeEdits: Bool = true) -> FaultTree {
        var next = self
        for path in files.keys.sorted() {
            let roll = Double(random.next() % 10_000) / 10_000
            if roll < fraction {
                let old = files[path] ?? Data()
                var size = max(1, old.count + Int(random.next() % 8192) - 4096)
                if old.count > 1 << 20, roll < fraction / 2, sameSizeEdits {
                    size = old.count  // large and same size: the delta path rebuilds it
                }
                if size == old.count && !sameSizeEdits { size += 1 }
                next.files[path] = random.data(size)
            } else if roll < fraction + 0.01 {
                next.files.removeValue(forKey: path)
            }
        }
        for extra in 0..<5 {
            next.files["new/r\(round)/n\(extra).bin"] = random.data(100 + Int(random.next() % 30_000))
        }
        return next
    }

    var totalBytes: Int { files.values.reduce(0) { $0 + $1.count } }
}

/// Rough content fingerprint for messages (FNV-1a 64).
/// Checks that every file of `old` and `new` under `remote` is absent (only if new or
/// deleted), the complete old or the complete new version; records an issue for each that
/// is not. `context` starts each message (round, cut point, seed). Returns what was found.
@discardableResult
func expectOldOrNew(under remote: String, old: FaultTree, new: FaultTree, context: String) throws -> [String: Data] {
    let found = try regularFiles(under: remote)
    for path in Set(old.files.keys).union(new.files.keys).sorted() {
        let before = old.files[path]
        let after = new.files[path]
        guard let got = found[path] else {
            #expect(before == nil || after == nil, "\(context): \(path) vanished")
            continue
        }
        if got != before && got != after {
            let message = "\(context): \(path) holds \(got.count) bytes (\(fingerprint(got))), "
                + "neither old (\(before?.count ?? -1)) nor new (\(after?.count ?? -1))"
            Issue.record(Comment(rawValue: message))
        }
    }
    return found
}

/// What an interrupted pull left in `local`: complete bytes under real names, the bytes
/// its resume markers promise, and how many markers promise some. Records an issue for
/// every file under a real name that is not exactly the expected one (`context` starts
/// the message); partials and markers (`.muxsync.*`) are counted, not checked.
func pullLeftovers(in local: String, expected files: [String: Data], context: String) throws
    -> (completeBytes: Int, resumeOffsets: UInt64, markers: Int) {
    var result = (completeBytes: 0, resumeOffsets: UInt64(0), markers: 0)
    guard Disk.exists(local) else { return result }
    for (key, node) in try TreeSnapshot(local).nodes where node.isFile {
        let path = key.string
        let name = path.split(separator: "/").last.map(String.init) ?? path
        if name.hasPrefix(".muxsync.") {
            if name.hasSuffix(".offset") {
                let offset = FaultNetworkTests.markerOffset(local + "/" + path)
                result.resumeOffsets += offset
                if offset > 0 { result.markers += 1 }
            }
            continue
        }
        guard let expected = files[path] else {
            Issue.record("\(context): unexpected local file \(path)")
            continue
        }
        if node.contents != expected {
            Issue.record(Comment(rawValue: "\(context): \(path) is under its real name with \(node.contents?.count ?? 0) "
                                 + "of \(expected.count) bytes"))
        }
        result.completeBytes += expected.count
    }
    return result
}

func fingerprint(_ data: Data) -> String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in data { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
    return String(hash, radix: 16)
}

// MARK: - The lab

extension SyncLab {
    /// A lab whose sshd serves SFTP in-process (`ForceCommand internal-sftp`) unless the
    /// caller forces another command. Why: sshd runs `Subsystem sftp /usr/lib/.../sftp-server`
    /// through the login shell, and root's ~/.bashrc on this machine runs `pyenv rehash`,
    /// which waits 60 s whenever a killed session left its lock file behind. Every fault
    /// test kills sessions, so without this each later connection could cost a minute.
    static func faults(extraConfig: [String] = []) throws -> SyncLab {
        let forced = extraConfig.contains { $0.hasPrefix("ForceCommand") }
        return try SyncLab(extraConfig: forced ? extraConfig : ["ForceCommand internal-sftp"] + extraConfig)
    }
}

// MARK: - Connecting with fast keepalives

extension SyncLab {
    /// The lab target with ServerAliveInterval 1 s, ServerAliveCountMax 2 and a 5 s connect
    /// timeout: a silent server is declared gone after about 3 s.
    func fastKeepaliveTarget(port: UInt16? = nil) -> SSHTarget {
        var target = target(port: port)
        target.keepaliveInterval = .seconds(1)
        target.keepaliveCountMax = 2
        target.connectTimeout = .seconds(5)
        return target
    }

    /// An SFTP pool on a session to `target`.
    func connect(target: SSHTarget, channels: Int = 2) async throws -> SFTPClient {
        let session = try await SSHSession.connect(to: target, options: ConnectOptions(agentSocket: nil, passphrase: nil))
        do {
            return try await SFTPClient.open(on: session, channels: channels)
        } catch {
            await session.close()
            throw error
        }
    }
}

// MARK: - Mounts and attributes (root only)

enum FaultMounts {
    /// Mounts a tmpfs of `kibibytes` at `path` (an existing directory); false when not allowed.
    static func tmpfs(at path: String, kibibytes: Int) -> Bool {
        guard geteuid() == 0 else { return false }
        return (try? ProcessRunner.run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(kibibytes)k,mode=755", "tmpfs", path],
                                       timeout: 30).succeeded) ?? false
    }

    /// Remounts a mount point read-only (or read-write again).
    static func remount(_ path: String, readOnly: Bool) -> Bool {
        (try? ProcessRunner.run("/bin/mount", ["-o", readOnly ? "remount,ro" : "remount,rw", path],
                                timeout: 30).succeeded) ?? false
    }

    /// Unmounts (lazily if busy); errors are ignored, it is cleanup.
    static func unmount(_ path: String) {
        if (try? ProcessRunner.run("/bin/umount", [path], timeout: 30).succeeded) != true {
            _ = try? ProcessRunner.run("/bin/umount", ["-l", path], timeout: 30)
        }
    }

    /// Changes the size of a mounted tmpfs (to "free space" on a full one).
    static func resize(_ path: String, kibibytes: Int) -> Bool {
        (try? ProcessRunner.run("/bin/mount", ["-o", "remount,size=\(kibibytes)k", path], timeout: 30).succeeded) ?? false
    }

    /// `chattr +i` / `-i`; false when the file system or the user cannot.
    static func immutable(_ path: String, _ on: Bool) -> Bool {
        (try? ProcessRunner.run("chattr", [on ? "+i" : "-i", path], timeout: 30).succeeded) ?? false
    }
}

// MARK: - The CLI as a child to kill

extension SyncLab {
    /// Starts `muxsync ARGS` without waiting (stdout and stderr appended to `log`): the test
    /// decides when it ends, e.g. with SIGKILL.
    func spawnCLI(_ arguments: [String], log: String) throws -> ChildProcess {
        try ChildProcess.spawn(Self.muxsyncBinary, arguments, environment: cliEnvironment(),
                               stdout: .file(path: log, append: true), stderr: .file(path: log, append: true))
    }
}

extension Disk {
    /// True when some entry below `root` is a muxsync temporary or partial (".muxsync." name);
    /// reads names only, so it is cheap enough to poll.
    static func hasTemporary(under root: String) -> Bool {
        guard let names = try? names(in: root) else { return false }
        for name in names {
            if name.hasPrefix(".muxsync.") { return true }
            let path = root + "/" + name
            if let st = lstatIfExists(path), st.st_mode & S_IFMT == S_IFDIR, hasTemporary(under: path) { return true }
        }
        return false
    }

    /// Relative paths below `root` whose name ends with `suffix` (names only).
    static func names(under root: String, endingWith suffix: String, prefix: String = "") -> [String] {
        guard let entries = try? names(in: root) else { return [] }
        var found: [String] = []
        for name in entries {
            let relative = prefix.isEmpty ? name : prefix + "/" + name
            if name.hasSuffix(suffix) { found.append(relative) }
            if let st = lstatIfExists(root + "/" + name), st.st_mode & S_IFMT == S_IFDIR {
                found += names(under: root + "/" + name, endingWith: suffix, prefix: relative)
            }
        }
        return found
    }

    /// Bytes the file system allocated to a file (st_blocks x 512).
    static func allocatedBytes(_ path: String) -> Int64 {
        guard let st = lstatIfExists(path) else { return -1 }
        return Int64(st.st_blocks) * 512
    }
}

// MARK: - The CLI as another user

enum FaultUsers {
    static let nobody: uid_t = 65534
    static let nogroup: gid_t = 65534

    /// True when the tests can switch to nobody (root, setpriv present).
    static var canRunAsNobody: Bool { geteuid() == 0 && access("/usr/bin/setpriv", X_OK) == 0 }

    /// Gives `path` (recursively) to nobody.
    static func giveToNobody(_ path: String) throws {
        try ProcessRunner.run("/bin/chown", ["-R", "\(nobody):\(nogroup)", path], timeout: 60).check()
    }
}

extension SyncLab {
    /// Runs `muxsync ARGS` as user nobody (setpriv, no supplementary groups) with a HOME,
    /// ssh config, client key and known_hosts of its own. The lab root is opened to others
    /// (0755) so nobody can reach the trees below it; `-F` is added by the caller with
    /// `nobodySSHConfig()`.
    func runCLIAsNobody(_ arguments: [String], timeout: TimeInterval = 180) throws -> ProcessResult {
        let home = try nobodyHome()
        var environment = try cliEnvironment(home: home)
        environment["USER"] = "nobody"
        return try ProcessRunner.run("/usr/bin/setpriv",
                                     ["--reuid=\(FaultUsers.nobody)", "--regid=\(FaultUsers.nogroup)", "--clear-groups",
                                      Self.muxsyncBinary] + arguments,
                                     environment: environment, timeout: timeout)
    }

    /// nobody's HOME, with a copy of the client key, known_hosts and an ssh config naming
    /// them (`Host muxsync-test`, login as the lab user).
    func nobodyHome() throws -> String {
        let home = path("nobody-home")
        if Disk.exists(home + "/ssh_config") { return home }
        guard chmod(root, 0o755) == 0 else { throw DiskError(path: root, what: "chmod", code: errno) }
        try Disk.directory(home, mode: 0o700)
        try Disk.directory(home + "/state", mode: 0o700)
        try Disk.file(home + "/id", Disk.read(server.clientKeyPath), mode: 0o600)
        try Disk.file(home + "/known_hosts", Disk.read(server.knownHostsPath), mode: 0o600)
        try Disk.file(home + "/ssh_config", """
            Host \(SSHDServer.hostAlias)
              HostName 127.0.0.1
              Port \(server.port)
              User \(server.user)
              IdentityFile \(home)/id
              IdentitiesOnly yes
              UserKnownHostsFile \(home)/known_hosts
              StrictHostKeyChecking yes

            """, mode: 0o600)
        try FaultUsers.giveToNobody(home)
        return home
    }
}

// MARK: - A watch driven by a test

/// A running WatchEngine with its events collected; `stop()` cancels it.
final class FaultWatch: Sendable {
    let local: String
    let remote: String
    let events = LineSink()
    let task: Task<Void, Error>
    /// How `run()` ended, nil while it runs ("returned" or the error it threw).
    let ending = Locked<String?>(nil)

    /// `force`: overwrite remote files that changed since muxsync wrote them (no conflicts).
    init(local: String, remote: String, stateDirectory: String, force: Bool = false,
         connect: @escaping @Sendable () async throws -> SFTPClient) {
        self.local = local
        self.remote = remote
        var options = WatchOptions()
        options.pollInterval = .milliseconds(100)
        options.stateDirectory = stateDirectory
        options.reconnectDelays = [0.1, 0.2, 0.5, 1]
        options.force = force
        let sink = events
        let status = WatchStatus(mode: .plain, output: { sink.append($0) })
        let engine = WatchEngine(localRoot: local, remoteRoot: remote, options: options,
                                 filter: ExclusionFilter(root: local, excludes: []), status: status,
                                 logger: Logger(label: "fault-watch"), connect: connect)
        let ending = self.ending
        task = Task {
            do {
                try await engine.run()
                ending.withLock { $0 = "returned" }
            } catch {
                ending.withLock { $0 = "threw: \(error)" }
                throw error
            }
        }
    }

    /// nil while the watch runs; else how it ended.
    var ended: String? { ending.withLock { $0 } }

    func stop() async {
        task.cancel()
        _ = try? await task.value
    }

    /// Lines the watch printed that contain `text`.
    func count(_ text: String) -> Int { events.lines.filter { $0.contains(text) }.count }
}

/// Polls `condition` every 50 ms for up to `seconds`; true as soon as it holds.
func eventually(_ seconds: Double, _ condition: () throws -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if (try? condition()) == true { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return (try? condition()) == true
}

/// The regular files under `root` (relative path -> content), temporaries excluded.
/// Right after a cut, the server may still be running requests that arrived before it
/// (a temporary removed or renamed while the tree is walked): a walk that trips over a
/// vanished entry is taken again, a few times.
func regularFiles(under root: String) throws -> [String: Data] {
    var snapshot: TreeSnapshot?
    for attempt in 1...20 {
        do {
            snapshot = try TreeSnapshot(root)
            break
        } catch where attempt < 20 {
            usleep(100_000)
        }
    }
    var result: [String: Data] = [:]
    for (key, node) in snapshot?.nodes ?? [:] {
        guard let data = node.contents else { continue }
        if key.string.split(separator: "/").last?.hasPrefix(".muxsync.") == true { continue }
        result[key.string] = data
    }
    return result
}
