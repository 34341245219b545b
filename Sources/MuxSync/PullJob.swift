#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Logging
import MuxSFTPWire
import MuxTransport

// MARK: - pull: bring remote files back, resumable, never outside the target

/// Choices for one pull.
public struct PullOptions: Sendable {
    /// Globs selecting files (a glob without "/" matches the file name at any depth).
    public var include: [String] = []
    public var dryRun = false
    /// Files in flight at once (kept under what the server may hold open): a small file
    /// costs two round trips (OPEN; READ + CLOSE), so through 50 ms of round trip 2,000
    /// files took 10.3 s with 32 in flight, 2.8 s with 256 (three round trips each), and
    /// 1.0 s with 512, the READ and CLOSE in one flight and the fsyncs off the cooperative
    /// pool (over a kept session; docs/benchmarks.md).
    public var filesInFlight = 512
    /// A remote directory lands as LOCAL_DIR/NAME instead of filling LOCAL_DIR
    /// (project-relative pulls: the same place on both sides).
    public var directoryAsName = false
    public init() {}
}

/// What a pull did.
public struct PullReport: Sendable {
    public var filesReceived = 0
    public var filesResumed = 0
    public var filesUpToDate = 0
    /// Files a dry run would fetch.
    public var filesToFetch = 0
    public var bytesReceived: UInt64 = 0
    public var wireBytes: UInt64 = 0
    public var seconds = 0.0
    public var warnings: [String] = []
    public var failures: [String] = []

    public var summary: String {
        if filesToFetch > 0 && filesReceived == 0 && bytesReceived == 0 {
            return "dry run: would fetch \(HumanFormat.count(filesToFetch, "file")), \(filesUpToDate) up to date"
        }
        var text = "received \(HumanFormat.count(filesReceived, "file")), \(HumanFormat.bytes(bytesReceived)) "
            + "(wire \(HumanFormat.bytes(wireBytes)))"
        if filesResumed > 0 { text += ", \(filesResumed) resumed" }
        if filesUpToDate > 0 { text += ", \(filesUpToDate) up to date" }
        text += " in " + HumanFormat.duration(seconds)
        if !failures.isEmpty { text += ", \(failures.count) failed" }
        return text
    }
}

/// One pull of a remote file or tree into a local directory.
public struct PullJob: Sendable {
    public let remotePath: String
    public let localRoot: String
    public let client: SFTPClient
    public let options: PullOptions
    public let progress: ProgressReporter
    public let logger: Logger

    public init(remotePath: String, localRoot: String, client: SFTPClient, options: PullOptions,
                progress: ProgressReporter, logger: Logger) {
        self.remotePath = remotePath
        self.localRoot = localRoot
        self.client = client
        self.options = options
        self.progress = progress
        self.logger = logger
    }

    public func run() async throws -> PullReport {
        let started = ContinuousClock.now
        let wireBefore = client.session.wireStats
        guard let top = try await client.primary.statIfExists(remotePath) else { throw SyncError.remoteMissing(remotePath) }
        if top.isDirectory && options.directoryAsName {
            var nested = options
            nested.directoryAsName = false
            let root = try SafePath.join(root: localRoot, relative: RemotePath.name(remotePath))
            return try await PullJob(remotePath: remotePath, localRoot: root, client: client, options: nested,
                                     progress: progress, logger: logger).run()
        }
        var report = PullReport()

        // What to fetch: (relative path under localRoot, remote path, entry).
        var files: [(String, String, TreeEntry)] = []
        var directories: [TreeEntry] = []
        var symlinks: [TreeEntry] = []
        if top.isDirectory {
            let scan = try await RemoteScanner(client: client, root: remotePath).scan()
            report.warnings += scan.warnings
            for entry in scan.tree?.entries ?? [] {
                switch entry.kind {
                case .file where selected(entry.path): files.append((entry.path, RemotePath.join(remotePath, entry.path), entry))
                case .directory: directories.append(entry)
                case .symlink where selected(entry.path): symlinks.append(entry)
                default: continue
                }
            }
        } else {
            let name = RemotePath.name(remotePath)
            let entry = TreeEntry(path: name, kind: .file, size: top.size ?? 0, mtime: Int64(top.mtime ?? 0),
                                  permissions: top.modeBits ?? 0o644)
            files.append((name, remotePath, entry))
        }

        // Decide per file: up to date, resume, or fresh.
        var work: [(String, String, TreeEntry)] = []
        var bytesToFetch: UInt64 = 0
        for item in files {
            let target = try SafePath.join(root: localRoot, relative: item.0)
            if let existing = try LocalStat.ofPath(target), existing.isRegularFile,
               existing.size == item.2.size, existing.mtime == item.2.mtime {
                report.filesUpToDate += 1
                continue
            }
            work.append(item)
            bytesToFetch += item.2.size
        }
        if options.dryRun {
            for item in work { progress.printLine("would fetch \(item.0) (\(HumanFormat.bytes(item.2.size)))") }
            report.filesToFetch = work.count
            report.seconds = (ContinuousClock.now - started).seconds
            return report
        }

        try LocalDirectories.make(localRoot)
        let neededDirectories = Set(work.map { ByteExact.parent(of: $0.0) } + symlinks.map(\.parentPath))
        for directory in directories where neededDirectories.contains(where: { $0 == directory.path || $0.hasPrefix(directory.path + "/") }) || options.include.isEmpty {
            try SafePath.checkNoSymlinkParents(root: localRoot, relative: directory.path + "/x")
            try LocalDirectories.make(try SafePath.join(root: localRoot, relative: directory.path))
        }
        for parent in neededDirectories where !parent.isEmpty {
            try SafePath.checkNoSymlinkParents(root: localRoot, relative: parent + "/x")
            try LocalDirectories.make(try SafePath.join(root: localRoot, relative: parent))
        }

        var fetchedInto: [BytePath: [(name: String, partial: String)]] = [:]
        for item in work {
            guard let target = try? SafePath.checkedJoin(root: localRoot, relative: item.0) else { continue }
            let name = RemotePath.name(target)
            fetchedInto[BytePath(ByteExact.parent(of: target)), default: []]
                .append((name, TemporaryName.partial(for: name, size: item.2.size, mtime: item.2.mtime)))
        }
        for (directory, files) in fetchedInto { LocalLinks.removeStalePartials(in: directory.string, keeping: files) }

        progress.begin(files: work.count, bytes: bytesToFetch)
        let tally = Locked(report)
        try? await pipelined(work, window: client.filesInFlight(upTo: options.filesInFlight)) { item in
            guard !Task.isCancelled else { return }
            do {
                let resumed = try await fetch(relative: item.0, remote: item.1, entry: item.2)
                tally.withLock {
                    $0.filesReceived += 1
                    $0.bytesReceived += resumed.bytes
                    if resumed.resumed { $0.filesResumed += 1 }
                }
            } catch is CancellationError {
                return  // its partial file stays, to be resumed
            } catch {
                let line = "\(item.0): \(error)"
                tally.withLock { $0.failures.append(line) }
                progress.printLine("error: " + line)
                progress.finishFile(item.0, failed: true)
            }
        }
        // Cancelled (Ctrl-C in a client of a shared session): every file is complete under its
        // name or a partial to resume.
        try Task.checkCancellation()
        report = tally.withLock { $0 }
        for link in symlinks {
            do { try LocalLinks.place(link, under: localRoot) } catch { report.failures.append("\(link.path): \(error)") }
        }
        for directory in directories.reversed() {
            guard let path = try? SafePath.join(root: localRoot, relative: directory.path),
                  (try? LocalStat.ofPath(path))??.isDirectory == true else { continue }
            _ = chmod(path, mode_t(directory.permissions))
            LocalLinks.setMtime(path, directory.mtime)
        }
        report.wireBytes = (client.session.wireStats.bytesSent - wireBefore.bytesSent)
            + (client.session.wireStats.bytesReceived - wireBefore.bytesReceived)
        report.seconds = (ContinuousClock.now - started).seconds
        return report
    }

    private func selected(_ path: String) -> Bool {
        guard !options.include.isEmpty else { return true }
        let name = RemotePath.name(path)
        return options.include.contains { glob in
            glob.contains("/" as Character) ? fnmatch(glob, path, FNM_PATHNAME) == 0 : fnmatch(glob, name, 0) == 0
        }
    }

    // MARK: One file

    /// Downloads into a partial file named after the remote version, resuming
    /// one left by an interrupted run, then renames it into place.
    private func fetch(relative: String, remote: String, entry: TreeEntry) async throws -> (bytes: UInt64, resumed: Bool) {
        let target = try SafePath.checkedJoin(root: localRoot, relative: relative)
        let directory = ByteExact.parent(of: target)
        let name = RemotePath.name(target)
        let partialName = TemporaryName.partial(for: name, size: entry.size, mtime: entry.mtime)
        let partial = RemotePath.join(directory, partialName)

        let fd = open(partial, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let code = errno
            if LocalSpace.isFull(code) { throw LocalSpace.Full(directory: directory, partialName: partialName, kept: 0, size: entry.size) }
            throw LocalIOError(path: partial, operation: "create", errno: code)
        }
        defer { close(fd) }
        // Chunks arrive out of order, so the partial's size says nothing; the
        // side file records how far the file is complete (and durable).
        let marker = ResumeMarker(path: partial + TemporaryName.offsetSuffix, fd: fd)
        let offset = min(marker.read(), entry.size)
        let resumed = offset > 0
        // Nothing past the durable prefix is trusted: dropping it leaves a hole there, so
        // all-zero blocks need not be written (a sparse remote file stays sparse).
        guard ftruncate(fd, off_t(offset)) == 0 else { throw LocalIOError(path: partial, operation: "truncate", errno: errno) }
        progress.startFile(relative)
        progress.addBytes(offset)
        let sink = progress
        let received: UInt64
        do {
            received = try await client.download(remote, length: entry.size, from: offset, into: fd, localPath: partial,
                                                 zeroBlocksAsHoles: true,
                                                 progress: { sink.addBytes(UInt64($0)) },
                                                 watermark: { marker.advance(to: $0) })
        } catch {
            marker.flush(final: true)
            let kept = marker.read()
            if kept == 0 { unlink(partial) }  // nothing to resume from: free its space now
            if let io = error as? LocalIOError, LocalSpace.isFull(io.errno) {
                throw LocalSpace.Full(directory: directory, partialName: partialName, kept: kept, size: entry.size)
            }
            throw error
        }
        marker.remove()
        // Durable under its name: the flush waits on a thread of its own, not on the pool that
        // drives the other files' transfers.
        try await BlockingFileWork.shared.run {
            guard ftruncate(fd, off_t(entry.size)) == 0, fsync(fd) == 0 else {
                let code = errno
                unlink(partial)  // its resume marker is gone already: useless, and it may hold much space
                if LocalSpace.isFull(code) { throw LocalSpace.Full(directory: directory, partialName: partialName, kept: 0, size: entry.size) }
                throw LocalIOError(path: partial, operation: "finish", errno: code)
            }
            _ = fchmod(fd, mode_t(entry.permissions))
            var times = [timespec(tv_sec: time_t(entry.mtime), tv_nsec: 0), timespec(tv_sec: time_t(entry.mtime), tv_nsec: 0)]
            _ = futimens(fd, &times)
            guard rename(partial, target) == 0 else { throw LocalIOError(path: target, operation: "rename into", errno: errno) }
        }
        progress.finishFile(relative)
        return (received, resumed)
    }
}
