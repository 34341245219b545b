// SyncLab: the shared harness of the MuxSync integration suites. One private sshd per lab,
// scratch directories for the local and the remote side (the remote is this machine, so
// the remote tree is checked directly on disk), one-call push and pull, a proxy in front
// of sshd for cut tests, and byte-exact tree snapshots to compare both sides.

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

// MARK: - Output capture

/// Collects the lines a ProgressReporter prints (dry-run lines, warnings, errors).
final class LineSink: @unchecked Sendable {
    private let lock = NSLock()
    private var text = ""

    func append(_ chunk: String) {
        lock.lock()
        text += chunk
        lock.unlock()
    }

    /// Everything printed so far, split in lines.
    var lines: [String] {
        lock.lock()
        defer { lock.unlock() }
        return text.split(separator: "\n").map(String.init)
    }

    /// A quiet reporter that writes its lines here.
    func reporter() -> ProgressReporter {
        ProgressReporter(mode: .quiet, output: { [self] in append($0) })
    }
}

// MARK: - Lab

/// A private sshd plus a scratch directory removed when the lab goes away.
final class SyncLab: Sendable {
    let server: SSHDServer
    /// Scratch root holding every local and remote directory of the test.
    let root: String

    init(extraConfig: [String] = []) throws {
        server = try SSHDServer.start(extraConfig: extraConfig)
        root = try TemporaryDirectory.make(prefix: "muxsync-synctest-")
    }

    deinit {
        server.stop()
        TemporaryDirectory.remove(root)
    }

    /// A path under the scratch root (not created).
    func path(_ name: String) -> String { root + "/" + name }

    /// A new empty directory under the scratch root.
    func makeDirectory(_ name: String) throws -> String {
        let path = path(name)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    // MARK: Connecting

    /// The lab's sshd, or a port in front of it (a proxy registered with `makeProxy`).
    func target(port: UInt16? = nil) -> SSHTarget {
        SSHTarget(alias: "synclab", hostName: server.host, port: Int(port ?? server.port), user: server.user,
                  identityFiles: [server.clientKeyPath], identitiesOnly: true,
                  knownHostsFiles: [server.knownHostsPath], unknownHostPolicy: .refuse)
    }

    /// An SFTP pool on a new session (no agent: only the lab key counts).
    func connect(port: UInt16? = nil, channels: Int = 4) async throws -> SFTPClient {
        let session = try await SSHSession.connect(to: target(port: port),
                                                   options: ConnectOptions(agentSocket: nil, passphrase: nil))
        do {
            return try await SFTPClient.open(on: session, channels: channels)
        } catch {
            await session.close()
            throw error
        }
    }

    /// A zero-delay proxy in front of sshd whose port known_hosts trusts.
    func makeProxy() throws -> DelayProxy {
        let proxy = try DelayProxy(targetPort: server.port, delay: 0)
        try server.addHostAlias("synclab-proxy-\(proxy.port)", port: proxy.port)
        return proxy
    }

    // MARK: Jobs

    /// Connects, pushes `local` onto `remote`, closes (also when the push throws).
    func push(_ local: String, to remote: String, options: PushOptions = PushOptions(), excludes: [String] = [],
              useDefaults: Bool = true, port: UInt16? = nil, sink: LineSink = LineSink()) async throws -> PushReport {
        var options = options
        if options.stateDirectory == nil { options.stateDirectory = path("state") }
        let filter = ExclusionFilter(root: local, excludes: excludes, useDefaults: useDefaults)
        return try await withClient(port: port) { client in
            try await PushJob(localRoot: local, remoteRoot: remote, client: client, options: options,
                              isExcluded: filter.walkPredicate, progress: sink.reporter(),
                              logger: Logger(label: "synctest.push")).run()
        }
    }

    /// Connects, pulls `remote` into `local`, closes (also when the pull throws).
    func pull(_ remote: String, into local: String, options: PullOptions = PullOptions(), port: UInt16? = nil,
              sink: LineSink = LineSink()) async throws -> PullReport {
        try await withClient(port: port) { client in
            try await PullJob(remotePath: remote, localRoot: local, client: client, options: options,
                              progress: sink.reporter(), logger: Logger(label: "synctest.pull")).run()
        }
    }

    /// Connects, runs `body`, closes the session (also when `body` throws).
    private func withClient<T: Sendable>(port: UInt16?, _ body: (SFTPClient) async throws -> T) async throws -> T {
        let client = try await connect(port: port)
        do {
            let result = try await body(client)
            await client.session.close()
            return result
        } catch {
            await client.session.close()
            throw error
        }
    }

    // MARK: The CLI binary

    /// The muxsync binary built next to the test bundle (override: MUXSYNC_BINARY).
    static var muxsyncBinary: String {
        if let path = ProcessInfo.processInfo.environment["MUXSYNC_BINARY"] { return path }
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [bundle, bundle.deletingLastPathComponent(), bundle.deletingLastPathComponent().deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent("muxsync").path
            if access(path, X_OK) == 0 { return path }
        }
        return bundle.appendingPathComponent("muxsync").path
    }

    /// Runs `muxsync ARGS` in ``cliEnvironment(home:)``.
    func runCLI(_ arguments: [String], environment: [String: String]? = nil, executable: String? = nil,
                timeout: TimeInterval = 180) throws -> ProcessResult {
        try ProcessRunner.run(executable ?? Self.muxsyncBinary, arguments, environment: environment ?? cliEnvironment(),
                              timeout: timeout)
    }

    /// The environment every CLI run of the tests gets: no ssh-agent, HOME and state in the
    /// scratch root (so runs share one state directory), and no background session left
    /// behind (MUXSYNC_PERSIST=0: each run connects by itself unless a test says otherwise).
    func cliEnvironment(home: String? = nil) throws -> [String: String] {
        let home = try home ?? makeDirectory("home")
        if !FileManager.default.fileExists(atPath: home + "/state") { _ = try makeDirectory("home/state") }
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "SSH_AUTH_SOCK")
        environment["HOME"] = home
        environment["XDG_STATE_HOME"] = home + "/state"
        environment["MUXSYNC_PERSIST"] = "0"
        return environment
    }
}

// MARK: - Building trees on disk

/// Small POSIX helpers that keep names byte-exact (no Foundation path handling).
enum Disk {
    /// Writes a regular file with an exact mode and mtime (seconds).
    static func file(_ path: String, _ contents: Data, mode: mode_t = 0o644, mtime: Int64? = nil) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw DiskError(path: path, what: "create", code: errno) }
        defer { close(fd) }
        var done = 0
        while done < contents.count {
            let n = contents.withUnsafeBytes { write(fd, $0.baseAddress! + done, contents.count - done) }
            guard n > 0 else { throw DiskError(path: path, what: "write", code: errno) }
            done += n
        }
        guard fchmod(fd, mode) == 0 else { throw DiskError(path: path, what: "chmod", code: errno) }
        if let mtime { try setMtime(path, mtime) }
    }

    static func file(_ path: String, _ text: String, mode: mode_t = 0o644, mtime: Int64? = nil) throws {
        try file(path, Data(text.utf8), mode: mode, mtime: mtime)
    }

    /// mkdir with an exact mode (chmod after, so the umask does not matter).
    static func directory(_ path: String, mode: mode_t = 0o755) throws {
        guard mkdir(path, 0o700) == 0 else { throw DiskError(path: path, what: "mkdir", code: errno) }
        guard chmod(path, mode) == 0 else { throw DiskError(path: path, what: "chmod", code: errno) }
    }

    static func symlink(_ path: String, to target: String) throws {
        #if canImport(Glibc)
        let rc = Glibc.symlink(target, path)
        #else
        let rc = Darwin.symlink(target, path)
        #endif
        guard rc == 0 else { throw DiskError(path: path, what: "symlink", code: errno) }
    }

    static func fifo(_ path: String) throws {
        guard mkfifo(path, 0o644) == 0 else { throw DiskError(path: path, what: "mkfifo", code: errno) }
    }

    /// Sets mtime (and atime) to `seconds` plus `nanoseconds`, without following a symlink.
    static func setMtime(_ path: String, _ seconds: Int64, nanoseconds: Int = 0) throws {
        let time = timespec(tv_sec: time_t(seconds), tv_nsec: nanoseconds)
        var times = [time, time]
        guard utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw DiskError(path: path, what: "utimensat", code: errno)
        }
    }

    /// rm -rf (no symlink is followed).
    static func remove(_ path: String) throws {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if st.st_mode & S_IFMT == S_IFDIR {
            for name in try names(in: path) { try remove(path + "/" + name) }
            guard rmdir(path) == 0 else { throw DiskError(path: path, what: "rmdir", code: errno) }
        } else {
            guard unlink(path) == 0 else { throw DiskError(path: path, what: "unlink", code: errno) }
        }
    }

    /// The entry names of a directory, byte-exact, without "." and "..".
    static func names(in directory: String) throws -> [String] {
        guard let dir = opendir(directory) else { throw DiskError(path: directory, what: "opendir", code: errno) }
        defer { closedir(dir) }
        var result: [String] = []
        while let ent = readdir(dir) {
            let name = withUnsafePointer(to: &ent.pointee.d_name) { raw in
                String(cString: UnsafeRawPointer(raw).assumingMemoryBound(to: CChar.self))
            }
            if name.utf8.elementsEqual(".".utf8) || name.utf8.elementsEqual("..".utf8) { continue }
            result.append(name)
        }
        return result
    }

    /// lstat, nil when absent.
    static func lstatIfExists(_ path: String) -> stat? {
        var st = stat()
        return lstat(path, &st) == 0 ? st : nil
    }

    static func exists(_ path: String) -> Bool { lstatIfExists(path) != nil }

    /// Reads a whole file (following nothing but the path given).
    static func read(_ path: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: path))
    }

    /// Random bytes from the system generator.
    static func random(_ count: Int) -> Data {
        var generator = SystemRandomNumberGenerator()
        var data = Data(count: count)
        data.withUnsafeMutableBytes { raw in
            let words = raw.count / 8
            let wordPointer = raw.baseAddress!.assumingMemoryBound(to: UInt64.self)
            for i in 0..<words { wordPointer[i] = generator.next() }
            for i in (words * 8)..<raw.count { raw[i] = UInt8.random(in: 0...255, using: &generator) }
        }
        return data
    }

    /// Relative paths of every entry whose name contains ".muxsync." (temporaries, partials).
    static func temporaries(under root: String) throws -> [String] {
        try TreeSnapshot(root).nodes.keys.map(\.string).filter { path in
            path.split(separator: "/").last.map { $0.hasPrefix(".muxsync.") } ?? false
        }.sorted()
    }
}

/// A failed system call while building or reading a test tree.
struct DiskError: Error, CustomStringConvertible {
    var path: String
    var what: String
    var code: Int32
    var description: String { "\(what) \(path.debugDescription): \(String(cString: strerror(code)))" }
}

// MARK: - Snapshots

/// Everything a sync must carry for one entry, as lstat and the bytes say.
struct SnapshotNode: Equatable, CustomStringConvertible {
    enum Kind: Equatable {
        case file(Data)
        case directory
        case symlink(String)
        case other(UInt32)

        static func == (lhs: Kind, rhs: Kind) -> Bool {
            switch (lhs, rhs) {
            case let (.file(a), .file(b)): return a == b
            case (.directory, .directory): return true
            case let (.symlink(a), .symlink(b)): return a.utf8.elementsEqual(b.utf8)
            case let (.other(a), .other(b)): return a == b
            default: return false
            }
        }
    }

    var kind: Kind
    var mode: UInt32
    var mtime: Int64
    var ctime: Int64
    var ctimeNanoseconds: Int

    var isFile: Bool { if case .file = kind { return true } else { return false } }
    var isSymlink: Bool { if case .symlink = kind { return true } else { return false } }
    var isDirectory: Bool { kind == .directory }
    var contents: Data? { if case .file(let data) = kind { return data } else { return nil } }

    var description: String {
        let mode = String(self.mode, radix: 8)
        switch kind {
        case .file(let data): return "file(\(data.count) bytes, mode \(mode), mtime \(mtime))"
        case .directory: return "directory(mode \(mode), mtime \(mtime))"
        case .symlink(let target): return "symlink(-> \(target.debugDescription))"
        case .other(let type): return "special(type \(String(type, radix: 8)))"
        }
    }
}

/// An lstat walk of a directory: relative path (byte-exact keys) -> node. The root itself is
/// not included. Symlinks are recorded, never followed.
struct TreeSnapshot {
    var nodes: [BytePath: SnapshotNode] = [:]

    init(_ root: String) throws {
        try walk(root: root, relative: "")
    }

    private mutating func walk(root: String, relative: String) throws {
        let directory = relative.isEmpty ? root : root + "/" + relative
        for name in try Disk.names(in: directory) {
            let path = relative.isEmpty ? name : relative + "/" + name
            let full = root + "/" + path
            var st = stat()
            guard lstat(full, &st) == 0 else { throw DiskError(path: full, what: "lstat", code: errno) }
            let type = UInt32(st.st_mode) & UInt32(S_IFMT)
            let kind: SnapshotNode.Kind
            switch type {
            case UInt32(S_IFREG): kind = .file(try Disk.read(full))
            case UInt32(S_IFDIR): kind = .directory
            case UInt32(S_IFLNK):
                var buffer = [CChar](repeating: 0, count: 4096)
                let n = readlink(full, &buffer, buffer.count - 1)
                guard n >= 0 else { throw DiskError(path: full, what: "readlink", code: errno) }
                kind = .symlink(String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self))
            default: kind = .other(type)
            }
            #if canImport(Darwin)
            let (mtime, ctime) = (st.st_mtimespec, st.st_ctimespec)
            #else
            let (mtime, ctime) = (st.st_mtim, st.st_ctim)
            #endif
            nodes[BytePath(path)] = SnapshotNode(kind: kind, mode: UInt32(st.st_mode) & 0o7777, mtime: Int64(mtime.tv_sec),
                                                 ctime: Int64(ctime.tv_sec), ctimeNanoseconds: Int(ctime.tv_nsec))
            if type == UInt32(S_IFDIR) { try walk(root: root, relative: path) }
        }
    }

    subscript(_ path: String) -> SnapshotNode? { nodes[BytePath(path)] }

    /// Paths in tree order.
    var paths: [String] { nodes.keys.sorted().map(\.string) }

    /// The snapshot without some entries (and what lies below them).
    func removing(_ excluded: [String]) -> TreeSnapshot {
        var copy = self
        copy.nodes = nodes.filter { key, _ in !excluded.contains { ByteExact.isSameOrInside(key.string, $0) } }
        return copy
    }

    /// Differences a sync must not leave: kind, bytes, mode and mtime (seconds) of files and
    /// directories, the exact target of symlinks (their own mode and mtime are not carried).
    /// With `includeCtime`, also any change of ctime (metadata touched at all).
    func differences(from other: TreeSnapshot, includeCtime: Bool = false) -> [String] {
        var result: [String] = []
        for key in Set(nodes.keys).union(other.nodes.keys).sorted() {
            let shown = key.string.debugDescription
            guard let mine = nodes[key] else { result.append("only in other: \(shown)"); continue }
            guard let theirs = other.nodes[key] else { result.append("only in this: \(shown)"); continue }
            if mine.kind != theirs.kind {
                result.append("\(shown): \(mine) vs \(theirs)")
                continue
            }
            if !mine.isSymlink && (mine.mode != theirs.mode || mine.mtime != theirs.mtime) {
                result.append("\(shown): \(mine) vs \(theirs)")
            }
            if includeCtime && (mine.ctime != theirs.ctime || mine.ctimeNanoseconds != theirs.ctimeNanoseconds) {
                result.append("\(shown): ctime changed")
            }
        }
        return result
    }
}
